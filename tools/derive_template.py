"""Derive the mean 68-point face (2-D template for alignment, 3-D model for head pose).

Runs MediaPipe's face mesh (mapped to 68 points by `facetransfer.faces.landmarks`) on frontal faces
from the shared test media, aligns them by generalised Procrustes (similarity transforms), and writes
`src/facetransfer/data/mean_face_68.json`: `points_2d` normalised so that the 68 points span [0, 1]
in x, and `points_3d` (x right, y down, z away from the camera) in the same units.
Run: python tools/derive_template.py ../shared/data
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import av
import cv2
import mediapipe as mp
import numpy as np

from facetransfer.faces.landmarks import MESH_TO_68

root = Path(sys.argv[1])
paths = sorted((root / "video" / "grid").glob("*.mpg")) + sorted((root / "video" / "cremad").glob("*.flv"))
mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)
shapes = []
for path in paths:
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % 5:
                continue
            image = frame.to_ndarray(format="rgb24")
            result = mesh.process(image)
            if not result.multi_face_landmarks:
                continue
            height, width = image.shape[:2]
            points = np.array(
                [[p.x * width, p.y * height, p.z * width] for p in result.multi_face_landmarks[0].landmark]
            )
            shapes.append(points[list(MESH_TO_68)])
for path in sorted((root / "identity" / "johns").glob("*/*.jpg")):
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    result = mesh.process(image)
    if result.multi_face_landmarks:
        height, width = image.shape[:2]
        points = np.array(
            [[p.x * width, p.y * height, p.z * width] for p in result.multi_face_landmarks[0].landmark]
        )
        shapes.append(points[list(MESH_TO_68)])


def similarity_3d(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, scale, shift) mapping source (N,3) onto target (N,3)."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    s, t = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(t.T @ s)
    d = np.ones(3)
    if np.linalg.det(u @ vt) < 0:
        d[-1] = -1
    rotation = u @ np.diag(d) @ vt
    scale = (sigma * d).sum() / (s**2).sum()
    return scale * (s @ rotation.T) + mu_t


# mirror each shape too, so the template is symmetric
MIRROR = (
    [16 - i for i in range(17)] + [26 - i for i in range(10)] + list(range(27, 31)) + [35, 34, 33, 32, 31]
)
MIRROR += [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
MIRROR += [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
mirrored = []
for shape in shapes:
    flipped = shape[MIRROR].copy()
    flipped[:, 0] *= -1
    mirrored.append(flipped)
shapes = shapes + mirrored
mean = shapes[0] - shapes[0].mean(0)
for _ in range(10):
    aligned = np.stack([similarity_3d(shape, mean) for shape in shapes])
    mean = aligned.mean(0)
    mean -= mean.mean(0)
    mean /= np.linalg.norm(mean)
# Frontal orientation: eyes level in x, face plane facing the camera (z along view): rotate so that the
# eye line is along +x and the mean of the jaw/eyes/mouth plane normal is along z.
centred = mean - mean.mean(0)
_, _, vt = np.linalg.svd(centred)
normal = vt[2] if vt[2][2] > 0 else -vt[2]
x_axis = mean[42:48].mean(0) - mean[36:42].mean(0)
x_axis -= normal * (x_axis @ normal)
x_axis /= np.linalg.norm(x_axis)
y_axis = np.cross(normal, x_axis)
frame = np.stack([x_axis, y_axis, normal])
points_3d = centred @ frame.T
if points_3d[8, 1] < points_3d[27, 1]:  # chin below the nose bridge: y grows downwards
    points_3d[:, 1] *= -1
    points_3d[:, 2] *= -1
low, high = points_3d[:, 0].min(), points_3d[:, 0].max()
scale = high - low
points_3d = (points_3d - np.array([low, points_3d[:, 1].min(), 0.0])) / scale
payload = {
    "description": "Mean 68-point face from MediaPipe face mesh on the shared test media",
    "faces": len(shapes),
    "points_2d": np.round(points_3d[:, :2], 5).tolist(),
    "points_3d": np.round(points_3d, 5).tolist(),
}
out = Path(__file__).resolve().parents[1] / "src" / "facetransfer" / "data" / "mean_face_68.json"
out.parent.mkdir(exist_ok=True)
out.write_text(json.dumps(payload) + "\n")
print(f"faces {len(shapes)}; wrote {out}")
