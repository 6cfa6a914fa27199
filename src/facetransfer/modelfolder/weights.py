"""The tensors of a model folder: weights in safetensors (the architecture in their metadata), the
optimizer state, and the model rebuilt from a checkpoint (`load_model`)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from facetransfer.errors import CheckpointError, ConfigError
from facetransfer.fsutil import atomic_dir, write_json_atomic, write_text_atomic
from facetransfer.modelfolder.checkpoints import (
    TrainingState,
    fsync_file,
    latest_checkpoint,
    prune_checkpoints,
    sha256_file,
    step_dir_name,
    utc_now,
    verify_checkpoint,
)
from facetransfer.modelfolder.config import (
    BEST_DIR,
    CHECKPOINTS_DIR,
    CONFIG_NAME,
    EXTRA_STATE_NAME,
    LATEST_NAME,
    MODEL_FORMAT,
    MODEL_VERSION,
    OPTIMIZER_NAME,
    STATE_NAME,
    WEIGHTS_NAME,
    RunConfig,
    describe_architecture,
    read_config,
)
from facetransfer.models.base import FaceSwapModel
from facetransfer.models.registry import build_model


def _weights_metadata(model: FaceSwapModel) -> dict[str, str]:
    return {
        "format": MODEL_FORMAT,
        "version": str(MODEL_VERSION),
        "model": model.name,
        "config": json.dumps(model.config, sort_keys=True),
    }


def save_weights(model: FaceSwapModel, path: Path) -> None:
    """Write the model's weights (CPU, contiguous) to a safetensors file with its architecture."""
    tensors = {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
    save_file(tensors, str(path), metadata=_weights_metadata(model))


def save_checkpoint(
    model_dir: Path,
    model: FaceSwapModel,
    optimizer: torch.optim.Optimizer,
    state: TrainingState,
    keep: int = 3,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Save a complete checkpoint atomically, point `latest` at it, and keep the newest `keep`.
    `extra`: more training state (tensors in nested dicts) to save beside the optimizer's."""
    checkpoints = model_dir / CHECKPOINTS_DIR
    checkpoints.mkdir(parents=True, exist_ok=True)
    final = checkpoints / step_dir_name(state.step)
    if final.is_dir():
        # The same step was saved before (e.g. a stop right after a timed save): same weights.
        verify_checkpoint(final)
    else:
        try:
            with atomic_dir(final) as tmp:
                save_weights(model, tmp / WEIGHTS_NAME)
                torch.save(optimizer.state_dict(), tmp / OPTIMIZER_NAME)
                names = [WEIGHTS_NAME, OPTIMIZER_NAME]
                if extra is not None:
                    torch.save(dict(extra), tmp / EXTRA_STATE_NAME)
                    names.append(EXTRA_STATE_NAME)
                state.saved_utc = utc_now()
                state.files = {}
                for name in names:
                    fsync_file(tmp / name)
                    state.files[name] = sha256_file(tmp / name)
                write_json_atomic(tmp / STATE_NAME, state.to_json())
        except (OSError, SafetensorError, RuntimeError) as error:
            # a full or read-only disk (safetensors and torch raise their own errors for it); the
            # previous checkpoint is untouched
            raise CheckpointError(
                f"{model_dir}: the checkpoint of step {state.step} cannot be written ({error}); free "
                "some space or move the model folder, then resume: the last save is intact"
            ) from None
    write_text_atomic(model_dir / LATEST_NAME, final.name + "\n")
    prune_checkpoints(model_dir, keep)
    return final


def load_weights(model: FaceSwapModel, path: Path, device: str | torch.device = "cpu") -> None:
    """Load a safetensors file into `model`; `CheckpointError` when it holds another architecture."""
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (OSError, SafetensorError, ValueError) as error:
        raise CheckpointError(f"{path}: unreadable weights ({error}); use an older checkpoint") from error
    saved_name = metadata.get("model", "?")
    saved_config = json.loads(metadata.get("config", "{}"))
    if saved_name != model.name or saved_config != model.config:
        raise CheckpointError(
            f"{path}: holds a {describe_architecture(saved_name, saved_config)} model, not the "
            f"{describe_architecture(model.name, model.config)} asked for; build the model from the "
            "checkpoint (load_model) or train into a new folder"
        )
    expected = model.state_dict()
    if set(tensors) != set(expected) or any(tensors[key].shape != expected[key].shape for key in expected):
        raise CheckpointError(
            f"{path}: tensor names or shapes do not match the {model.name} model; use another checkpoint"
        )
    model.load_state_dict(tensors)


def load_checkpoint(
    checkpoint: Path,
    model: FaceSwapModel,
    optimizer: torch.optim.Optimizer | None = None,
    device: str | torch.device = "cpu",
) -> TrainingState:
    """Load weights (and optimizer state) from a checkpoint folder; returns its `TrainingState`."""
    state = verify_checkpoint(checkpoint)
    load_weights(model, checkpoint / WEIGHTS_NAME, device)
    if optimizer is not None:
        path = checkpoint / OPTIMIZER_NAME
        try:
            optimizer_state = torch.load(path, map_location=device, weights_only=True)
            optimizer.load_state_dict(optimizer_state)
        except (OSError, RuntimeError, ValueError, KeyError) as error:
            raise CheckpointError(
                f"{path}: unreadable optimizer state ({error}); use an older checkpoint"
            ) from error
    return state


def read_extra_state(checkpoint: Path, device: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The `extra` training state saved in a (verified) checkpoint; None when it has none."""
    path = checkpoint / EXTRA_STATE_NAME
    if not path.is_file():
        return None
    try:
        loaded: dict[str, Any] = torch.load(path, map_location=device, weights_only=True)
    except (OSError, RuntimeError, ValueError) as error:
        raise CheckpointError(
            f"{path}: unreadable training state ({error}); use an older checkpoint"
        ) from error
    return loaded


def load_model(
    model_dir: str | os.PathLike[str], device: str | torch.device = "cpu", which: str = "latest"
) -> tuple[FaceSwapModel, RunConfig]:
    """The trained model of a model folder, in eval mode on `device`, and the folder's config.

    `which` is "latest" (default), "best", or a checkpoint folder name such as "step_00001000".
    The architecture comes from the checkpoint itself. Call `model.swap(faces)` on float32
    (N, 3, R, R) faces in [0, 1] with R = config.model.resolution, aligned with the coverage in
    config.data["coverage"]."""
    model_dir = Path(model_dir)
    config = read_config(model_dir)
    if which == "latest":
        checkpoint = latest_checkpoint(model_dir)
    elif which == "best":
        checkpoint = model_dir / BEST_DIR
    else:
        checkpoint = model_dir / CHECKPOINTS_DIR / which
    if checkpoint is None or not (checkpoint / WEIGHTS_NAME).is_file():
        raise CheckpointError(f"{model_dir}: no usable {which} checkpoint; train the model first")
    try:
        model = build_model(config.model)
    except ConfigError as error:
        raise CheckpointError(f"{model_dir / CONFIG_NAME}: {error}") from None
    load_checkpoint(checkpoint, model, device=device)
    return model.to(device).eval(), config
