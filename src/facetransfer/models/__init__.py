"""Face-swap autoencoders: a registry of architectures (`df`, `liae`), their blocks and presets."""

from facetransfer.models import df, liae  # noqa: F401  (registers the models)
from facetransfer.models.base import SIDES, FaceSwapModel, Side
from facetransfer.models.presets import PRESETS, ModelConfig, Preset, TrainConfig, get_preset
from facetransfer.models.registry import MODELS, build_model, model_options, register_model

__all__ = [
    "MODELS",
    "PRESETS",
    "SIDES",
    "FaceSwapModel",
    "ModelConfig",
    "Preset",
    "Side",
    "TrainConfig",
    "build_model",
    "get_preset",
    "model_options",
    "register_model",
]
