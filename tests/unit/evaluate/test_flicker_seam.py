import numpy as np
import pytest

from facetransfer.evaluate.flicker import FlickerMeter, backward_warp, mean_absolute_change
from facetransfer.evaluate.regions import face_window, hull_mask_in_window
from facetransfer.evaluate.seam import border_samples, hull_polygon, measure_seam
from facetransfer.faces.align import template_points
from facetransfer.faces.masks import face_hull_mask


def _texture(height: int = 160, width: int = 160, seed: int = 0) -> np.ndarray:
    """Smooth random texture (uint8 luma): the flow has something to follow."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (height // 8, width // 8)).astype(np.float32)
    return np.clip(cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def test_mean_absolute_change_weights_by_the_mask() -> None:
    a = np.zeros((4, 4), np.uint8)
    b = a.copy()
    b[:, :2] = 10
    mask = np.zeros((4, 4), np.float32)
    mask[:, 1:3] = 1.0
    assert mean_absolute_change(a, b, mask) == pytest.approx(5.0)
    assert np.isnan(mean_absolute_change(a, b, np.zeros_like(mask)))


def test_backward_warp_follows_a_translation() -> None:
    image = _texture().astype(np.float32)
    flow = np.zeros((*image.shape, 2), np.float32)
    flow[..., 0] = -3.0  # pixel x of the current frame was at x - 3 in the previous one
    warped = backward_warp(image, flow)
    np.testing.assert_allclose(warped[:, 10:], image[:, 7:-3], atol=1e-3)


def test_flicker_excess_is_zero_for_a_faithful_output_and_grows_with_noise() -> None:
    meter = FlickerMeter()
    previous = _texture()
    current = np.roll(previous, 3, axis=1)  # the target moves 3 px right
    mask = np.zeros(previous.shape, np.float32)
    mask[30:130, 30:130] = 1.0
    same = meter.measure(previous, current, previous, current, mask)
    assert same.mad_excess == 0.0 and same.warp_excess == 0.0
    assert same.warp_target < 0.3 * same.mad_target  # the flow explains the motion away

    sigma = 5.0
    rng = np.random.default_rng(1)
    noisy_previous = np.clip(previous + rng.normal(0, sigma, previous.shape), 0, 255).astype(np.uint8)
    noisy_current = np.clip(current + rng.normal(0, sigma, current.shape), 0, 255).astype(np.uint8)
    noisy = meter.measure(previous, current, noisy_previous, noisy_current, mask)
    # two independent N(0, s^2) draws differ by |N(0, 2 s^2)|, whose mean is 2 s / sqrt(pi) ~ 5.6;
    # the frame difference (MAD) hardly sees it under the motion, the warping error does
    assert 4.0 < noisy.warp_excess < 7.0
    assert noisy.mad_excess < 2.0

    # no motion, one noisy frame: mean |N(0, s^2)| = s * sqrt(2 / pi) ~ 4.0
    still = meter.measure(previous, previous, noisy_previous, previous, mask)
    assert 3.0 < still.mad_excess < 5.0 and 3.0 < still.warp_excess < 5.0

    frozen = meter.measure(previous, current, previous, previous, mask)  # output stuck on one frame
    assert frozen.warp_excess > 5.0


SIZE = 300


def _frame_with_face() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    image = np.full((SIZE, SIZE, 3), (60, 110, 160), np.uint8)
    image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    landmarks = template_points(200, "face") + np.float32(50)
    size = SIZE
    face = face_hull_mask(landmarks, size, size)[..., None]
    image = (image * (1 - face) + np.array([200, 160, 140]) * face).astype(np.uint8)
    return image, landmarks


def test_border_samples_straddle_the_hull() -> None:
    _, landmarks = _frame_with_face()
    polygon = hull_polygon(landmarks)
    samples = border_samples(polygon, offset_px=5.0)
    assert len(samples.border) > 100
    inside_mask = face_hull_mask(landmarks, SIZE, SIZE)
    inside = samples.inside.round().astype(int)
    outside = samples.outside.round().astype(int)
    assert inside_mask[inside[:, 1], inside[:, 0]].mean() > 0.95
    assert inside_mask[outside[:, 1], outside[:, 0]].mean() < 0.05


def test_seam_is_zero_unchanged_and_sees_a_pasted_face_but_not_a_global_grade() -> None:
    image, landmarks = _frame_with_face()
    mask = face_hull_mask(landmarks, SIZE, SIZE)
    unchanged = measure_seam(image, image, landmarks, mask)
    assert unchanged is not None
    assert unchanged.color == 0.0 and unchanged.gradient_excess == 0.0

    pasted = image.astype(np.float32)
    pasted[mask > 0.5] += 25.0  # a brighter face pasted with a hard edge
    pasted_seam = measure_seam(np.clip(pasted, 0, 255).astype(np.uint8), image, landmarks, mask)
    assert pasted_seam is not None and pasted_seam.color > 5.0 and pasted_seam.gradient_excess > 1.0

    brighter = np.clip(image.astype(np.float32) + 25.0, 0, 255).astype(np.uint8)  # the whole frame
    brighter_seam = measure_seam(brighter, image, landmarks, mask)
    assert brighter_seam is not None and brighter_seam.color < 0.3 * pasted_seam.color
    assert abs(brighter_seam.gradient_excess) < 0.2


def test_face_window_is_clipped_and_the_mask_follows_it() -> None:
    landmarks = template_points(100, "full") + np.array([-30.0, 10.0], np.float32)  # off the left edge
    window = face_window(landmarks, 120, 160)
    x0, y0, x1, y1 = window
    assert x0 == 0 and 0 <= y0 < y1 <= 120 and x1 <= 160
    mask = hull_mask_in_window(landmarks, window)
    assert mask.shape == (y1 - y0, x1 - x0)
    full = face_hull_mask(landmarks, 120, 160)
    np.testing.assert_array_equal(mask, full[y0:y1, x0:x1])
