import math

import numpy as np
import pytest

from facetransfer.evaluate.geometry import EXPRESSION_POINTS, expression_error, inter_ocular_px, pose_errors
from facetransfer.evaluate.stats import finite_values, share, summarize
from facetransfer.faces.align import mean_face_3d, template_points


def test_summarize_ignores_missing_values() -> None:
    stats = summarize([1.0, None, 2.0, float("nan"), 3.0, 4.0, float("inf")])
    assert stats == {"mean": 2.5, "median": 2.5, "p90": pytest.approx(3.7), "count": 4}
    assert summarize([None, float("nan")]) == {"mean": None, "median": None, "p90": None, "count": 0}
    assert finite_values([]).shape == (0,)
    assert share([True, False, False, True]) == 0.5 and share([]) is None


def _face(size: float = 200.0) -> np.ndarray:
    return template_points(int(size), "full").astype(np.float32)


def _similarity(points: np.ndarray, angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    angle = math.radians(angle_deg)
    rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return (points @ rotation.T + np.array(shift)).astype(np.float32)


def test_expression_error_ignores_similarity_transforms() -> None:
    face = _face()
    assert expression_error(face, face) == 0.0
    moved = _similarity(face, 12.0, 1.4, (35.0, -20.0))
    assert expression_error(moved, face) == pytest.approx(0.0, abs=1e-5)


def test_expression_error_measures_an_open_mouth_in_eye_distances() -> None:
    face = _face()
    eye_distance = inter_ocular_px(face)
    opened = face.copy()
    opened[[*range(55, 60), *range(65, 68)], 1] += 0.3 * eye_distance  # lower lip down
    error = expression_error(opened, face)
    # 8 of the 32 expression points moved by 0.3 eye distances; the fit points did not move
    assert error == pytest.approx(0.3 * 8 / len(EXPRESSION_POINTS), rel=1e-3)
    # the same change on a face twice as big, seen through a rotation, is the same error
    big, big_opened = _similarity(face, 0, 2.0, (0, 0)), _similarity(opened, 0, 2.0, (0, 0))
    assert expression_error(_similarity(big_opened, -8, 1.0, (5, 5)), big) == pytest.approx(error, rel=1e-3)


def _project(yaw: float, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    y, p, r = np.radians([-yaw, -pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    model = mean_face_3d() - mean_face_3d().mean(0)
    camera = model @ (rz @ ry @ rx).T + np.array([0.0, 0.0, 6.0])
    return (camera[:, :2] / camera[:, 2:] * 640.0 + np.array([320.0, 240.0])).astype(np.float32)


def test_pose_errors_are_the_angle_differences() -> None:
    assert pose_errors(_project(10), _project(10), 640, 480) == pytest.approx((0, 0, 0, 0), abs=1e-6)
    yaw, pitch, roll, norm = pose_errors(_project(25, 0, 0), _project(5, 0, 0), 640, 480)
    assert yaw == pytest.approx(20.0, abs=1.5) and pitch < 1.5 and roll < 1.5
    _, pitch, roll, norm = pose_errors(_project(0, 12, -9), _project(0, 0, 0), 640, 480)
    assert pitch == pytest.approx(12.0, abs=1.5) and roll == pytest.approx(9.0, abs=1.5)
    assert norm == pytest.approx(15.0, abs=1.5)
