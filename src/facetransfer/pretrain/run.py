"""`pretrain(inputs, base_dir, config)`: pool the faces of many people, then train a base on them.

A base folder is a model folder whose two sides both learned the pool (DeepFaceLab calls this
pretraining): both decoders see random generic faces, flipped half the time, without random warp,
drawn evenly over head yaw. The pool is kept in the folder (`BASE_DIR/pool/`, a faceset) so that a
rerun resumes training without extracting again. `config.json`'s `data` says `"kind": "base"` and
names the pool's sources and face count.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from facetransfer.errors import ConfigError
from facetransfer.extract.config import ExtractConfig
from facetransfer.faceset.io import is_faceset, open_faceset
from facetransfer.modelfolder.config import RunConfig, is_model_dir, read_config
from facetransfer.pretrain.pool import Progress, pool_faces
from facetransfer.safety import check_not_input
from facetransfer.train.loop import TrainResult, resolve_config, train

logger = logging.getLogger(__name__)

POOL_DIR = "pool"
POOL_CROP_SIZE = 128
PRETRAIN_RECIPE: dict[str, Any] = {
    "train.augment.flip": True,
    "train.augment.random_warp": False,
    "train.balance_yaw": True,
    "train.sharpen_fraction": 0.0,  # (its budget grows from run to run; random warp is off anyway)
    "train.base": "none",
}
"""What pretraining changes in a preset's training options (a user's own values win)."""


def is_base_dir(path: str | os.PathLike[str]) -> bool:
    return is_model_dir(path) and read_config(path).data.get("kind") == "base"


def resolve_pretrain_config(
    base_dir: str | os.PathLike[str], preset: str | None, values: Mapping[str, Any] | None = None
) -> RunConfig:
    """The configuration of a pretraining run: the saved one when `base_dir` holds a base, else the
    preset's with the pretraining recipe; `values` (`section.path` keys) on top."""
    if is_model_dir(base_dir) and not is_base_dir(base_dir):
        raise ConfigError(f"{base_dir}: holds a pair model, not a base; choose a new folder for the base")
    if not is_model_dir(base_dir):
        values = {**PRETRAIN_RECIPE, **(values or {})}
    return resolve_config(base_dir, preset, values=values)


def pretrain(
    inputs: Sequence[str | os.PathLike[str]],
    base_dir: str | os.PathLike[str],
    config: RunConfig,
    extract: ExtractConfig | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Pool the faces of `inputs` into `base_dir/pool` (once; a rerun reuses it) and train (or resume)
    the base in `base_dir`. See the module docstring."""
    base_dir = Path(base_dir)
    pool = base_dir / POOL_DIR
    if not is_faceset(pool):
        if base_dir.exists() and any(base_dir.iterdir()):
            raise ConfigError(
                f"{base_dir}: exists, is not empty and is not a base folder; choose a new folder"
            )
        check_not_input(base_dir, list(inputs), "base folder")
        extract = extract or ExtractConfig(
            crop_size=max(POOL_CROP_SIZE, config.model.resolution), image_format="jpg"
        )
        logger.info("pooling the faces of %d input(s) into %s", len(inputs), pool)
        pool_faces(inputs, pool, extract, progress=progress)
    elif inputs:
        logger.info("%s: using the pool made before; the inputs are not read again", pool)
    manifest = open_faceset(pool).manifest
    description = {
        "kind": "base",
        "faces": int(manifest.counts.get("faces", 0)),
        "sources": [
            name
            for source in manifest.sources
            for name in source.get("sources") or [str(source.get("path", ""))]
        ],
        "pool": POOL_DIR,
    }
    return train(pool, pool, base_dir, config, description=description, own_entries=frozenset({POOL_DIR}))


__all__ = ["POOL_DIR", "PRETRAIN_RECIPE", "is_base_dir", "pretrain", "resolve_pretrain_config"]
