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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from facetransfer.faceset.schema import FaceRecord
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


@contextmanager
def _new_masks_folder(faceset: Faceset, entry: dict[str, object]) -> Iterator[Path]:
    """A folder to write the new masks into; on success it replaces `masks/` whole and the manifest
    gets `entry`, on failure it is removed and nothing changed."""
    root = faceset.root
    staging = root / f".{MASKS_DIR}.{os.getpid()}.tmp"
    old = root / f".{MASKS_DIR}.{os.getpid()}.old"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
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


def _fitted_masks(
    faceset: Faceset,
    crops: np.ndarray,
    automatic: np.ndarray,
    painted: dict[str, np.ndarray],
    config: MaskConfig,
    progress: Callable[[str, int, int], None] | None,
) -> np.ndarray:
    """float32 (N, S, S): the masks of a model fitted on the faces' `crops` (uint8 (N, S, S, 3)) and
    `automatic` masks (uint8 (N, S, S), painted masks in place), painted faces weighted
    `user_weight`, cut by each face's hull."""
    from facetransfer.maskmodel import fit_mask_model, predict_masks

    records = faceset.records
    weights = np.array([config.fit.user_weight if r.face_id in painted else 1.0 for r in records], np.float32)

    def report(step: int, steps: int, loss: float) -> None:
        if progress:
            progress("fit", step, steps)

    targets = automatic.astype(np.float32) * np.float32(1.0 / 255.0)
    model = fit_mask_model(crops, targets, weights, config.fit, report)
    predicted = predict_masks(model, crops)
    size = crops.shape[1]
    for index, record in enumerate(records):  # a mask is of the hull's pixels, as the automatic ones
        predicted[index] *= face_hull_mask(record.landmarks_crop, size, size)
    return predicted


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
    records = faceset.records
    fitted = (
        {"automatic": config.method, "steps": config.fit.steps, "resolution": config.fit.resolution}
        if config.train
        else {}
    )
    method = "trained" if config.train else config.method
    entry = masks_entry(method, len(records), painted=len(painted), **fitted)
    kept: list[float] = []  # share of each crop kept as face
    fit_seconds = None
    with _new_masks_folder(faceset, entry) as folder:

        def store(record: FaceRecord, mask: np.ndarray) -> None:
            (folder / mask_file_name(record)).write_bytes(encode_mask(mask))

        # a fit needs every crop and automatic mask (kept as 8-bit); without one, each is written and let go
        crops: list[np.ndarray] = []
        automatic: list[np.ndarray] = []
        for done, record in enumerate(records, start=1):
            crop = faceset.read_crop(record)
            own = painted.get(record.face_id)
            mask = own if own is not None else automatic_mask(config.method, crop, record.landmarks_crop)
            if config.train:
                crops.append(crop)
                automatic.append((mask * 255.0 + 0.5).astype(np.uint8))
            else:
                store(record, mask)
                kept.append(float((mask >= 0.5).mean()))
            if progress:
                progress("masks", done, len(records))
        if config.train:
            fit_started = time.perf_counter()
            predicted = _fitted_masks(
                faceset, np.stack(crops), np.stack(automatic), painted, config, progress
            )
            fit_seconds = time.perf_counter() - fit_started
            for record, mask in zip(records, predicted, strict=True):
                own = painted.get(record.face_id)
                final = own if own is not None else mask
                store(record, final)
                kept.append(float((final >= 0.5).mean()))
    return MaskSummary(
        faceset=str(root),
        faces=len(records),
        painted=len(painted),
        method=method,
        seconds=time.perf_counter() - started,
        mean_coverage=float(np.mean(kept)),
        fit_seconds=fit_seconds,
    )
