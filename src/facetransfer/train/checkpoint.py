"""The model folder: configuration, crash-safe checkpoints, metrics, and what `info` reports.

Layout::

    MODEL_DIR/
      config.json                  format + version, architecture ("model"), training options
                                   ("train"), the facesets it learned ("data"), parameter count
      latest                       one line: the name of the newest complete checkpoint
      checkpoints/step_00001234/   one complete save:
        model.safetensors            the weights (no pickle), with the architecture in its metadata
        optimizer.pt                 AdamW state: plain tensors and dicts, read with weights_only=True
        state.json                   step, learning-rate scale, batch size, best held-out loss, losses,
                                     elapsed time, sha256 of the two files above
      best/                        the checkpoint with the lowest held-out reconstruction loss
      metrics.jsonl                one line per logged step
      previews/step_00001234.png   preview grids (previews/latest.png is the newest)

A checkpoint is written into a hidden temporary folder, every file fsynced, then renamed into
place; only then is `latest` replaced (also atomically). A crash at any moment leaves the previous
checkpoint intact and `latest` pointing at a complete one; `recover` removes the leftovers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from facetransfer import __version__
from facetransfer.errors import CheckpointError
from facetransfer.fsutil import atomic_dir, fsync_dir, write_json_atomic, write_text_atomic
from facetransfer.models.base import FaceSwapModel
from facetransfer.models.registry import build_model
from facetransfer.presets import ModelConfig, TrainConfig

logger = logging.getLogger(__name__)

MODEL_FORMAT = "facetransfer-model"
MODEL_VERSION = 1
CONFIG_NAME = "config.json"
LATEST_NAME = "latest"
CHECKPOINTS_DIR = "checkpoints"
BEST_DIR = "best"
METRICS_NAME = "metrics.jsonl"
PREVIEWS_DIR = "previews"
WEIGHTS_NAME = "model.safetensors"
OPTIMIZER_NAME = "optimizer.pt"
STATE_NAME = "state.json"
_STEP_DIR = re.compile(r"^step_(\d{8,})$")


@dataclass
class TrainingState:
    """What a checkpoint records besides the tensors."""

    step: int
    batch_size: int
    lr_scale: float = 1.0
    elapsed_s: float = 0.0
    best_holdout_loss: float | None = None
    best_step: int | None = None
    losses: dict[str, float] = field(default_factory=dict)
    holdout_loss: float | None = None
    requested_batch_size: int | None = None  # set when out-of-memory lowered `batch_size` below it
    saved_utc: str = ""
    tool_version: str = __version__
    files: dict[str, str] = field(default_factory=dict)  # name -> sha256

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> TrainingState:
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in payload.items() if key in known})


@dataclass
class RunConfig:
    """The whole configuration of a model folder (`config.json`)."""

    model: ModelConfig
    train: TrainConfig
    data: dict[str, Any] = field(default_factory=dict)
    parameters: int = 0

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


# --- small helpers ----------------------------------------------------------------------------
def step_dir_name(step: int) -> str:
    return f"step_{step:08d}"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def is_model_dir(model_dir: str | os.PathLike[str]) -> bool:
    return (Path(model_dir) / CONFIG_NAME).is_file()


def describe_architecture(name: str, config: dict[str, Any]) -> str:
    """One-line summary, e.g. ``liae 128 px, bottleneck 256, encoder 64, decoder 64, mask 22``."""
    options = ", ".join(
        f"{key.replace('_width', '').replace('_', ' ')} {value}"
        for key, value in config.items()
        if key != "resolution"
    )
    return f"{name} {config.get('resolution')} px, {options}"


# --- config.json ------------------------------------------------------------------------------
def write_config(model_dir: Path, config: RunConfig) -> None:
    write_json_atomic(model_dir / CONFIG_NAME, config.to_json())


def read_config(model_dir: str | os.PathLike[str]) -> RunConfig:
    """The model folder's `config.json`; `CheckpointError` when missing, unreadable or too new."""
    path = Path(model_dir) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(
            f"{model_dir}: not a model folder (no {CONFIG_NAME}); train one with `facetransfer train`"
        )
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(
            f"{path}: unreadable ({error}); restore it from a backup of the model folder"
        ) from error
    if payload.get("format") != MODEL_FORMAT:
        raise CheckpointError(f"{path}: format {payload.get('format')!r} is not {MODEL_FORMAT!r}")
    if int(payload.get("version", -1)) > MODEL_VERSION:
        raise CheckpointError(
            f"{path}: model folder version {payload.get('version')} is newer than this tool reads "
            f"({MODEL_VERSION}); upgrade facetransfer"
        )
    try:
        return RunConfig.from_json(payload)
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: malformed configuration ({error})") from error


