"""Where on a frame the metrics look: a window around the face and the face hull mask inside it
(pure functions)."""

from __future__ import annotations

import numpy as np

from facetransfer.faces.landmarker import landmarks_bbox
from facetransfer.faces.masks import face_hull_mask

Window = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels, end-exclusive


def face_size_px(landmarks: np.ndarray) -> float:
    """Longer side of the landmark box (grown to the forehead), in pixels."""
    x0, y0, x1, y1 = landmarks_bbox(landmarks)
    return float(max(x1 - x0, y1 - y0))


def face_window(landmarks: np.ndarray, height: int, width: int, scale: float = 1.6) -> Window:
    """Square window `scale` times the face size around the landmarks' box, clipped to the frame.
    Never empty: at least one pixel."""
    x0, y0, x1, y1 = landmarks_bbox(landmarks)
    centre_x, centre_y = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    half = max(x1 - x0, y1 - y0) * scale / 2.0
    left = int(np.clip(np.floor(centre_x - half), 0, width - 1))
    top = int(np.clip(np.floor(centre_y - half), 0, height - 1))
    right = int(np.clip(np.ceil(centre_x + half), left + 1, width))
    bottom = int(np.clip(np.ceil(centre_y + half), top + 1, height))
    return left, top, right, bottom


def crop(image: np.ndarray, window: Window) -> np.ndarray:
    """The window's part of `image` (a view)."""
    x0, y0, x1, y1 = window
    return image[y0:y1, x0:x1]


def hull_mask_in_window(landmarks: np.ndarray, window: Window) -> np.ndarray:
    """float32 (h, w) face hull mask of `landmarks` (frame pixels) drawn in the window's pixels."""
    x0, y0, x1, y1 = window
    shifted = landmarks.astype(np.float32) - np.array([x0, y0], dtype=np.float32)
    return face_hull_mask(shifted, y1 - y0, x1 - x0)
