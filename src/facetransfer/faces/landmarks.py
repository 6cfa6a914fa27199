"""The 68-point face convention and its mapping from MediaPipe's 478-point face mesh.

The 68 points follow the iBUG 300-W layout that most face tools use:

====================  ========  =======================================
part                  indices   notes
====================  ========  =======================================
jaw                   0-16      right ear (image left) to left ear
right brow            17-21     image-left brow, outer to inner
left brow             22-26
nose bridge           27-30     top to tip
nose base             31-35
right eye             36-41     image-left eye, outer corner first
left eye              42-47
outer lip             48-59     right mouth corner first
inner lip             60-67
====================  ========  =======================================

`MESH_TO_68[i]` is the mesh vertex used for point i. It was derived by `tools/derive_mesh68.py`: on 87
faces of the shared test media, dlib's 68-point shape predictor and the mesh ran on the same face, and
each 68-point was given the mesh vertex nearest to it on average (mean residual 4.7% of the
inter-ocular distance, largest 11% on the jaw line, where the two conventions differ most).
"""

from __future__ import annotations

import numpy as np

MESH_TO_68: tuple[int, ...] = (
    127, 234, 177, 215, 172, 136, 149, 148, 152, 377, 378, 365, 367, 435, 323, 447, 356,  # jaw
    156, 63, 105, 66, 107,  # right brow
    336, 296, 334, 293, 383,  # left brow
    168, 197, 195, 4,  # nose bridge
    59, 99, 2, 250, 305,  # nose base
    33, 160, 158, 155, 153, 144,  # right eye
    382, 385, 387, 249, 373, 380,  # left eye
    61, 74, 37, 11, 267, 304, 291, 321, 314, 17, 84, 91,  # outer lip
    78, 82, 13, 312, 308, 317, 14, 87,  # inner lip
)  # fmt: skip

JAW = slice(0, 17)
RIGHT_BROW = slice(17, 22)
LEFT_BROW = slice(22, 27)
NOSE = slice(27, 36)
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
MOUTH = slice(48, 68)
OUTER_LIP = slice(48, 60)

# MediaPipe refined iris centres (present with refine_landmarks=True).
MESH_RIGHT_IRIS = 468
MESH_LEFT_IRIS = 473


def mesh_to_68(mesh_points: np.ndarray) -> np.ndarray:
    """float32 (68, 2) from a (468 or 478, 2+) array of mesh points in pixels."""
    if mesh_points.ndim != 2 or mesh_points.shape[0] < 468:
        raise ValueError(f"expected mesh points of shape (468|478, 2|3), found {mesh_points.shape}")
    return mesh_points[list(MESH_TO_68), :2].astype(np.float32)


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right_eye_centre, left_eye_centre) as float64 (2,) from 68 points (image-left eye first)."""
    points = landmarks.astype(np.float64)
    return points[RIGHT_EYE].mean(0), points[LEFT_EYE].mean(0)


def eye_angle_deg(landmarks: np.ndarray) -> float:
    """Angle of the line from the image-left eye to the image-right eye, degrees (0 = horizontal)."""
    right, left = eye_centres(landmarks)
    delta = left - right
    return float(np.degrees(np.arctan2(delta[1], delta[0])))
