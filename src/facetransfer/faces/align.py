"""Alignment of a face to the canonical template by a similarity transform (Umeyama).

The template is the mean 68-point face in `data/mean_face_68.json` (see `tools/derive_template.py`),
normalised so that the jaw spans x in [0, 1] and the brows-to-chin height is about 1. A *coverage*
places it in the square crop: `face` is a tight crop of the face, `full` adds some margin around the
jaw and the lower forehead, `whole` also holds the whole forehead and some hair.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Literal, get_args

import cv2
import numpy as np

Coverage = Literal["face", "full", "whole"]
COVERAGES: tuple[str, ...] = get_args(Coverage)
TEMPLATE_NAME = "mean_face_68_v1"

# Points used to fit the transform: brows, nose, eyes and the two mouth corners. The jaw line (pose
# dependent) and the lips (they move with speech) would make the crop move with the expression.
ALIGN_POINTS: tuple[int, ...] = (*range(17, 48), 48, 54)

# (template width as a fraction of the crop, template centre (x, y) in crop fractions)
_PLACEMENT: dict[str, tuple[float, tuple[float, float]]] = {
    "face": (0.80, (0.5, 0.50)),
    "full": (0.64, (0.5, 0.52)),
    "whole": (0.52, (0.5, 0.57)),
}


@cache
def _mean_face() -> dict[str, np.ndarray]:
    payload = json.loads((files("facetransfer") / "data" / "mean_face_68.json").read_text(encoding="utf-8"))
    return {
        "points_2d": np.asarray(payload["points_2d"], dtype=np.float64),
        "points_3d": np.asarray(payload["points_3d"], dtype=np.float64),
    }


def mean_face_3d() -> np.ndarray:
    """float64 (68, 3) mean face, x right, y down, z away from the camera, jaw width 1."""
    return _mean_face()["points_3d"].copy()


def template_points(crop_size: int, coverage: Coverage = "full") -> np.ndarray:
    """float32 (68, 2): where the template's 68 points sit in a crop of `crop_size` pixels."""
    if coverage not in _PLACEMENT:
        raise ValueError(f"coverage must be one of {COVERAGES}, not {coverage!r}")
    width_fraction, (centre_x, centre_y) = _PLACEMENT[coverage]
    points = _mean_face()["points_2d"]
    middle = (points.min(0) + points.max(0)) / 2.0
    placed = (points - middle) * width_fraction * crop_size
    placed += np.array([centre_x, centre_y]) * crop_size
    return placed.astype(np.float32)


def umeyama(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """float64 (2, 3) similarity transform (rotation, uniform scale, shift) that maps `source` (N, 2)
    onto `target` (N, 2) in the least-squares sense (Umeyama 1991, with the reflection fix)."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 or len(source) < 2:
        raise ValueError(f"expected two (N, 2) arrays with N >= 2, found {source.shape} and {target.shape}")
    mean_source, mean_target = source.mean(0), target.mean(0)
    centred_source, centred_target = source - mean_source, target - mean_target
    variance_source = (centred_source**2).sum() / len(source)
    covariance = centred_target.T @ centred_source / len(source)
    u, sigma, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float((sigma * sign).sum() / variance_source) if variance_source > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mean_target - scale * rotation @ mean_source
    return matrix


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """float32 (2, 3) inverse of an invertible (2, 3) affine matrix."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64)).astype(np.float32)


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """float32 (N, 2): `points` (N, 2) mapped by the (2, 3) `matrix`."""
    m = np.asarray(matrix, dtype=np.float64)
    return (np.asarray(points, dtype=np.float64) @ m[:, :2].T + m[:, 2]).astype(np.float32)


def alignment_matrices(
    landmarks_frame: np.ndarray, crop_size: int, coverage: Coverage = "full"
) -> tuple[np.ndarray, np.ndarray]:
    """(frame_to_crop, crop_to_frame), each float32 (2, 3), for 68 landmarks in frame pixels."""
    index = list(ALIGN_POINTS)
    frame_to_crop = umeyama(landmarks_frame[index], template_points(crop_size, coverage)[index])
    return frame_to_crop.astype(np.float32), invert_affine(frame_to_crop)


def warp_to_crop(image: np.ndarray, frame_to_crop: np.ndarray, crop_size: int) -> np.ndarray:
    """uint8 (S, S, C) aligned crop of `image` (H, W, C); outside the frame is filled by edge pixels."""
    return cv2.warpAffine(
        image,
        np.asarray(frame_to_crop, dtype=np.float64),
        (crop_size, crop_size),
        flags=cv2.INTER_LINEAR if crop_size <= 2 * max(image.shape[:2]) else cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REPLICATE,
    )
