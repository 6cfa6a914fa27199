"""The map between the project's crop and DeepFaceLab's whole-face crop (what the DFM graph
resamples with): it puts the five template points where FaceFusion's `dfl_whole_face` has them, and
a face cut FaceFusion's way, resampled, looks like the same face cut the project's way."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facetransfer.export.template import (
    DFL_WHOLE_FACE_5,
    crop_map,
    dfl_to_ours_matrices,
    five_points,
    ours_to_dfl_matrices,
    resampling_matrix,
)
from facetransfer.faces.align import (
    COVERAGES,
    Coverage,
    alignment_matrices,
    template_points,
    umeyama,
    warp_to_crop,
)


@pytest.mark.parametrize("coverage", COVERAGES)
def test_the_map_puts_the_five_points_on_the_dfl_template(coverage: Coverage) -> None:
    resolution = 128
    mapping = crop_map(resolution, coverage)
    mapped = mapping.ours_to_dfl(five_points(template_points(resolution, coverage)))
    error_px = np.linalg.norm(mapped - DFL_WHOLE_FACE_5 * resolution, axis=1)
    assert error_px.max() < 0.04 * resolution
    assert abs(mapping.rotation_deg) < 1.0
    np.testing.assert_allclose(
        mapping.dfl_to_ours(mapped), five_points(template_points(resolution, coverage))
    )


def test_coverages_order_how_much_the_crop_holds() -> None:
    """A tight `face` crop enlarges the face relative to DFL's whole face (scale < 1 into DFL);
    `whole` holds more than DFL's crop (scale > 1)."""
    scales = [crop_map(128, coverage).scale for coverage in ("face", "full", "whole")]
    assert scales[0] < scales[1] < scales[2]
    assert scales[0] < 1.0 < scales[2]


def test_resampling_matrix() -> None:
    identity = resampling_matrix(16, 1.0, 0.0, clamp=True)
    np.testing.assert_allclose(identity, np.eye(16), atol=1e-6)
    half_shift = resampling_matrix(16, 1.0, 0.5, clamp=True)
    assert half_shift[3, 3] == pytest.approx(0.5) and half_shift[3, 4] == pytest.approx(0.5)
    np.testing.assert_allclose(half_shift.sum(1), 1.0, atol=1e-6)
    outside = resampling_matrix(16, 0.5, -2.0, clamp=False)  # rows mapping before the source: empty
    assert outside[0].sum() == 0.0 and outside[-1].sum() == pytest.approx(1.0)


def _synthetic_face(landmarks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    generator = np.random.default_rng(7)
    image = cv2.resize(
        generator.integers(30, 220, (size[1] // 10, size[0] // 10, 3), dtype=np.uint8),
        size,
        interpolation=cv2.INTER_CUBIC,
    )
    cv2.fillConvexPoly(
        image, cv2.convexHull(np.round(landmarks).astype(np.int32)), (205, 150, 125), cv2.LINE_AA
    )
    for part in (slice(36, 42), slice(42, 48), slice(48, 60), slice(17, 22), slice(22, 27)):
        cv2.polylines(image, [np.round(landmarks[part]).astype(np.int32)], True, (30, 20, 20), 2, cv2.LINE_AA)
    return image


@pytest.mark.parametrize("coverage", ["face", "full"])
def test_a_dfl_crop_resampled_is_the_projects_crop(coverage: Coverage) -> None:
    resolution = 128
    rotation = cv2.getRotationMatrix2D((0.0, 0.0), 8.0, 1.0)[:, :2]
    landmarks = (template_points(300, "full") - 150) @ rotation.T * 0.9 + np.array([220.0, 170.0])
    frame = _synthetic_face(landmarks.astype(np.float32), (440, 360))
    frame_to_ours, _ = alignment_matrices(landmarks, resolution, coverage)
    ours = warp_to_crop(frame, frame_to_ours, resolution).astype(np.float32)
    # FaceFusion's cut: the five points onto the dfl_whole_face template
    frame_to_dfl = umeyama(five_points(landmarks), DFL_WHOLE_FACE_5 * resolution)
    dfl = warp_to_crop(frame, frame_to_dfl, resolution).astype(np.float32)

    rows, columns = dfl_to_ours_matrices(resolution, coverage)
    resampled = np.stack([rows @ dfl[..., channel] @ columns.T for channel in range(3)], axis=-1)
    inner = slice(resolution // 6, resolution - resolution // 6)
    error = np.abs(resampled - ours)[inner, inner].mean()
    unmapped = np.abs(dfl - ours)[inner, inner].mean()
    assert error < 6.0, error
    assert error < 0.35 * unmapped, (error, unmapped)

    # and back: the project's crop resampled into DFL's layout is DFL's crop where it reaches
    back_rows, back_columns = ours_to_dfl_matrices(resolution, coverage)
    back = np.stack([back_rows @ ours[..., channel] @ back_columns.T for channel in range(3)], axis=-1)
    centre = slice(resolution // 3, resolution - resolution // 3)
    assert np.abs(back - dfl)[centre, centre].mean() < 6.0
