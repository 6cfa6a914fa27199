"""Fine detail kept: band-pass energy of the output's inner face over the target's (pure functions).

The band is a difference of Gaussians between sigmas of 1/40 and 1/20 of the eye distance: the scale
of eyelids, lip contours and skin creases. It is measured inside the inner face (the hull of brows,
eyes, nose and mouth, eroded by 1/10 of the eye distance), where neither the blend seam nor the
hair and background count. 1.0: as detailed as the target's own face at the same place; a blurry
swap scores well below. The face box's plain Laplacian variance is not used: seams, artefacts and
watermark noise inflate it.
"""

from __future__ import annotations

import cv2
import numpy as np

INNER_FACE_POINTS = np.r_[17:27, 36:48, 27:36, 48:60]
"""68-point indices of brows, eyes, nose and outer lips."""
SIGMA_FINE = 1 / 40
SIGMA_COARSE = 1 / 20
ERODE = 1 / 10
MIN_SIGMA_PX = 0.5
MIN_PIXELS = 64


def eye_distance(landmarks: np.ndarray) -> float:
    """Distance between the eye centres of 68-point landmarks, in their pixels."""
    left = landmarks[36:42].mean(axis=0)
    right = landmarks[42:48].mean(axis=0)
    return float(np.linalg.norm(right - left))


def inner_face_mask(landmarks: np.ndarray, height: int, width: int) -> np.ndarray:
    """bool (height, width): the eroded hull of brows, eyes, nose and mouth."""
    mask = np.zeros((height, width), dtype=np.uint8)
    hull = cv2.convexHull(np.round(landmarks[INNER_FACE_POINTS]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    radius = max(1, round(ERODE * eye_distance(landmarks)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.erode(mask, kernel).astype(bool)


def band_energy(gray: np.ndarray, scale_px: float, mask: np.ndarray) -> float:
    """Mean squared difference of Gaussians (sigmas `SIGMA_FINE` and `SIGMA_COARSE` times
    `scale_px`) of a float image over `mask`."""
    fine = cv2.GaussianBlur(gray, (0, 0), max(MIN_SIGMA_PX, SIGMA_FINE * scale_px))
    coarse = cv2.GaussianBlur(gray, (0, 0), max(MIN_SIGMA_PX * 2, SIGMA_COARSE * scale_px))
    band = (fine - coarse)[mask]
    return float(np.mean(band * band))


def detail_ratio(output_rgb: np.ndarray, target_rgb: np.ndarray, landmarks: np.ndarray) -> float | None:
    """Band-pass energy of the output's inner face over the target's, on two same-size images with
    the target's 68 landmarks in their pixels; None when the inner face is too small or the target
    has no texture there."""
    height, width = target_rgb.shape[:2]
    mask = inner_face_mask(landmarks, height, width)
    if int(mask.sum()) < MIN_PIXELS:
        return None
    scale = eye_distance(landmarks)
    target_gray = cv2.cvtColor(target_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    output_gray = cv2.cvtColor(output_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    target_energy = band_energy(target_gray, scale, mask)
    if target_energy <= 1e-6:
        return None
    return band_energy(output_gray, scale, mask) / target_energy
