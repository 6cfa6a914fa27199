"""Training: data, augmentation, losses, the loop, previews and the step timing. The model folder it
writes is `facetransfer.modelfolder`; `RunConfig`, `TrainingState`, `load_model` and `describe_model`
are re-exported here for convenience.

Public API::

    train(source_faceset, target_faceset, model_dir, config) -> TrainResult
    resolve_config(model_dir, preset, model_options, train_options) -> RunConfig
    load_model(model_dir, device="cpu", which="latest") -> (FaceSwapModel, RunConfig)
    describe_model(model_dir) -> dict
"""

from facetransfer.modelfolder.checkpoints import TrainingState
from facetransfer.modelfolder.config import RunConfig
from facetransfer.modelfolder.describe import describe_model
from facetransfer.modelfolder.weights import load_model
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
