"""Forehead colour error: how far the swap's lower forehead is from the target's, in CIELAB.

The lower forehead (the part of the face hull above the brows) is where a swap goes wrong in two
ways that the face's other metrics miss: a source's fringe or hair, learned as face, is pasted over
the target's forehead as a dark smudge; and a target's own fringe, glasses top or hand there is
covered by the source's skin. Both are large colour changes (a dark smudge on skin is 30-50 Delta-E),
where a clean swap changes the skin's colour little (colour transfer matches it): the mean Delta-E
1976 between the output and the target over that band, per frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from facetransfer.faces import landmarks as lm
from facetransfer.faces.masks import face_hull_mask

MIN_PIXELS = 30


def forehead_band(landmarks: np.ndarray, height: int, width: int) -> np.ndarray:
    """bool (H, W): the face hull's pixels above the brows (68 landmarks in the image's pixels)."""
    hull = face_hull_mask(landmarks, height, width) > 0.5
    brows = np.concatenate([landmarks[lm.RIGHT_BROW], landmarks[lm.LEFT_BROW]]).astype(np.float32)
    # above the line through the brows' top points, fitted over x, so a tilted head stays right
    slope, intercept = np.polyfit(brows[:, 0], brows[:, 1], 1)
    rows, columns = np.mgrid[0:height, 0:width]
    above = rows < slope * columns + intercept - 0.02 * float(np.ptp(brows[:, 0]))
    return hull & above


def forehead_color_error(
    output_rgb: np.ndarray, target_rgb: np.ndarray, landmarks: np.ndarray
) -> float | None:
    """Mean Delta-E 1976 between two same-size uint8 RGB images over the target's lower forehead;
    None when the band is too small to measure."""
    height, width = target_rgb.shape[:2]
    band = forehead_band(landmarks, height, width)
    if int(band.sum()) < MIN_PIXELS:
        return None
    scale = np.float32(1.0 / 255.0)
    output_lab = cv2.cvtColor(output_rgb.astype(np.float32) * scale, cv2.COLOR_RGB2Lab)[band]
    target_lab = cv2.cvtColor(target_rgb.astype(np.float32) * scale, cv2.COLOR_RGB2Lab)[band]
    return float(np.linalg.norm(output_lab - target_lab, axis=1).mean())
