"""Contract of every entry of the other registries (parametrised over them, so a new entry is tested
for free): face detectors, colour matchers, blend masks. Each registry's `Literal` type, which the
options use, names exactly its entries."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import cv2
import numpy as np
import pytest

from facetransfer.convert.blend import MASK_KINDS, compose_mask
from facetransfer.convert.color import COLOR_MATCHERS, COLOR_MODES, match_color
from facetransfer.faces.align import template_points
from facetransfer.faces.detectors import DETECTORS, DetectorName, create_detector
from facetransfer.media import read_image


def test_the_option_types_name_exactly_the_registries() -> None:
    assert set(get_args(DetectorName)) == set(DETECTORS)
    assert set(COLOR_MODES) == set(COLOR_MATCHERS)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_a_detector_finds_the_face_of_a_photo_best_first(name: str, shared_data: Path) -> None:
    """(False faces on textures are the verifier's to reject: `faces.verify`, not the detector's.)"""
    detector = create_detector(name, min_score=0.5)
    try:
        photo = read_image(shared_data / "image/faces/obama.jpg")
        found = detector.detect(photo)
        assert found, f"{name} found no face"
        best = found[0]
        height, width = photo.shape[:2]
        x0, y0, x1, y1 = best.bbox
        assert -0.1 * width <= x0 < x1 <= 1.1 * width and -0.1 * height <= y0 < y1 <= 1.1 * height
        assert 0.5 <= best.score <= 1.0 and best.keypoints.shape == (5, 2)
        assert best.size_px > 0.1 * min(height, width)  # the portrait's face, not a speck
        assert [face.score for face in found] == sorted((face.score for face in found), reverse=True)
        crowd = detector.detect(read_image(shared_data / "image/faces/two_people.jpg"))
        assert len(crowd) >= 2
    finally:
        detector.close()


def _faces(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth source and target face-sized image pair of different colour casts, and a disc mask."""
    generator = np.random.default_rng(seed)
    base = cv2.GaussianBlur(generator.random((64, 64, 3)).astype(np.float32), (0, 0), 4)
    source = np.clip(base * 0.5 + np.array([0.40, 0.25, 0.20], np.float32), 0, 1)
    target = np.clip(base * 0.3 + np.array([0.20, 0.30, 0.45], np.float32), 0, 1)
    yy, xx = np.mgrid[:64, :64]
    mask = (((yy - 32) ** 2 + (xx - 32) ** 2) < 24**2).astype(np.float32)
    return source, target, mask


@pytest.mark.parametrize("mode", sorted(COLOR_MATCHERS))
def test_a_colour_matcher_keeps_the_shape_and_range_and_moves_toward_the_target(mode: str) -> None:
    source, target, mask = _faces()
    corrected = match_color(mode, source, target, mask)
    assert corrected.shape == source.shape and corrected.dtype == np.float32
    assert corrected.min() >= 0.0 and corrected.max() <= 1.0
    inside = mask >= 0.5
    before = np.abs(source[inside].mean(axis=0) - target[inside].mean(axis=0)).sum()
    after = np.abs(corrected[inside].mean(axis=0) - target[inside].mean(axis=0)).sum()
    if mode == "none":
        assert np.array_equal(corrected, source)
    else:
        assert after < 0.25 * before, f"{mode}: mean colour gap {before:.3f} -> {after:.3f}"


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_a_blend_mask_is_a_face_sized_weight_in_crop_space(kind: str) -> None:
    size = 96
    landmarks_crop = template_points(size, "full")
    learned = np.zeros((size, size), np.float32)
    learned[20:80, 20:80] = 1.0
    crop = np.full((size, size, 3), (200, 150, 120), np.uint8)  # an even skin colour
    mask = compose_mask(kind, landmarks_crop, learned, crop)
    assert mask.shape == (size, size) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    centre = mask[size // 2 - 4 : size // 2 + 4, size // 2 - 4 : size // 2 + 4]
    assert centre.min() == 1.0  # the middle of the face is swapped
    assert mask[:3, :3].max() == 0.0 and mask[-3:, -3:].max() == 0.0  # the crop's corners are not
    if kind.endswith("learned"):
        assert mask[5:15, :].max() == 0.0  # the learned mask is respected where it is off
        with pytest.raises(ValueError, match="learned mask"):
            compose_mask(kind, landmarks_crop, None, crop)
