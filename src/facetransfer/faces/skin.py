"""Skin-aware face masks from one crop and its landmarks, with no trained model (pure functions).

The landmark hull says where the face is; this says which of its pixels are face. The method:

1. colour models of this face's skin, one per region where skin is most likely bare (the upper
   cheeks and the nose): robust mean and spread of CIE L*a*b*;
2. every pixel near the hull scored by its distance to the nearest model; far pixels are "not skin";
3. not-skin regions that reach the edge of a ring around the hull are occluders coming in from
   outside the face (a fringe, glasses arms, a hand, a microphone, a beard, background at a turned
   cheek) and stay out; those enclosed by skin are parts of the face (brows, eyes, nostrils, a mole)
   and are filled in, unless large and away from the brows and eyes (a moustache); the eye and lip
   regions of the landmarks are always face. See docs/MASKS.md.

Crops are uint8 (S, S, 3) RGB; landmarks float32 (68, 2) in crop pixels; masks float32 (S, S) in
[0, 1]. The analysis runs at `ANALYSIS_PX` whatever the crop size, so it costs the same on every face.
"""

from __future__ import annotations

import cv2
import numpy as np

from facetransfer.faces import landmarks as lm
from facetransfer.faces.masks import face_hull_mask

SKIN_METHOD_VERSION = 1
"""Raised when the method changes what it finds: stored masks of an older version are made again."""
ANALYSIS_PX = 128
SKIN_DISTANCE = 4.0
"""Largest distance from the skin model (in its standard deviations) that still counts as skin."""
LIGHTNESS_FRACTION = 0.15
"""The least spread of L* a skin model allows, as a fraction of its mean L*: shading moves lightness
in proportion (a shade of skin is skin), hair is darker by a factor of two or more."""
BRIGHTER_DISCOUNT = 0.5
GROW_FRACTION = 0.05
"""Width of the ring around the hull, as a fraction of the crop, in which occluders are followed."""
SMALL_PART_FRACTION = 0.01
"""An enclosed not-skin region up to this share of the face is a part of it wherever it is."""
_MIN_SAMPLES = 20
_FLOOR = 16.0


def _shrunk(points: np.ndarray, factor: float) -> np.ndarray:
    centre = points.mean(0)
    return centre + (points - centre) * factor


def skin_sample_regions(landmarks: np.ndarray) -> list[np.ndarray]:
    """Polygons (float32 (K, 2)) where a face's skin is most likely bare: both upper cheeks (below the
    eye, beside the nose, above where a beard grows) and the nose."""
    points = landmarks.astype(np.float32)
    # halfway to the jaw only: on a turned head the jaw points lie on the background's edge
    cheeks = []
    for eye_outer, eye_inner, nostril, jaw_low, jaw_high in ((41, 40, 31, 2, 1), (46, 47, 35, 14, 15)):
        halfway = [(points[jaw_low] + points[nostril]) / 2, (points[jaw_high] + points[eye_outer]) / 2]
        cheeks.append(np.stack([points[eye_outer], points[eye_inner], points[nostril], *halfway]))
    right_cheek, left_cheek = cheeks
    nose = points[[28, 31, 33, 35]]
    return [_shrunk(right_cheek, 0.7), _shrunk(left_cheek, 0.7), _shrunk(nose, 0.8)]


