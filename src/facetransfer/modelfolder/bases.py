"""Bases: the weights a new model starts from instead of random ones.

A base is either a *pretrained base* (a model whose two sides both learned a pool of many people's
faces: `facetransfer pretrain`) or a *pair model* trained before (its source person reused for a new
target). It is named by `--base`:

* `auto`: the shipped base of the model's preset (`facetransfer/data/bases/<preset>.safetensors`),
  or from scratch when the preset has none;
* `none`: from scratch;
* a model folder (its latest checkpoint: a pretrained base or a pair model);
* a base file (`.safetensors` written by `export_base`: the weights, fp16, with the architecture and
  what the base learned in its metadata).

Which parts of the base a new model keeps is the architecture's (`FaceSwapModel.BASE_REINITIALISED`
names the parts that start afresh from a pretrained base; a pair model keeps everything). The new
model's `config.json` records its base: name, kind, sha256 of the weights file, step, kept and
re-initialised parts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from facetransfer import __version__
from facetransfer.errors import CheckpointError, ConfigError
from facetransfer.fsutil import atomic_path
from facetransfer.modelfolder.checkpoints import latest_checkpoint, read_state, sha256_file
from facetransfer.modelfolder.config import (
    BEST_DIR,
    WEIGHTS_NAME,
    describe_architecture,
    is_model_dir,
    read_config,
)
from facetransfer.models.base import FaceSwapModel
from facetransfer.presets import ModelConfig

BASE_FORMAT = "facetransfer-base"
BASE_VERSION = 1
BaseKind = Literal["base", "pair"]
NO_BASE = ("none", "")
AUTO_BASE = "auto"


@dataclass(frozen=True)
class BaseSource:
    """A base found on disk: where its weights are and what they are."""

    name: str
    weights: Path
    kind: BaseKind
    model: ModelConfig
    step: int
    coverage: str | None
    faces: int | None
    shipped: bool = False

    def describe(self) -> str:
        what = "pretrained base" if self.kind == "base" else "pair model"
        faces = f", {self.faces:,} faces" if self.faces else ""
        return f"{what} {self.name} (step {self.step}{faces})"


def shipped_base_path(preset: str) -> Path | None:
    """The base file shipped for `preset`, or None when the package has none."""
    path = Path(str(resources.files("facetransfer") / "data" / "bases" / f"{preset}.safetensors"))
    return path if path.is_file() else None


def resolve_base(spec: str, preset: str | None) -> BaseSource | None:
    """The base `spec` names (see the module docstring); None for none, or for auto without a shipped
    base. `CheckpointError` (one line) for a base that is missing, truncated or not a base."""
    if spec in NO_BASE:
        return None
    if spec == AUTO_BASE:
        path = shipped_base_path(preset) if preset else None
        return read_base_file(path, shipped=True) if path else None
    path = Path(spec)
    if path.is_dir():
        if not is_model_dir(path):
            raise CheckpointError(f"{path}: not a model or base folder (no config.json); name a base")
        return read_base_folder(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such base; name a base folder or file, auto or none")
    return read_base_file(path)


def read_base_folder(folder: Path, best: bool = False) -> BaseSource:
    """The base that a model folder is: its latest checkpoint (with `best`, its best one)."""
    config = read_config(folder)
    checkpoint = folder / BEST_DIR if best else latest_checkpoint(folder)
    if checkpoint is None or not (checkpoint / WEIGHTS_NAME).is_file():
        raise CheckpointError(f"{folder}: has no saved checkpoint to start from; train it first")
    state = read_state(checkpoint)
    kind: BaseKind = "base" if config.data.get("kind") == "base" else "pair"
    faces = config.data.get("faces") if kind == "base" else config.data.get("source_faces")
    return BaseSource(
        name=folder.name,
        weights=checkpoint / WEIGHTS_NAME,
        kind=kind,
        model=config.model,
        step=state.step,
        coverage=config.data.get("coverage"),
        faces=int(faces) if isinstance(faces, int) else None,
    )


def read_base_file(path: Path, shipped: bool = False) -> BaseSource:
    """A base file's description, from its metadata (the tensors are not read)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (OSError, SafetensorError, ValueError) as error:
        raise CheckpointError(
            f"{path}: not a readable base file ({error}); name a base written by `facetransfer pretrain`"
        ) from None
    if metadata.get("format") != BASE_FORMAT:
        raise CheckpointError(f"{path}: not a facetransfer base file; name a base folder or file")
    if int(metadata.get("version", "0")) > BASE_VERSION:
        raise CheckpointError(f"{path}: written by a newer facetransfer; update facetransfer to use it")
    try:
        model = ModelConfig.from_json(json.loads(metadata["model"]))
        step = int(metadata["step"])
        faces = int(metadata["faces"]) if metadata.get("faces") else None
    except (KeyError, ValueError, TypeError, ConfigError) as error:
        raise CheckpointError(f"{path}: malformed base metadata ({error}); use another base") from None
    kind: BaseKind = "pair" if metadata.get("kind") == "pair" else "base"
    return BaseSource(
        name=metadata.get("name") or path.stem,
        weights=path,
        kind=kind,
        model=model,
        step=step,
        coverage=metadata.get("coverage") or None,
        faces=faces,
        shipped=shipped,
    )


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (OSError, SafetensorError, ValueError) as error:
        raise CheckpointError(
            f"{path}: the base's weights cannot be read ({error}); use another base"
        ) from None


