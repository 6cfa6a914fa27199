import numpy as np
import pytest

from facetransfer.faces.align import (
    ALIGN_POINTS,
    COVERAGES,
    alignment_matrices,
    apply_affine,
    invert_affine,
    template_points,
    umeyama,
)


def _similarity(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    angle = np.radians(angle_deg)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.hstack([rotation, np.array(shift)[:, None]])


def test_umeyama_recovers_a_known_similarity() -> None:
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 100, size=(30, 2))
    truth = _similarity(17.0, 1.7, (12.0, -40.0))
    target = source @ truth[:, :2].T + truth[:, 2]
    np.testing.assert_allclose(umeyama(source, target), truth, atol=1e-9)


def test_umeyama_never_reflects() -> None:
    rng = np.random.default_rng(1)
    source = rng.uniform(0, 100, size=(20, 2))
    mirrored = source * np.array([-1.0, 1.0])
    matrix = umeyama(source, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_alignment_round_trip_and_template_fit() -> None:
    template = template_points(256, "full").astype(np.float64)
    truth = _similarity(-8.0, 0.55, (300.0, 120.0))
    landmarks_frame = (template @ truth[:, :2].T + truth[:, 2]).astype(np.float32)
    frame_to_crop, crop_to_frame = alignment_matrices(landmarks_frame, 256, "full")
    assert frame_to_crop.dtype == np.float32 and frame_to_crop.shape == (2, 3)
    landmarks_crop = apply_affine(landmarks_frame, frame_to_crop)
    np.testing.assert_allclose(landmarks_crop, template, atol=1e-2)
    np.testing.assert_allclose(apply_affine(landmarks_crop, crop_to_frame), landmarks_frame, atol=1e-2)
    np.testing.assert_allclose(invert_affine(crop_to_frame), frame_to_crop, atol=1e-4)


@pytest.mark.parametrize("coverage", COVERAGES)
def test_template_inside_crop_and_level(coverage: str) -> None:
    points = template_points(128, coverage)  # type: ignore[arg-type]
    assert points.min() > 0 and points.max() < 128
    right_eye, left_eye = points[36:42].mean(0), points[42:48].mean(0)
    assert abs(right_eye[1] - left_eye[1]) < 1e-3 and right_eye[0] < left_eye[0]


def test_coverages_hold_more_of_the_head_in_order() -> None:
    widths = [np.ptp(template_points(256, c)[:, 0]) for c in ("face", "full", "whole")]
    assert widths[0] > widths[1] > widths[2]
    assert len(ALIGN_POINTS) >= 30
