"""A small decorator registry of model architectures: `register_model`, `build_model`, `MODELS`.

A leaf: it imports no model. `facetransfer.models` fills it by importing the built-in architectures,
so any import of the package sees them registered."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from facetransfer.errors import ConfigError

if TYPE_CHECKING:
    from facetransfer.models.base import FaceSwapModel

MODELS: dict[str, type[FaceSwapModel]] = {}

ModelClass = TypeVar("ModelClass", bound="type[FaceSwapModel]")


def register_model(name: str) -> Callable[[ModelClass], ModelClass]:
    """Class decorator: make the model available to `build_model(name, ...)`."""

    def decorate(cls: ModelClass) -> ModelClass:
        if name in MODELS and MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered by {MODELS[name].__qualname__}")
        cls.name = name
        MODELS[name] = cls
        return cls

    return decorate


def model_options(name: str) -> tuple[str, ...]:
    """The option names (constructor keywords) of model `name`."""
    cls = _model_class(name)
    return tuple(p for p in inspect.signature(cls.__init__).parameters if p != "self")


def _model_class(name: str) -> type[FaceSwapModel]:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def build_model(name: str, **options: Any) -> FaceSwapModel:
    """A new model of architecture `name` with `options` (see `model_options(name)`).

    Raises `ConfigError` for an unknown name, an unknown option or an out-of-range value."""
    cls = _model_class(name)
    known = set(model_options(name))
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(
            f"model {name!r} has no option {', '.join(unknown)}; its options: {', '.join(sorted(known))}"
        )
    return cls(**options)
