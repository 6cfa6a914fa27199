"""Head pose (yaw, pitch, roll in degrees) from 68 landmarks and the 3-D mean face, by `cv2.solvePnP`
with a pinhole camera whose focal length is the frame's larger side.

Signs: yaw > 0 when the face turns towards the image's right, pitch > 0 when it tilts up, roll > 0
when the head leans so the image-right eye is lower (clockwise in the image)."""

from __future__ import annotations

import cv2
import numpy as np

from facetransfer.faces.align import mean_face_3d

# Points with little expression-driven motion: brows, nose, eye corners, mouth corners, chin, jaw sides.
POSE_POINTS: tuple[int, ...] = (0, 4, 8, 12, 16, 17, 21, 22, 26, 27, 30, 31, 33, 35, 36, 39, 42, 45, 48, 54)


def head_pose(landmarks_frame: np.ndarray, frame_width: int, frame_height: int) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a face's 68 landmarks (frame pixels)."""
    model = mean_face_3d()[list(POSE_POINTS)]
    image_points = landmarks_frame[list(POSE_POINTS)].astype(np.float64)
    focal = float(max(frame_width, frame_height))
    camera = np.array(
        [[focal, 0, frame_width / 2.0], [0, focal, frame_height / 2.0], [0, 0, 1]], dtype=np.float64
    )
    # SQPnP: a global solution without an initial guess, about 7x faster here than EPnP + refinement
    ok, rotation_vector, _ = cv2.solvePnP(model, image_points, camera, np.zeros(4), flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        return 0.0, 0.0, 0.0
    rotation, _ = cv2.Rodrigues(rotation_vector)
    return euler_from_rotation(rotation)


def euler_from_rotation(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees of a model-to-camera rotation (model and camera: x right, y down,
    z away from the camera)."""
    # R = Rz(roll) @ Ry(yaw) @ Rx(pitch) decomposition
    yaw = np.degrees(np.arcsin(np.clip(-rotation[2, 0], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(rotation[2, 1], rotation[2, 2]))
    roll = np.degrees(np.arctan2(rotation[1, 0], rotation[0, 0]))
    # yaw: model +z (into the face) turning towards camera +x means the face looks to image-left
    return float(-yaw), float(-pitch), float(roll)


def blur_score(crop_rgb: np.ndarray) -> float:
    """Blur in [0, 1) (higher is blurrier) of the centre of an aligned crop: 100 / (100 + v), where v is
    the variance of the Laplacian of the crop's central half resized to 128 px."""
    size = crop_rgb.shape[0]
    centre = crop_rgb[size // 4 : size - size // 4, size // 4 : size - size // 4]
    grey = cv2.cvtColor(cv2.resize(centre, (128, 128), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    variance = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    return 100.0 / (100.0 + variance)
