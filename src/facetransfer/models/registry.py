"""A small decorator registry of model architectures: `register_model`, `build_model`, `MODELS`.

A leaf: it imports no model. `facetransfer.models` fills it by importing the built-in architectures,
so any import of the package sees them registered."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from facetransfer.errors import ConfigError

if TYPE_CHECKING:
    from facetransfer.models.base import FaceSwapModel
    from facetransfer.presets import ModelConfig

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


def check_name(name: str) -> None:
    """`ConfigError` naming the registered architectures when `name` is not one of them."""
    if name not in MODELS:
        raise ConfigError(
            f"--architecture {name!r}: no such model; choose one of: {', '.join(sorted(MODELS))}"
        )


def build_model(config: ModelConfig) -> FaceSwapModel:
    """A new model of the architecture `config.name`, built from `config` (checked when it was made).

    Raises `ConfigError` for a name no architecture is registered under."""
    check_name(config.name)
    return MODELS[config.name](config)
