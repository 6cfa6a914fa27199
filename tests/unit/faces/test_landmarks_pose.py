import numpy as np
import pytest

from facetransfer.faces.align import mean_face_3d
from facetransfer.faces.landmarks import MESH_TO_68, eye_angle_deg, mesh_to_68
from facetransfer.faces.pose import euler_from_rotation, head_pose


def test_mesh_mapping_is_68_distinct_mesh_vertices() -> None:
    assert len(MESH_TO_68) == 68 and len(set(MESH_TO_68)) == 68
    assert all(0 <= index < 468 for index in MESH_TO_68)
    mesh = np.arange(478 * 3, dtype=np.float32).reshape(478, 3)
    assert mesh_to_68(mesh).shape == (68, 2)
    with pytest.raises(ValueError):
        mesh_to_68(mesh[:100])


def test_mean_face_is_symmetric_and_upright() -> None:
    face = mean_face_3d()
    assert face.shape == (68, 3)
    assert eye_angle_deg(face[:, :2]) == pytest.approx(0.0, abs=0.5)
    assert face[8, 1] > face[30, 1] > face[27, 1]  # chin below nose tip below nose bridge
    assert face[30, 2] < face[36, 2]  # nose tip nearer the camera than the eyes


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    y, p, r = np.radians([-yaw, -pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, 0, 0), (-25, 10, 0), (0, -15, 12), (40, 5, -8)])
def test_head_pose_recovers_known_rotations(angles: tuple[float, float, float]) -> None:
    rotation = _rotation(*angles)
    assert euler_from_rotation(rotation) == pytest.approx(angles, abs=1e-6)
    model = mean_face_3d() - mean_face_3d().mean(0)
    camera_points = model @ rotation.T + np.array([0.0, 0.0, 6.0])
    focal, width, height = 640.0, 640, 480
    projected = camera_points[:, :2] / camera_points[:, 2:] * focal + np.array([width / 2, height / 2])
    assert head_pose(projected.astype(np.float32), width, height) == pytest.approx(angles, abs=2.0)


def test_yaw_sign_follows_the_image() -> None:
    # Face turned towards the image's right: the nose tip moves right of the eye midpoint.
    model = mean_face_3d() - mean_face_3d().mean(0)
    camera_points = model @ _rotation(30, 0, 0).T + np.array([0.0, 0.0, 6.0])
    projected = camera_points[:, :2] / camera_points[:, 2:]
    assert projected[30, 0] > projected[36:48, 0].mean()
