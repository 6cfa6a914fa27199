"""Face masks from 68 landmarks: the face hull, and eye and mouth regions (pure functions).

All masks are float32 (H, W) in [0, 1]; landmarks are float32 (68, 2) in the mask's pixel space.
"""

from __future__ import annotations

import cv2
import numpy as np

from facetransfer.faces import landmarks as lm


def _fill_hull(points: np.ndarray, height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    hull = cv2.convexHull(np.round(points * 16).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_AA, shift=4)
    return mask.astype(np.float32) / 255.0


def face_hull_points(landmarks: np.ndarray, forehead: float = 0.25) -> np.ndarray:
    """float32 (N, 2): jaw and brow points, with the brows raised by `forehead` times the
    brow-to-chin height so the hull holds the lower forehead (0 keeps the brows as the top)."""
    points = landmarks.astype(np.float32)
    brows = np.concatenate([points[lm.RIGHT_BROW], points[lm.LEFT_BROW]])
    chin = points[8]
    brow_centre = brows.mean(0)
    up = brow_centre - chin
    raised = brows + forehead * up
    return np.concatenate([points[lm.JAW], raised])


def face_hull_mask(landmarks: np.ndarray, height: int, width: int, forehead: float = 0.25) -> np.ndarray:
    """float32 (H, W): 1 inside the convex hull of the jaw and the (raised) brows."""
    return _fill_hull(face_hull_points(landmarks, forehead), height, width)


def eyes_mask(landmarks: np.ndarray, height: int, width: int, grow: float = 0.35) -> np.ndarray:
    """float32 (H, W): both eyes and brows, each hull grown by `grow` times the eye width."""
    points = landmarks.astype(np.float32)
    mask = np.zeros((height, width), dtype=np.float32)
    for eye, brow in ((lm.RIGHT_EYE, lm.RIGHT_BROW), (lm.LEFT_EYE, lm.LEFT_BROW)):
        region = np.concatenate([points[eye], points[brow]])
        centre = region.mean(0)
        eye_width = float(np.ptp(points[eye][:, 0])) or 1.0
        grown = centre + (region - centre) * (1.0 + grow * eye_width / max(float(np.ptp(region[:, 0])), 1.0))
        mask = np.maximum(mask, _fill_hull(grown, height, width))
    return mask


def mouth_mask(landmarks: np.ndarray, height: int, width: int, grow: float = 0.25) -> np.ndarray:
    """float32 (H, W): the outer lip hull grown by `grow` (fraction of its size)."""
    points = landmarks.astype(np.float32)[lm.OUTER_LIP]
    centre = points.mean(0)
    return _fill_hull(centre + (points - centre) * (1.0 + grow), height, width)


def erode_or_dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Erode a float mask by `pixels` (a negative value dilates). Returns float32 (H, W)."""
    if pixels == 0:
        return mask.astype(np.float32)
    size = 2 * abs(pixels) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    operation = cv2.erode if pixels > 0 else cv2.dilate
    return operation(mask.astype(np.float32), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)


def feather(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Blur a float mask so its edge ramps over about `pixels` pixels. Returns float32 (H, W)."""
    if pixels <= 0:
        return mask.astype(np.float32)
    sigma = pixels / 2.0
    size = 2 * int(np.ceil(3 * sigma)) + 1
    return cv2.GaussianBlur(mask.astype(np.float32), (size, size), sigma, borderType=cv2.BORDER_CONSTANT)
