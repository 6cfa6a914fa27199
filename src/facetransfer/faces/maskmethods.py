"""The automatic face masks by name (a registry), and how a mask is stored as an image."""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

import cv2
import numpy as np

from facetransfer.errors import FacesetError
from facetransfer.faces.masks import face_hull_mask
from facetransfer.faces.skin import SKIN_METHOD_VERSION, skin_mask
from facetransfer.presets import MaskMethod

MASK_METHODS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "skin": skin_mask,
    "hull": lambda crop, landmarks: face_hull_mask(landmarks, crop.shape[0], crop.shape[1]),
}
"""f(crop uint8 (S, S, 3) RGB, landmarks_crop float32 (68, 2)) -> float32 (S, S) in [0, 1]."""
METHOD_VERSIONS: dict[str, int] = {"skin": SKIN_METHOD_VERSION, "hull": 1}
assert tuple(MASK_METHODS) == get_args(MaskMethod) == tuple(METHOD_VERSIONS)


def automatic_mask(method: str, crop_rgb: np.ndarray, landmarks_crop: np.ndarray) -> np.ndarray:
    """float32 (S, S) in [0, 1]: the mask `method` makes of one crop."""
    return MASK_METHODS[method](crop_rgb, landmarks_crop)


def encode_mask(mask: np.ndarray) -> bytes:
    """PNG bytes of a float mask in [0, 1] (8-bit grey)."""
    grey = (np.clip(mask, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    ok, encoded = cv2.imencode(".png", grey, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise FacesetError("a mask cannot be encoded as PNG")
    return encoded.tobytes()


def masks_entry(method: str, count: int, **extra: object) -> dict[str, object]:
    """A faceset manifest's `masks` entry for masks of every face made by `method` (or "trained")."""
    return {"method": method, "version": METHOD_VERSIONS.get(method, 1), "faces": count, **extra}
