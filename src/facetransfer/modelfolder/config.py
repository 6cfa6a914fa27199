"""`config.json` of a model folder: the architecture, the training options, the facesets it learned,
and the names of the folder's files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facetransfer import __version__
from facetransfer.errors import CheckpointError, ConfigError
from facetransfer.formats import read_versioned_json
from facetransfer.fsutil import write_json_atomic
from facetransfer.presets import ModelConfig, TrainConfig
from facetransfer.safety import has_json_format

MODEL_FORMAT = "facetransfer-model"
MODEL_VERSION = 2
"""2: the training options nest the augmentation (`augment`) and the loss weights (`loss`); a version 1
folder (flat) reads, and is written as version 2 by its next training run."""
CONFIG_NAME = "config.json"
LATEST_NAME = "latest"
CHECKPOINTS_DIR = "checkpoints"
BEST_DIR = "best"
METRICS_NAME = "metrics.jsonl"
PREVIEWS_DIR = "previews"
WEIGHTS_NAME = "model.safetensors"
OPTIMIZER_NAME = "optimizer.pt"
EXTRA_STATE_NAME = "extra_state.pt"
"""Training state beside the model's (the patch-GAN's discriminator), in checkpoints that have it."""
STATE_NAME = "state.json"


@dataclass
class RunConfig:
    """The whole configuration of a model folder (`config.json`)."""

    model: ModelConfig
    train: TrainConfig
    data: dict[str, Any] = field(default_factory=dict)
    parameters: int = 0
    base: Any = None
    """A new model's `modelfolder.bases.BaseSource` (not stored: `data["base"]` records what was used)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "tool_version": __version__,
            "model": self.model.to_json(),
            "train": self.train.to_json(),
            "data": self.data,
            "parameters": self.parameters,
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> RunConfig:
        return cls(
            model=ModelConfig.from_json(payload["model"]),
            train=TrainConfig.from_json(payload.get("train", {})),
            data=dict(payload.get("data", {})),
            parameters=int(payload.get("parameters", 0)),
        )


def is_model_dir(model_dir: str | os.PathLike[str]) -> bool:
    """A folder with a model config (the marker that lets the tool resume or replace it)."""
    return has_json_format(Path(model_dir) / CONFIG_NAME, MODEL_FORMAT)


def describe_architecture(name: str, config: dict[str, Any]) -> str:
    """One-line summary, e.g. ``liae 128 px, bottleneck 256, encoder 64, decoder 64, mask 22``."""
    options = ", ".join(
        f"{key.replace('_width', '').replace('_', ' ')} {value}"
        for key, value in config.items()
        if key != "resolution"
    )
    return f"{name} {config.get('resolution')} px, {options}"


def write_config(model_dir: Path, config: RunConfig) -> None:
    write_json_atomic(model_dir / CONFIG_NAME, config.to_json())


def read_config(model_dir: str | os.PathLike[str]) -> RunConfig:
    """The model folder's `config.json`; `CheckpointError` when missing, unreadable or too new."""
    path = Path(model_dir) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(
            f"{model_dir}: not a model folder (no {CONFIG_NAME}); train one with `facetransfer train`"
        )
    payload = read_versioned_json(
        path, MODEL_FORMAT, MODEL_VERSION, CheckpointError, "restore it from a backup of the model folder"
    )
    try:
        config = RunConfig.from_json(payload)
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as error:
        raise CheckpointError(
            f"{path}: malformed configuration ({error}); restore it from a backup of the model folder"
        ) from None
    return config
