"""Blend seam: colour and gradient differences across the border of the face hull.

A swapped face is pasted through a mask whose edge lies near the face hull (the jaw line and the
forehead). A visible seam is a colour step across that edge that the original frame did not have,
or extra gradient (a hard edge) along it. Both are measured against the same quantity in the
target, so the natural contrast between face and background cancels (0 for an unchanged frame):

- colour: at points every few pixels along the hull border, the CIELAB colour a short distance
  inside minus the colour the same distance outside; the metric is the mean length of (output step
  minus target step), in Delta-E 1976 units (~2.3 is a just noticeable difference).
- gradient: mean Sobel gradient magnitude of luma in the band within that distance of the border,
  output minus target (luma levels per pixel).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facetransfer.faces.masks import erode_or_dilate, face_hull_points

# The inside/outside samples sit this fraction of the face size from the border.
OFFSET_FRACTION = 0.06
SPACING_PX = 2.0


@dataclass(frozen=True)
class BorderSamples:
    """Points along the hull border and their partners inside and outside, float32 (N, 2) each."""

    border: np.ndarray
    inside: np.ndarray
    outside: np.ndarray


def hull_polygon(landmarks: np.ndarray) -> np.ndarray:
    """float32 (K, 2) convex hull (in order) of the face hull points of 68 landmarks."""
    points = face_hull_points(landmarks).astype(np.float32)
    return cv2.convexHull(points).reshape(-1, 2).astype(np.float32)


def border_samples(polygon: np.ndarray, offset_px: float, spacing_px: float = SPACING_PX) -> BorderSamples:
    """Samples every `spacing_px` along a convex polygon's edges, each with the points `offset_px`
    along the edge's normal inwards and outwards."""
    centroid = polygon.mean(0)
    borders, normals = [], []
    for index in range(len(polygon)):
        start, end = polygon[index], polygon[(index + 1) % len(polygon)]
        edge = end - start
        length = float(np.linalg.norm(edge))
        if length < 1e-6:
            continue
        normal = np.array([edge[1], -edge[0]], dtype=np.float32) / length
        if float(np.dot(normal, (start + end) / 2 - centroid)) < 0:
            normal = -normal  # outwards
        steps = max(1, int(length // spacing_px))
        fractions = (np.arange(steps, dtype=np.float32) + 0.5) / steps
        borders.append(start + fractions[:, None] * edge)
        normals.append(np.repeat(normal[None], steps, axis=0))
    if not borders:
        empty = np.zeros((0, 2), dtype=np.float32)
        return BorderSamples(empty, empty, empty)
    border = np.concatenate(borders).astype(np.float32)
    normal_all = np.concatenate(normals).astype(np.float32)
    return BorderSamples(border, border - offset_px * normal_all, border + offset_px * normal_all)


def sample_bilinear(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """float32 (N, C) values of a float32 (H, W, C) image at (N, 2) (x, y) points."""
    map_x = np.ascontiguousarray(points[:, 0].reshape(-1, 1), dtype=np.float32)
    map_y = np.ascontiguousarray(points[:, 1].reshape(-1, 1), dtype=np.float32)
    values = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return values.reshape(len(points), -1)


def to_lab(image_rgb: np.ndarray) -> np.ndarray:
    """float32 (H, W, 3) CIELAB (L 0-100) of a uint8 RGB image."""
    return cv2.cvtColor(image_rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def gradient_magnitude(image_rgb: np.ndarray) -> np.ndarray:
    """float32 (H, W) Sobel gradient magnitude of luma (levels per pixel)."""
    grey = cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    return np.sqrt(gx * gx + gy * gy)


@dataclass(frozen=True)
class SeamSample:
    color: float  # mean |output step - target step| across the border, Delta-E
    gradient_output: float
    gradient_target: float

    @property
    def gradient_excess(self) -> float:
        return self.gradient_output - self.gradient_target


def measure_seam(
    output_rgb: np.ndarray, target_rgb: np.ndarray, landmarks: np.ndarray, hull_mask: np.ndarray
) -> SeamSample | None:
    """Seam measures of two equal-sized uint8 RGB images (the same window of the output and the
    target frame), with the target's 68 landmarks and its float hull mask in the window's pixels.
    None when no border sample fits inside the window."""
    height, width = output_rgb.shape[:2]
    x0, y0 = landmarks.min(0)
    x1, y1 = landmarks.max(0)
    offset_px = max(2.0, OFFSET_FRACTION * float(max(x1 - x0, y1 - y0)))
    samples = border_samples(hull_polygon(landmarks), offset_px)
    inside_window = np.ones(len(samples.border), dtype=bool)
    for points in (samples.inside, samples.outside):
        inside_window &= (points[:, 0] >= 0) & (points[:, 0] <= width - 1)
        inside_window &= (points[:, 1] >= 0) & (points[:, 1] <= height - 1)
    if not inside_window.any():
        return None
    inside, outside = samples.inside[inside_window], samples.outside[inside_window]
    lab_output, lab_target = to_lab(output_rgb), to_lab(target_rgb)
    step_output = sample_bilinear(lab_output, inside) - sample_bilinear(lab_output, outside)
    step_target = sample_bilinear(lab_target, inside) - sample_bilinear(lab_target, outside)
    color = float(np.linalg.norm(step_output - step_target, axis=1).mean())

    radius = max(1, round(offset_px))
    band = erode_or_dilate(hull_mask, -radius) - erode_or_dilate(hull_mask, radius)
    band = np.clip(band, 0.0, 1.0)
    total = float(band.sum())
    if total <= 0:
        return SeamSample(color, float("nan"), float("nan"))
    gradient_output = float((gradient_magnitude(output_rgb) * band).sum() / total)
    gradient_target = float((gradient_magnitude(target_rgb) * band).sum() / total)
    return SeamSample(color, gradient_output, gradient_target)