# --- writing checkpoints ----------------------------------------------------------------------
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
) -> Path:
    """Save a complete checkpoint atomically, point `latest` at it, and keep the newest `keep`."""
    checkpoints = model_dir / CHECKPOINTS_DIR
    checkpoints.mkdir(parents=True, exist_ok=True)
    final = checkpoints / step_dir_name(state.step)
    if final.is_dir():
        # The same step was saved before (e.g. a stop right after a timed save): same weights.
        verify_checkpoint(final)
    else:
        with atomic_dir(final) as tmp:
            save_weights(model, tmp / WEIGHTS_NAME)
            torch.save(optimizer.state_dict(), tmp / OPTIMIZER_NAME)
            state.saved_utc = utc_now()
            state.files = {}
            for name in (WEIGHTS_NAME, OPTIMIZER_NAME):
                _fsync_file(tmp / name)
                state.files[name] = sha256_file(tmp / name)
            write_json_atomic(tmp / STATE_NAME, state.to_json())
    write_text_atomic(model_dir / LATEST_NAME, final.name + "\n")
    prune_checkpoints(model_dir, keep)
    return final


def prune_checkpoints(model_dir: Path, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints (never the one `latest` names)."""
    latest = _read_latest_name(model_dir)
    steps = list_checkpoints(model_dir)
    for path in steps[: max(0, len(steps) - keep)]:
        if path.name != latest:
            shutil.rmtree(path, ignore_errors=True)


def update_best(model_dir: Path, checkpoint: Path) -> None:
    """Make `best/` a copy of `checkpoint` (hard links: checkpoint files are never rewritten)."""
    with atomic_dir(model_dir / BEST_DIR, overwrite=True) as tmp:
        for entry in checkpoint.iterdir():
            try:
                os.link(entry, tmp / entry.name)
            except OSError:
                shutil.copy2(entry, tmp / entry.name)
        (tmp / "source").write_text(checkpoint.name + "\n", encoding="utf-8")
        _fsync_file(tmp / "source")


def recover(model_dir: Path) -> list[str]:
    """Clean up after a crash: remove half-written temporary folders and files, and put back a
    `best/` that a crash left renamed aside. Returns what was done (for a log line)."""
    actions: list[str] = []
    best = model_dir / BEST_DIR
    old_best = model_dir / f".{BEST_DIR}.old"
    if old_best.is_dir():
        if best.is_dir():
            shutil.rmtree(old_best, ignore_errors=True)
        else:
            os.replace(old_best, best)
            actions.append("restored best/")
    for folder in (model_dir, model_dir / CHECKPOINTS_DIR, model_dir / PREVIEWS_DIR):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                actions.append(f"removed unfinished {entry.relative_to(model_dir)}")
    if actions:
        fsync_dir(model_dir)
    return actions


# --- reading checkpoints ----------------------------------------------------------------------
def list_checkpoints(model_dir: Path) -> list[Path]:
    """Checkpoint folders, oldest first (complete ones only: temporary folders are hidden)."""
    folder = Path(model_dir) / CHECKPOINTS_DIR
    if not folder.is_dir():
        return []
    found = [
        (int(match.group(1)), entry) for entry in folder.iterdir() if (match := _STEP_DIR.match(entry.name))
    ]
    return [path for _step, path in sorted(found)]


def _read_latest_name(model_dir: Path) -> str | None:
    try:
        return (Path(model_dir) / LATEST_NAME).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def read_state(checkpoint: Path) -> TrainingState:
    path = checkpoint / STATE_NAME
    try:
        return TrainingState.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, TypeError) as error:
        raise CheckpointError(
            f"{path}: unreadable checkpoint state ({error}); use an older checkpoint"
        ) from error


def verify_checkpoint(checkpoint: Path) -> TrainingState:
    """The checkpoint's state after checking that its files are present and match their sha256."""
    state = read_state(checkpoint)
    for name in (WEIGHTS_NAME, OPTIMIZER_NAME):
        path = checkpoint / name
        if not path.is_file():
            raise CheckpointError(f"{path}: missing; the checkpoint is incomplete, use an older one")
        expected = state.files.get(name)
        if expected and sha256_file(path) != expected:
            raise CheckpointError(
                f"{path}: contents do not match the checksum in {STATE_NAME}; use an older checkpoint"
            )
    return state


def latest_checkpoint(model_dir: str | os.PathLike[str]) -> Path | None:
    """The checkpoint `latest` names, or (if that one is missing or damaged) the newest one that
    verifies; None when the folder has no usable checkpoint."""
    model_dir = Path(model_dir)
    name = _read_latest_name(model_dir)
    if name:
        candidate = model_dir / CHECKPOINTS_DIR / name
        try:
            verify_checkpoint(candidate)
            return candidate
        except CheckpointError as error:
            logger.warning("%s; looking for an older checkpoint", error)
    for candidate in reversed(list_checkpoints(model_dir)):
        try:
            verify_checkpoint(candidate)
            return candidate
        except CheckpointError as error:
            logger.warning("%s", error)
    return None


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
    model = build_model(config.model.name, **config.model.options())
    load_checkpoint(checkpoint, model, device=device)
    return model.to(device).eval(), config


# --- metrics ----------------------------------------------------------------------------------
def append_metrics(model_dir: Path, records: list[dict[str, Any]]) -> None:
    """Append JSON lines to metrics.jsonl in one write (a kill leaves whole lines or none)."""
    if not records:
        return
    data = "".join(json.dumps(record, sort_keys=False) + "\n" for record in records).encode("utf-8")
    fd = os.open(model_dir / METRICS_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_metrics(model_dir: Path) -> list[dict[str, Any]]:
    path = Path(model_dir) / METRICS_NAME
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def truncate_metrics(model_dir: Path, step: int) -> None:
    """Keep only whole metric lines up to `step`: a resumed run repeats the steps after its checkpoint."""
    path = model_dir / METRICS_NAME
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = []
    for line in lines:
        try:
            if int(json.loads(line).get("step", 0)) <= step:
                kept.append(line)
        except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
            continue
    if len(kept) != len(lines) or (lines and not path.read_bytes().endswith(b"\n")):
        write_text_atomic(path, "".join(line + "\n" for line in kept))


# --- info ---------------------------------------------------------------------------------------
def describe_model(model_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """What `facetransfer info MODEL_DIR --json` prints: a plain dict read from the folder's JSON
    files (no weights are loaded). Raises `CheckpointError` when it is not a model folder."""
    model_dir = Path(model_dir)
    config = read_config(model_dir)
    checkpoints = list_checkpoints(model_dir)
    latest_name = _read_latest_name(model_dir)
    latest = model_dir / CHECKPOINTS_DIR / latest_name if latest_name else None
    if latest is None or not (latest / STATE_NAME).is_file():
        latest = checkpoints[-1] if checkpoints else None
    state = read_state(latest) if latest is not None else None
    best: dict[str, Any] | None = None
    if (model_dir / BEST_DIR / STATE_NAME).is_file():
        best_state = read_state(model_dir / BEST_DIR)
        best = {"step": best_state.step, "holdout_loss": best_state.holdout_loss}
    previews = (
        sorted((model_dir / PREVIEWS_DIR).glob("step_*.png")) if (model_dir / PREVIEWS_DIR).is_dir() else []
    )
    return {
        "kind": "model",
        "path": str(model_dir),
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "model": config.model.name,
        "resolution": config.model.resolution,
        "step": state.step if state else 0,
        "architecture": config.model.to_json(),
        "parameters": config.parameters,
        "coverage": config.data.get("coverage"),
        "facesets": {side: config.data.get(side) for side in ("source", "target")},
        "train": config.train.to_json(),
        "latest_checkpoint": latest.name if latest else None,
        "checkpoints": [path.name for path in checkpoints],
        "best": best,
        "batch_size": state.batch_size if state else config.train.batch_size,
        "learning_rate_scale": state.lr_scale if state else 1.0,
        "elapsed_s": state.elapsed_s if state else 0.0,
        "losses": state.losses if state else {},
        "saved_utc": state.saved_utc if state else None,
        "latest_preview": str(previews[-1]) if previews else None,
    }
