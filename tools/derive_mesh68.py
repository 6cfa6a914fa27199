"""Derive the MediaPipe-mesh -> 68-point mapping used by `facetransfer.faces.landmarks`.

For faces from the shared test media, runs dlib's 68-point shape predictor and MediaPipe's 478-point
face mesh on the same face, normalises both by the inter-ocular distance, and for each of the 68
points picks the mesh vertex with the smallest mean distance. Prints the table and the residuals.
Run: python tools/derive_mesh68.py ../shared/data
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import dlib
import face_recognition_models as frm
import mediapipe as mp
import numpy as np

root = Path(sys.argv[1])
paths = sorted((root / "video" / "grid").glob("*.mpg")) + sorted((root / "video" / "cremad").glob("*.flv"))
images: list[np.ndarray] = []
import av  # noqa: E402

for path in paths:
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % 15 == 0:
                images.append(frame.to_ndarray(format="rgb24"))
for path in sorted((root / "identity" / "johns").glob("*/*.jpg")):
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    images.append(cv2.resize(image, None, fx=2, fy=2))
for name in ("obama.jpg", "obama2.jpg", "biden.jpg", "astronaut.png"):
    images.append(cv2.cvtColor(cv2.imread(str(root / "image" / "faces" / name)), cv2.COLOR_BGR2RGB))

detector = dlib.get_frontal_face_detector()
predictor = dlib.shape_predictor(frm.pose_predictor_model_location())
mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)
distances = []
for image in images:
    boxes = detector(image, 1)
    if len(boxes) != 1:
        continue
    shape = predictor(image, boxes[0])
    points68 = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
    result = mesh.process(image)
    if not result.multi_face_landmarks:
        continue
    height, width = image.shape[:2]
    points478 = np.array([[p.x * width, p.y * height] for p in result.multi_face_landmarks[0].landmark])
    iod = np.linalg.norm(points68[36:42].mean(0) - points68[42:48].mean(0))
    distances.append(np.linalg.norm(points68[:, None, :] - points478[None, :, :], axis=2) / iod)
stack = np.stack(distances)  # faces, 68, 478
mean = stack.mean(0)
choice = mean.argmin(1)
print(f"faces used: {len(distances)}")
print("MESH_TO_68 = (", ", ".join(str(int(i)) for i in choice), ")")
print(
    f"residual (fraction of inter-ocular distance): mean {mean.min(1).mean():.3f} max {mean.min(1).max():.3f}"
)
