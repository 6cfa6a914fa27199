"""The model folder: what `train` writes and `convert` reads; its format is shared by both stages.

Layout::

    MODEL_DIR/
      config.json                  format + version, architecture ("model"), training options
                                   ("train"), the facesets it learned ("data"), parameter count
      latest                       one line: the name of the newest complete checkpoint
      checkpoints/step_00001234/   one complete save:
        model.safetensors            the weights (no pickle), with the architecture in its metadata
        optimizer.pt                 AdamW state: plain tensors and dicts, read with weights_only=True
        state.json                   step, learning-rate scale, batch size, best held-out loss, losses,
                                     elapsed time, sha256 of the two files above
      best/                        the checkpoint with the lowest held-out reconstruction loss
      metrics.jsonl                one line per logged step
      previews/step_00001234.png   preview grids (previews/latest.png is the newest)

Modules: `config` (config.json: `RunConfig`, `read_config`, `is_model_dir`), `checkpoints` (the
checkpoint folders, `latest` and `best/`, written crash-safe: `TrainingState`, `latest_checkpoint`,
`read_state`, `verify_checkpoint`, `recover`), `weights` (the tensors: `save_checkpoint`,
`load_checkpoint`, `load_model`), `metrics` (metrics.jsonl) and `describe` (`describe_model`, what
`info` prints). Only `weights` loads PyTorch, so `info` starts without it; this package imports
none of them.
"""
