"""The checkpoint folders of a model folder: listing, `latest`, `best/`, the checksummed `state.json`,
pruning, and clean-up after a crash. Plain files only: the tensors are `weights`'s business.

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

from facetransfer import __version__
from facetransfer.errors import CheckpointError
from facetransfer.fsutil import atomic_dir, fsync_dir
from facetransfer.modelfolder.config import (
    BEST_DIR,
    CHECKPOINTS_DIR,
    LATEST_NAME,
    OPTIMIZER_NAME,
    PREVIEWS_DIR,
    STATE_NAME,
    WEIGHTS_NAME,
)

logger = logging.getLogger(__name__)

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


def fsync_file(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def list_checkpoints(model_dir: Path) -> list[Path]:
    """Checkpoint folders, oldest first (complete ones only: temporary folders are hidden)."""
    folder = Path(model_dir) / CHECKPOINTS_DIR
    if not folder.is_dir():
        return []
    found = [
        (int(match.group(1)), entry) for entry in folder.iterdir() if (match := _STEP_DIR.match(entry.name))
    ]
    return [path for _step, path in sorted(found)]


def read_latest_name(model_dir: Path) -> str | None:
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
    for name in dict.fromkeys((WEIGHTS_NAME, OPTIMIZER_NAME, *state.files)):
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
    name = read_latest_name(model_dir)
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


def prune_checkpoints(model_dir: Path, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints (never the one `latest` names)."""
    latest = read_latest_name(model_dir)
    steps = list_checkpoints(model_dir)
    for path in steps[: max(0, len(steps) - keep)]:
        if path.name != latest:
            # hidden first, then deleted: a kill in the middle of the deletion leaves a temporary
            # (removed by `recover`), never a visible checkpoint with half its files
            doomed = path.with_name(f".{path.name}.{os.getpid()}.pruned.tmp")
            os.replace(path, doomed)
            shutil.rmtree(doomed, ignore_errors=True)


def update_best(model_dir: Path, checkpoint: Path) -> None:
    """Make `best/` a copy of `checkpoint` (hard links: checkpoint files are never rewritten)."""
    with atomic_dir(model_dir / BEST_DIR, overwrite=True) as tmp:
        for entry in checkpoint.iterdir():
            try:
                os.link(entry, tmp / entry.name)
            except OSError:
                shutil.copy2(entry, tmp / entry.name)
        (tmp / "source").write_text(checkpoint.name + "\n", encoding="utf-8")
        fsync_file(tmp / "source")


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
