"""`mask_faceset`: (re)make the stored masks of a faceset, optionally through a mask model fitted on
the faces a user painted (DeepFaceLab's XSeg workflow, see `maskmodel`).

The new `masks/` folder is written beside the old one and swapped in whole, then the manifest says how
it was made; `user_masks/` (the user's) is only read. Painted masks are checked before anything is
written, so a bad file costs nothing.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facetransfer.errors import FacesetError
from facetransfer.faces.maskmethods import automatic_mask, encode_mask, masks_entry
from facetransfer.faces.masks import face_hull_mask
from facetransfer.faceset.io import MASKS_DIR, Faceset, is_faceset, mask_file_name, open_faceset
from facetransfer.faceset.maskconfig import MaskConfig
from facetransfer.faceset.masks import read_painted_masks, stray_user_masks
from facetransfer.fsutil import fsync_dir, write_json_atomic

logger = logging.getLogger(__name__)

MIN_PAINTED_TO_TRAIN = 1


@dataclass
class MaskSummary:
    faceset: str
    faces: int
    painted: int
    method: str
    seconds: float
    mean_coverage: float
    """Mean share of a crop that its mask keeps as face."""
    fit_seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _replace_masks(faceset: Faceset, masks: dict[str, np.ndarray], entry: dict[str, object]) -> None:
    """Write `masks` (face_id -> float (S, S)) as the faceset's new `masks/`, then its manifest."""
    root = faceset.root
    staging = root / f".{MASKS_DIR}.{os.getpid()}.tmp"
    old = root / f".{MASKS_DIR}.{os.getpid()}.old"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for record in faceset.records:
            (staging / mask_file_name(record)).write_bytes(encode_mask(masks[record.face_id]))
        fsync_dir(staging)
        current = root / MASKS_DIR
        if current.exists():
            current.rename(old)
        staging.rename(current)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    fsync_dir(root)
    faceset.manifest.masks = entry
    write_json_atomic(root / "faceset.json", faceset.manifest.to_json())


def mask_faceset(
    path: str | os.PathLike[str],
    config: MaskConfig | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> MaskSummary:
    """Make the stored mask of every face of the faceset at `path`: its painted mask where a user
    painted one, else the automatic `config.method` mask, or, with `config.train`, the prediction of a
    mask model fitted on the painted masks (weighted `user_weight`) and the automatic ones.
    `progress(stage, done, total)` is called as faces are masked and as the model trains."""
    config = config or MaskConfig()
    started = time.perf_counter()
    root = Path(path)
    if not is_faceset(root):
        raise FacesetError(f"{root}: not a faceset (no faceset.json); create one with `facetransfer extract`")
    faceset = open_faceset(root)
    if not faceset.records:
        raise FacesetError(f"{root}: the faceset has no faces; extract faces into it first")
    if not os.access(root, os.W_OK):
        raise FacesetError(f"{root}: the faceset folder is not writable; check its permissions")
    for name in stray_user_masks(faceset):
        logger.warning("%s: user_masks/%s matches no face and is ignored", root, name)
    size = int(faceset.manifest.crop_size)
    painted = read_painted_masks(faceset, size)
    if config.train and len(painted) < MIN_PAINTED_TO_TRAIN:
        raise FacesetError(
            f"{root}: --train needs painted masks in {root / 'user_masks'} (none found); paint a few "
            "faces' masks (white = face), named as their crop files, or run without --train"
        )
    crops = np.stack([faceset.read_crop(record) for record in faceset.records])
    masks: dict[str, np.ndarray] = {}
    for done, (record, crop) in enumerate(zip(faceset.records, crops, strict=True), start=1):
        own = painted.get(record.face_id)
        masks[record.face_id] = (
            own if own is not None else automatic_mask(config.method, crop, record.landmarks_crop)
        )
        if progress:
            progress("masks", done, len(crops))
    fit_seconds = None
    method: str = config.method
    extra: dict[str, object] = {"painted": len(painted)}
    if config.train:
        from facetransfer.maskmodel import fit_mask_model, predict_masks

        fit_started = time.perf_counter()
        weights = np.array(
            [config.fit.user_weight if r.face_id in painted else 1.0 for r in faceset.records], np.float32
        )
        stacked = np.stack([masks[record.face_id] for record in faceset.records]).astype(np.float32)

        def report(step: int, steps: int, loss: float) -> None:
            if progress:
                progress("fit", step, steps)

        model = fit_mask_model(crops, stacked, weights, config.fit, report)
        predicted = predict_masks(model, crops)
        fit_seconds = time.perf_counter() - fit_started
        for record, mask in zip(faceset.records, predicted, strict=True):
            if record.face_id not in painted:  # a mask is of the hull's pixels, as the automatic ones
                masks[record.face_id] = mask * face_hull_mask(record.landmarks_crop, size, size)
        method = "trained"
        extra.update(automatic=config.method, steps=config.fit.steps, resolution=config.fit.resolution)
    _replace_masks(faceset, masks, masks_entry(method, len(masks), **extra))
    coverage = float(np.mean([float((mask >= 0.5).mean()) for mask in masks.values()]))
    return MaskSummary(
        faceset=str(root),
        faces=len(masks),
        painted=len(painted),
        method=method,
        seconds=time.perf_counter() - started,
        mean_coverage=coverage,
        fit_seconds=fit_seconds,
    )