def _fill(polygons: list[np.ndarray], size: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=np.uint8)
    for polygon in polygons:
        cv2.fillPoly(mask, [np.round(polygon * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def face_part_regions(landmarks: np.ndarray, size: int) -> np.ndarray:
    """bool (size, size): the eyes and the lips (outer lip hull), the parts of a face whose colour is
    never skin's but which are always face."""
    points = landmarks.astype(np.float32)
    parts = [_shrunk(points[lm.RIGHT_EYE], 1.4), _shrunk(points[lm.LEFT_EYE], 1.4), points[lm.OUTER_LIP]]
    hulls = [cv2.convexHull(part).reshape(-1, 2) for part in parts]
    return _fill(hulls, size)


def skin_distance(lab: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """float32 (H, W): each pixel's distance from the skin colour model fitted on `samples`.

    `lab`: float32 (H, W, 3) L*a*b*; `samples`: float32 (N, 3) L*a*b* of pixels taken as skin. The
    model is robust: samples beyond 2.5 median deviations are dropped before the mean and the
    covariance of (a*, b*) and the spread of L* are taken."""
    median = np.median(samples, axis=0)
    deviation = 1.4826 * np.median(np.abs(samples - median), axis=0) + 1e-3
    inliers = samples[np.all(np.abs(samples - median) <= 2.5 * deviation, axis=1)]
    if len(inliers) >= _MIN_SAMPLES:
        samples = inliers
    mean = samples.mean(0)
    chroma = samples[:, 1:] - mean[1:]
    # a floor on the spread: a perfectly even cheek would otherwise make every other pixel "far"
    covariance = chroma.T @ chroma / len(chroma) + np.eye(2, dtype=np.float32) * _FLOOR
    inverse = np.linalg.inv(covariance).astype(np.float32)
    lightness_sd = max(float(samples[:, 0].std()), LIGHTNESS_FRACTION * float(mean[0]), 2.0)
    difference = lab - mean.astype(np.float32)
    a, b = difference[..., 1], difference[..., 2]
    chroma_squared = inverse[0, 0] * a * a + 2.0 * inverse[0, 1] * a * b + inverse[1, 1] * b * b
    # lighter than the model counts half: highlights are skin, while hair is nearly always darker
    lightness = difference[..., 0] / lightness_sd
    lightness = np.where(lightness > 0, BRIGHTER_DISCOUNT * lightness, lightness)
    return np.sqrt(chroma_squared + lightness**2).astype(np.float32)


def brow_and_eye_zone(landmarks: np.ndarray, size: int) -> np.ndarray:
    """bool (size, size): around the brows and the eyes, where dark regions are the face's own."""
    points = landmarks.astype(np.float32)
    zones = [
        cv2.convexHull(_shrunk(np.concatenate([points[eye], points[brow]]), 1.3)).reshape(-1, 2)
        for eye, brow in ((lm.RIGHT_EYE, lm.RIGHT_BROW), (lm.LEFT_EYE, lm.LEFT_BROW))
    ]
    nostrils = cv2.convexHull(_shrunk(points[30:36], 1.2)).reshape(-1, 2)
    return _fill([*zones, nostrils], size)


def _parts_of_the_face(not_skin: np.ndarray, region: np.ndarray, zone: np.ndarray) -> np.ndarray:
    """bool: the not-skin regions (8-connected) that are parts of the face: enclosed by skin (they
    do not reach `region`'s edge) and either small (a mole, a nostril) or where the brows, eyes and
    nostrils are. A large enclosed region elsewhere (a moustache) stays out, as does everything
    that reaches the edge."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(not_skin.astype(np.uint8), connectivity=8)
    edge = region & ~cv2.erode(region.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    touching = np.zeros(count, dtype=bool)
    touching[np.unique(labels[edge & not_skin])] = True
    in_zone = np.zeros(count, dtype=bool)
    in_zone[np.unique(labels[zone & not_skin])] = True
    small = stats[:, cv2.CC_STAT_AREA] <= SMALL_PART_FRACTION * region.sum()
    keep = ~touching & (small | in_zone)
    keep[0] = False
    return keep[labels]


def skin_mask(crop_rgb: np.ndarray, landmarks_crop: np.ndarray) -> np.ndarray:
    """float32 (S, S) in [0, 1]: the face pixels of the hull (skin, eyes, brows, lips), without hair,
    glasses frames, hands and objects in front of the face. See the module docstring."""
    if crop_rgb.ndim != 3 or crop_rgb.shape[2] != 3 or crop_rgb.shape[0] != crop_rgb.shape[1]:
        raise ValueError(f"expected a square (S, S, 3) crop, found {crop_rgb.shape}")
    size = crop_rgb.shape[0]
    scale = ANALYSIS_PX / size
    small = (
        crop_rgb
        if size == ANALYSIS_PX
        else cv2.resize(crop_rgb, (ANALYSIS_PX, ANALYSIS_PX), interpolation=cv2.INTER_AREA)
    )
    points = landmarks_crop.astype(np.float32) * scale
    hull = face_hull_mask(points, ANALYSIS_PX, ANALYSIS_PX) > 0.5
    if not hull.any():
        return np.zeros((size, size), dtype=np.float32)
    lab = cv2.cvtColor(small.astype(np.float32) * np.float32(1.0 / 255.0), cv2.COLOR_RGB2Lab)
    # one model per region: a side-lit face has a lit and a shaded cheek, both skin
    distance = np.full((ANALYSIS_PX, ANALYSIS_PX), np.inf, dtype=np.float32)
    for region in skin_sample_regions(points):
        inside = _fill([region], ANALYSIS_PX) & hull
        if inside.sum() >= _MIN_SAMPLES:
            distance = np.minimum(distance, skin_distance(lab, lab[inside]))
    if not np.isfinite(distance).any():  # a face too small or odd to sample: the hull is the best guess
        return face_hull_mask(landmarks_crop, size, size)
    skin = cv2.medianBlur((distance <= SKIN_DISTANCE).astype(np.uint8), 3).astype(bool)
    skin |= face_part_regions(points, ANALYSIS_PX)
    # Occluders are told from face parts in a ring around the hull: a brow's tail ends near the
    # hull's edge, temple hair or a hand comes from beyond it.
    grow = 2 * round(GROW_FRACTION * ANALYSIS_PX) + 1
    region = cv2.dilate(hull.astype(np.uint8), np.ones((grow, grow), np.uint8)).astype(bool)
    zone = brow_and_eye_zone(points, ANALYSIS_PX)
    face = hull & (skin | _parts_of_the_face(region & ~skin, region, zone))
    # close pinholes and drop specks the size of a pore before the mask goes back to crop size
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    cleaned = cv2.morphologyEx(face.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    cleaned = cv2.morphologyEx(cleaned, cv2.MORPH_CLOSE, kernel) & hull.astype(np.uint8)
    soft = cv2.GaussianBlur(cleaned.astype(np.float32), (5, 5), 0.8)
    if size != ANALYSIS_PX:
        soft = cv2.resize(soft, (size, size), interpolation=cv2.INTER_LINEAR)
    # never past the hull at the crop's own resolution (the smoothing above would spill over it)
    return (np.clip(soft, 0.0, 1.0) * face_hull_mask(landmarks_crop, size, size)).astype(np.float32)
