"""Face-swap autoencoders: a registry of architectures (`df`, `liae`), their blocks and presets.

The presets and configurations load without PyTorch; the names that need it (the model classes and
the registry) load on first use, so that the command line and code that only reads presets start
quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from facetransfer.models.presets import PRESETS, ModelConfig, Preset, TrainConfig, get_preset

if TYPE_CHECKING:
    from facetransfer.models.base import SIDES, FaceSwapModel, Side
    from facetransfer.models.registry import MODELS, build_model, model_options, register_model

# name -> the module under facetransfer.models that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "SIDES": "base",
    "FaceSwapModel": "base",
    "Side": "base",
    "MODELS": "registry",
    "build_model": "registry",
    "model_options": "registry",
    "register_model": "registry",
}

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


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    registry = importlib.import_module("facetransfer.models.registry")
    registry.load_builtin_models()
    value = getattr(importlib.import_module(f"facetransfer.models.{_LAZY[name]}"), name)
    globals()[name] = value
    return value
