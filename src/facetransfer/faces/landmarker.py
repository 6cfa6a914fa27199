"""MediaPipe face mesh (478 points with refined irises) run on a square crop around one face, so
small faces and several faces per frame get full-resolution landmarks."""

from __future__ import annotations

import cv2
import numpy as np

from facetransfer.faces.detectors import native_stderr_silenced, quiet_mediapipe
from facetransfer.faces.landmarks import mesh_to_68

MESH_INPUT_PX = 256
# The crop is this many times the face box: the mesh's own detector needs some context around the face.
CROP_SCALE = 1.7


def square_roi(
    bbox: tuple[float, float, float, float], scale: float = CROP_SCALE
) -> tuple[float, float, float]:
    """(centre_x, centre_y, side) of a square `scale` times the box's longer side."""
    x0, y0, x1, y1 = bbox
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, max(x1 - x0, y1 - y0) * scale


class MeshLandmarker:
    """Landmarks of the face inside a box: float32 (478, 3) mesh points (x, y in frame pixels, z in the
    same scale, negative towards the camera) or None when the mesh finds no face there."""

    name = "mediapipe-mesh"

    def __init__(self, min_score: float = 0.5) -> None:
        quiet_mediapipe()
        import mediapipe as mp

        with native_stderr_silenced():
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=1,
                refine_landmarks=True,
                min_detection_confidence=min_score,
            )
            # calculators open (and log) on graph threads: wait for that inside the block
            self._mesh.process(np.zeros((64, 64, 3), np.uint8))
        self._warm = False

    def mesh(self, image_rgb: np.ndarray, bbox: tuple[float, float, float, float]) -> np.ndarray | None:
        centre_x, centre_y, side = square_roi(bbox)
        if side < 8:
            return None
        scale = MESH_INPUT_PX / side
        # frame -> crop: scale about the ROI's top-left corner
        matrix = np.array(
            [[scale, 0.0, -(centre_x - side / 2) * scale], [0.0, scale, -(centre_y - side / 2) * scale]]
        )
        crop = cv2.warpAffine(
            image_rgb,
            matrix,
            (MESH_INPUT_PX, MESH_INPUT_PX),
            flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
        )
        if self._warm:
            result = self._mesh.process(crop)
        else:  # the landmark projection logs a warning on the first face it sees
            with native_stderr_silenced():
                result = self._mesh.process(crop)
            self._warm = bool(result.multi_face_landmarks)
        if not result.multi_face_landmarks:
            return None
        points = np.array(
            [[p.x, p.y, p.z] for p in result.multi_face_landmarks[0].landmark], dtype=np.float64
        )
        points *= MESH_INPUT_PX
        points[:, 0] = points[:, 0] / scale + (centre_x - side / 2)
        points[:, 1] = points[:, 1] / scale + (centre_y - side / 2)
        points[:, 2] = points[:, 2] / scale
        return points.astype(np.float32)

    def landmarks68(
        self, image_rgb: np.ndarray, bbox: tuple[float, float, float, float]
    ) -> np.ndarray | None:
        points = self.mesh(image_rgb, bbox)
        return None if points is None else mesh_to_68(points)

    def close(self) -> None:
        self._mesh.close()


def landmarks_bbox(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) box of landmarks, grown upwards to hold the forehead like a detector's box."""
    x0, y0 = landmarks.min(0)
    x1, y1 = landmarks.max(0)
    height = y1 - y0
    return float(x0), float(y0 - 0.25 * height), float(x1), float(y1)
