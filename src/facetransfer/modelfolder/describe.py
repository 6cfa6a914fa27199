"""What `facetransfer info MODEL_DIR` reports, read from the folder's JSON files (no weights, no
PyTorch)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from facetransfer.modelfolder.checkpoints import list_checkpoints, read_latest_name, read_state
from facetransfer.modelfolder.config import (
    BEST_DIR,
    CHECKPOINTS_DIR,
    MODEL_FORMAT,
    MODEL_VERSION,
    PREVIEWS_DIR,
    STATE_NAME,
    read_config,
)


def describe_model(model_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """What `facetransfer info MODEL_DIR --json` prints: a plain dict read from the folder's JSON
    files (no weights are loaded). Raises `CheckpointError` when it is not a model folder."""
    model_dir = Path(model_dir)
    config = read_config(model_dir)
    checkpoints = list_checkpoints(model_dir)
    latest_name = read_latest_name(model_dir)
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
    is_base = config.data.get("kind") == "base"
    return {
        "kind": "base" if is_base else "model",
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
        # a base: the pool it learned; a model: the base it started from (None: from scratch)
        "pool": ({key: config.data.get(key) for key in ("faces", "sources", "pool")} if is_base else None),
        "base": config.data.get("base"),
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
