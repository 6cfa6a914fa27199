"""Training: data, augmentation, losses, the loop, checkpoints and previews.

Public API::

    train(source_faceset, target_faceset, model_dir, config) -> TrainResult
    resolve_config(model_dir, preset, model_options, train_options) -> RunConfig
    load_model(model_dir, device="cpu", which="latest") -> (FaceSwapModel, RunConfig)
    describe_model(model_dir) -> dict
"""

from facetransfer.train.checkpoint import RunConfig, TrainingState, describe_model, load_model
from facetransfer.train.loop import TrainResult, resolve_config, train

__all__ = [
    "RunConfig",
    "TrainResult",
    "TrainingState",
    "describe_model",
    "load_model",
    "resolve_config",
    "train",
]