def apply_base(model: FaceSwapModel, base: BaseSource) -> dict[str, Any]:
    """Copy the base's weights into a freshly built `model`: every part for a pair model, every part
    but the architecture's `BASE_REINITIALISED` ones for a pretrained base (those keep their new
    random weights). Returns the record for the model's `config.json`."""
    if base.model != model.model_config:
        raise ConfigError(
            f"{base.weights}: the base is {describe_architecture(base.model.name, base.model.options())}, "
            f"the model {describe_architecture(model.name, model.config)}; drop the architecture options"
        )
    tensors = _read_tensors(base.weights)
    expected = model.state_dict()
    if set(tensors) != set(expected) or any(tensors[key].shape != expected[key].shape for key in expected):
        raise CheckpointError(
            f"{base.weights}: tensor names or shapes do not match a {model.name} model; the base is damaged"
        )
    reinitialised = () if base.kind == "pair" else type(model).BASE_REINITIALISED
    kept = [name for name in model.parts() if name not in reinitialised]
    state = dict(expected)
    for name in kept:
        prefix = f"{name}."
        for key in expected:
            if key.startswith(prefix):
                state[key] = tensors[key].to(dtype=expected[key].dtype)
    model.load_state_dict(state)
    return {
        "name": base.name,
        "kind": base.kind,
        "path": "(shipped)" if base.shipped else str(base.weights.resolve()),
        "sha256": sha256_file(base.weights),
        "step": base.step,
        "faces": base.faces,
        "kept": kept,
        "reinitialised": list(reinitialised),
    }


def export_base(model_dir: str | os.PathLike[str], output: str | os.PathLike[str], fp16: bool = True) -> Path:
    """Write the best checkpoint (lowest held-out loss) of a base (or pair) model folder as one base
    file (fp16 by default), with the architecture and what it learned in its metadata. Written
    atomically."""
    source = read_base_folder(Path(model_dir), best=True)
    config = read_config(model_dir)
    tensors = _read_tensors(source.weights)
    if fp16:
        tensors = {
            key: value.half() if value.is_floating_point() else value for key, value in tensors.items()
        }
    metadata = {
        "format": BASE_FORMAT,
        "version": str(BASE_VERSION),
        "name": Path(model_dir).name,
        "kind": source.kind,
        "model": json.dumps(source.model.to_json(), sort_keys=True),
        "step": str(source.step),
        "faces": str(source.faces or ""),
        "coverage": source.coverage or "",
        "sources": json.dumps(config.data.get("sources", [])),
        "tool_version": __version__,
    }
    output = Path(output)
    with atomic_path(output, suffix=".safetensors") as temporary:
        save_file(
            {key: value.contiguous() for key, value in tensors.items()}, str(temporary), metadata=metadata
        )
    return output
