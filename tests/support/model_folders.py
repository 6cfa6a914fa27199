"""Model folders with freshly built (untrained) models, for tests of what reads a model folder."""

from __future__ import annotations

from pathlib import Path


def make_model_folder(folder: Path, architecture: str = "df", coverage: str = "full", seed: int = 0) -> Path:
    """A model folder holding one checkpoint (step 1) of the `tiny` preset's model, built as
    `architecture` (df or liae) with weights from `seed`."""
    import torch

    from facetransfer.modelfolder.checkpoints import TrainingState
    from facetransfer.modelfolder.config import RunConfig, write_config
    from facetransfer.modelfolder.weights import save_checkpoint
    from facetransfer.models import build_model
    from facetransfer.presets import get_preset, with_options

    torch.manual_seed(seed)
    preset = get_preset("tiny")
    model_config = with_options(preset.model, name=architecture)
    model = build_model(model_config)
    folder.mkdir(parents=True, exist_ok=True)
    write_config(folder, RunConfig(model=model_config, train=preset.train, data={"coverage": coverage}))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    save_checkpoint(folder, model, optimizer, TrainingState(step=1, batch_size=8))
    return folder
