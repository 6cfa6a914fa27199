"""Where a face sits in the crop that DeepFaceLab's exported models (DFM) expect, and the fixed
resampling that turns that crop into the project's own crop and back.

A DFM model is given a DeepFaceLab *whole face* crop. FaceFusion cuts it by fitting five points
(the two eye centres, the nose tip, the two mouth corners) to its `dfl_whole_face` template;
DeepFaceLive's aligner (face coverage 2.2, its default) frames the face about the same way. The
project's crops are aligned to its own mean face at a coverage (`faces.align`). Both templates are
upright and centred, so the map between the two crops is a scale and a shift per axis: the DFM graph
resamples its input into the model's crop with two small matrix products (rows, then columns) and
its outputs back the same way, which any ONNX runtime runs (no GridSample).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from facetransfer.faces import landmarks as lm
from facetransfer.faces.align import Coverage, template_points, umeyama

DFL_TEMPLATE_NAME = "dfl_whole_face"

# The five points of FaceFusion's `dfl_whole_face` template, as fractions of the crop side, in the
# order left eye, right eye (as seen in the image), nose tip, left and right mouth corner
# (facefusion/face_helper.py, WARP_TEMPLATE_SET['dfl_whole_face']).
DFL_WHOLE_FACE_5 = np.array(
    [
        [0.35342266, 0.39285716],
        [0.62797622, 0.39285716],
        [0.48660713, 0.54017860],
        [0.38839287, 0.68750011],
        [0.59821427, 0.68750011],
    ],
    dtype=np.float64,
)


def five_points(landmarks_68: np.ndarray) -> np.ndarray:
    """float64 (5, 2): eye centres, nose tip and mouth corners of 68 landmarks, in the template's order
    (the image-left eye is the person's right eye, points 36-41)."""
    points = np.asarray(landmarks_68, dtype=np.float64)
    return np.stack(
        [
            points[lm.RIGHT_EYE].mean(0),
            points[lm.LEFT_EYE].mean(0),
            points[30],
            points[48],
            points[54],
        ]
    )


@dataclass(frozen=True)
class CropMap:
    """`dfl = scale * ours + shift` (pixels, per axis) between a crop in the project's template and
    a DFL whole-face crop of the same side; `rotation_deg` is what the fit found and left out."""

    scale: float
    shift: tuple[float, float]
    rotation_deg: float

    def ours_to_dfl(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, dtype=np.float64) * self.scale + np.asarray(self.shift)

    def dfl_to_ours(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - np.asarray(self.shift)) / self.scale


def crop_map(resolution: int, coverage: Coverage) -> CropMap:
    """The map from the project's crop (`resolution`, `coverage`) to a DFL whole-face crop of the
    same side, fitted on the five points of both templates (least squares, similarity)."""
    ours = five_points(template_points(resolution, coverage))
    dfl = DFL_WHOLE_FACE_5 * resolution
    matrix = umeyama(ours, dfl)
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    rotation_deg = math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))
    # without the (sub-degree) rotation, the shift that best maps the centroids
    shift = dfl.mean(0) - scale * ours.mean(0)
    return CropMap(scale=scale, shift=(float(shift[0]), float(shift[1])), rotation_deg=rotation_deg)


def resampling_matrix(size: int, scale: float, shift: float, clamp: bool) -> np.ndarray:
    """float32 (size, size) bilinear resampling along one axis: row i holds the weights of the source
    pixels at the coordinate `scale * (i + 0.5) + shift - 0.5` (pixel centres). Outside the source:
    the edge pixel when `clamp`, else zero weight (so an output mask is 0 there)."""
    matrix = np.zeros((size, size), dtype=np.float64)
    for index in range(size):
        position = scale * (index + 0.5) + shift - 0.5
        if not clamp and (position < -0.5 or position > size - 0.5):
            continue
        position = min(max(position, 0.0), size - 1.0)
        low = math.floor(position)
        high = min(low + 1, size - 1)
        weight = position - low
        matrix[index, low] += 1.0 - weight
        matrix[index, high] += weight
    return matrix.astype(np.float32)


def dfl_to_ours_matrices(resolution: int, coverage: Coverage) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) matrices that resample a DFL whole-face crop into the project's crop:
    `ours = rows @ dfl @ columns.T` per channel. Outside the DFL crop the edge is repeated, as the
    project's own crops do at a frame border."""
    mapping = crop_map(resolution, coverage)
    rows = resampling_matrix(resolution, mapping.scale, mapping.shift[1], clamp=True)
    columns = resampling_matrix(resolution, mapping.scale, mapping.shift[0], clamp=True)
    return rows, columns


def ours_to_dfl_matrices(resolution: int, coverage: Coverage) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) matrices that resample the project's crop into a DFL whole-face crop; zero
    outside the project's crop."""
    mapping = crop_map(resolution, coverage)
    inverse_shift = (-mapping.shift[0] / mapping.scale, -mapping.shift[1] / mapping.scale)
    rows = resampling_matrix(resolution, 1.0 / mapping.scale, inverse_shift[1], clamp=False)
    columns = resampling_matrix(resolution, 1.0 / mapping.scale, inverse_shift[0], clamp=False)
    return rows, columns
