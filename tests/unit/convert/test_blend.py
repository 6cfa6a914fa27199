"""Warping a face back and blending it: output-pixel mask shaping, exact placement, Poisson without shift."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from facetransfer.convert.blend import (
    PasteOptions,
    StableRect,
    compose_mask,
    mask_region,
    paste_face,
    place,
    scaled_about,
    shape_mask,
    sharpen,
)
from facetransfer.faces.align import invert_affine, template_points, warp_to_crop
from facetransfer.faces.masks import face_hull_mask
from facetransfer.faces.skin import skin_mask

CROP = 64


def _similarity(scale: float, angle_deg: float, shift: tuple[float, float]) -> np.ndarray:
    """float32 (2, 3) crop -> frame: rotate and scale about the crop's origin, then shift."""
    angle = math.radians(angle_deg)
    rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return np.hstack([rotation, np.asarray(shift, dtype=np.float64)[:, None]]).astype(np.float32)


def _textured_frame(height: int = 240, width: int = 320, seed: int = 0) -> np.ndarray:
    generator = np.random.default_rng(seed)
    noise = generator.random((height // 6, width // 6, 3)).astype(np.float32)
    image = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(image * 200 + 25, 0, 255).astype(np.uint8)


def _square_mask(inset: int = 12) -> np.ndarray:
    mask = np.zeros((CROP, CROP), np.float32)
    mask[inset:-inset, inset:-inset] = 1.0
    return mask


def test_compose_mask_kinds() -> None:
    landmarks = template_points(CROP, "full")
    hull = face_hull_mask(landmarks, CROP, CROP)
    learned = np.zeros((CROP, CROP), np.float32)
    learned[:, : CROP // 2] = 1.0
    crop = np.full((CROP, CROP, 3), (190, 140, 115), np.uint8)
    crop[: CROP // 4] = (40, 30, 25)  # dark hair over the forehead, coming in from the top
    np.testing.assert_array_equal(compose_mask("hull", landmarks, None, crop), hull)
    np.testing.assert_array_equal(compose_mask("learned", landmarks, learned, crop), learned)
    product = compose_mask("hull*learned", landmarks, learned, crop)
    np.testing.assert_allclose(product, hull * learned)
    assert 0 < product.sum() < min(hull.sum(), learned.sum())
    skin = compose_mask("skin", landmarks, None, crop)
    np.testing.assert_array_equal(skin, skin_mask(crop, landmarks))
    assert skin[: CROP // 4 - 2].max() < 0.05 < hull[: CROP // 4 - 2].max()  # the hair is left out
    np.testing.assert_allclose(compose_mask("skin*learned", landmarks, learned, crop), skin * learned)
    with pytest.raises(ValueError):
        compose_mask("learned", landmarks, None, crop)
    with pytest.raises(ValueError):
        compose_mask("bisenet", landmarks, learned, crop)


def test_paste_changes_only_the_face_rectangle_and_lands_where_it_was_cut() -> None:
    """Cut a crop out of a frame, paste it back unchanged: the frame is restored (interpolation error
    only), and every pixel outside the returned rectangle is untouched."""
    frame = _textured_frame()
    crop_to_frame = _similarity(2.0, 17.0, (140.0, 20.0))
    crop = warp_to_crop(frame, invert_affine(crop_to_frame), CROP)
    changed = frame.copy()
    changed[:] = 0
    result = changed.copy()
    # Paste the true crop onto a black frame: the face region must reproduce the original frame.
    pasted = paste_face(result, crop, _square_mask(), crop_to_frame, PasteOptions())
    assert pasted is not None
    inside = np.zeros(frame.shape[:2], bool)
    inside[pasted.y0 : pasted.y1, pasted.x0 : pasted.x1] = pasted.alpha > 0.999
    assert inside.sum() > 0.8 * (2 * (CROP - 24)) ** 2
    error = np.abs(result[inside].astype(int) - frame[inside].astype(int))
    assert error.mean() < 4.0, error.mean()  # half a pixel off gives 6, one pixel 11
    outside = np.ones(frame.shape[:2], bool)
    outside[pasted.y0 : pasted.y1, pasted.x0 : pasted.x1] = False
    assert (result[outside] == 0).all()


@pytest.mark.parametrize("scale", [1.5, 3.0])
def test_erode_is_in_output_pixels(scale: float) -> None:
    frame = np.zeros((300, 300, 3), np.uint8)
    face = np.full((CROP, CROP, 3), 255, np.uint8)
    crop_to_frame = _similarity(scale, 0.0, (20.0, 20.0))
    side = (CROP - 24) * scale  # the square mask's side in output pixels
    for erode in (0, 6, -6):
        result = frame.copy()
        paste_face(result, face, _square_mask(), crop_to_frame, PasteOptions(erode_px=erode))
        covered = (result[..., 0] > 127).sum(1).max()  # widest row of the pasted square
        assert abs(covered - (side - 2 * erode)) <= 2, (erode, covered, side)


@pytest.mark.parametrize("scale", [1.5, 3.0])
def test_blur_ramp_width_is_in_output_pixels(scale: float) -> None:
    """The edge's 10-90 % ramp spans the same number of output pixels whatever the crop scale."""
    crop_to_frame = _similarity(scale, 0.0, (20.0, 20.0))
    face = np.full((CROP, CROP, 3), 255, np.uint8)
    widths = {}
    for blur in (4, 12):
        result = np.zeros((300, 300, 3), np.uint8)
        paste_face(result, face, _square_mask(), crop_to_frame, PasteOptions(blur_px=blur))
        row = result[int(20 + CROP * scale / 2), :, 0].astype(float) / 255.0
        widths[blur] = int(((row > 0.1) & (row < 0.9))[: int(20 + CROP * scale / 2)].sum())
    # Gaussian of sigma blur/2: the 10-90 % ramp is 2.56 sigma = 1.28 blur pixels wide.
    assert abs(widths[4] - 1.28 * 4) <= 2, widths
    assert abs(widths[12] - 1.28 * 12) <= 2, widths


def test_shape_mask_erodes_then_feathers() -> None:
    mask = np.zeros((80, 80), np.float32)
    mask[20:60, 20:60] = 1.0
    assert shape_mask(mask, 5, 0).sum() == pytest.approx(30 * 30)
    assert shape_mask(mask, -5, 0).sum() > 40 * 40
    soft = shape_mask(mask, 0, 10)
    assert soft.max() <= 1.0 and soft[40, 40] > 0.99 and 0.3 < soft[40, 20] < 0.7


def test_face_scale_grows_the_face_about_its_centre() -> None:
    crop_to_frame = _similarity(2.0, 0.0, (50.0, 40.0))
    face = np.full((CROP, CROP, 3), 255, np.uint8)
    areas, centres = {}, {}
    for scale in (1.0, 1.2):
        result = np.zeros((240, 240, 3), np.uint8)
        paste_face(result, face, _square_mask(), crop_to_frame, PasteOptions(face_scale=scale))
        ys, xs = np.nonzero(result[..., 0] > 127)
        areas[scale], centres[scale] = len(xs), (xs.mean(), ys.mean())
    assert areas[1.2] / areas[1.0] == pytest.approx(1.44, rel=0.05)
    assert np.allclose(centres[1.0], centres[1.2], atol=0.6)
    matrix = scaled_about(crop_to_frame, (32.0, 32.0), 1.2)
    assert np.allclose(matrix[:, :2], 1.2 * crop_to_frame[:, :2])


def test_place_clips_to_the_frame_and_rejects_faces_outside() -> None:
    crop_to_frame = _similarity(2.0, 0.0, (-40.0, 200.0))
    placement = place(crop_to_frame, (0.0, 0.0, 64.0, 64.0), 240, 320)
    assert placement is not None
    assert (placement.x0, placement.y0, placement.x1, placement.y1) == (0, 200, 89, 240)
    assert place(_similarity(1.0, 0.0, (400.0, 10.0)), (0.0, 0.0, 64.0, 64.0), 240, 320) is None
    assert mask_region(np.zeros((CROP, CROP), np.float32)) is None


def test_poisson_removes_a_colour_offset_without_moving_the_face() -> None:
    """The face is the frame's own texture plus a colour offset. Alpha blending keeps the offset;
    Poisson blending takes the colour from the surroundings and keeps the texture where it is (a
    shift of one pixel would leave a large texture error)."""
    frame = _textured_frame(seed=3)
    crop_to_frame = _similarity(2.0, 8.0, (110.3, 40.7))
    crop = warp_to_crop(frame, invert_affine(crop_to_frame), CROP).astype(int)
    tinted = np.clip(crop + np.array([40, -25, 15]), 0, 255).astype(np.uint8)
    results = {}
    for mode in ("alpha", "poisson"):
        result = frame.copy()
        pasted = paste_face(
            result, tinted, _square_mask(10), crop_to_frame, PasteOptions(blend=mode), StableRect()
        )
        assert pasted is not None
        core = np.zeros(frame.shape[:2], bool)
        core[pasted.y0 : pasted.y1, pasted.x0 : pasted.x1] = pasted.alpha > 0.999
        results[mode] = np.abs(result[core].astype(int) - frame[core].astype(int)).mean()
    assert results["alpha"] > 20
    assert results["poisson"] < 4, results


def test_stable_rect_holds_while_the_face_stays_inside() -> None:
    rect = StableRect(slack=0.2)
    first = rect.update(100, 100, 200, 200, 480, 640)
    assert first == (80, 80, 220, 220)
    assert rect.update(103, 98, 204, 199, 480, 640) == first  # small motion: same rectangle
    moved = rect.update(150, 100, 250, 200, 480, 640)  # left it: re-centred
    assert moved == (130, 80, 270, 220)
    assert rect.update(160, 110, 200, 150, 480, 640) != moved  # much smaller face: fits it again


def test_sharpen_adds_detail_and_zero_is_identity() -> None:
    noise = np.random.default_rng(5).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(noise, (0, 0), 1.5)
    np.testing.assert_array_equal(sharpen(image, 0.0), image)
    sharper = sharpen(image, 1.0)
    assert cv2.Laplacian(sharper, cv2.CV_32F).var() > 1.5 * cv2.Laplacian(image, cv2.CV_32F).var()


def test_wide_feather_on_a_large_face_is_shaped_on_a_coarser_grid_without_visible_change() -> None:
    """blur 40 px: shaped every 5 output pixels and resized up; about the mask shaped at full size."""
    from facetransfer.convert.blend import place, shaped_mask, warp_mask

    crop_to_frame = _similarity(8.0, 10.0, (300.0, 50.0))
    mask = face_hull_mask(template_points(CROP, "full"), CROP, CROP)
    placement = place(crop_to_frame, (0.0, 0.0, float(CROP), float(CROP)), 800, 1000, 70)
    assert placement is not None
    coarse = shaped_mask(mask, placement, 12, 40)
    exact = shape_mask(warp_mask(mask, placement), 12, 40)
    assert coarse.shape == exact.shape
    # The erosion is exact to half a grid step (12 px becomes 10 here): a few hundredths at the edge.
    assert np.abs(coarse - exact).max() < 0.08 and np.abs(coarse - exact).mean() < 0.01
    rows, columns = np.mgrid[: exact.shape[0], : exact.shape[1]]
    for grid in (rows, columns):  # and no shift: the coarse grid is centred on the output pixels
        assert abs((coarse * grid).sum() / coarse.sum() - (exact * grid).sum() / exact.sum()) < 0.3
