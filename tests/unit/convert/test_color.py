"""Colour matchers: each makes the in-mask statistics it promises match the target's, from the mask only."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facetransfer.convert.color import COLOR_MATCHERS, COLOR_MODES, DEFAULT_COLOR_MODE, match_color

SIZE = 96


def _face_like(seed: int, mean: tuple[float, float, float], mix: np.ndarray) -> np.ndarray:
    """float32 (SIZE, SIZE, 3) smooth, correlated colours around `mean`, well inside [0, 1]."""
    generator = np.random.default_rng(seed)
    noise = generator.normal(size=(SIZE // 8, SIZE // 8, 3)).astype(np.float32)
    noise = cv2.resize(noise, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
    noise += 0.3 * generator.normal(size=(SIZE, SIZE, 3)).astype(np.float32)
    image = np.asarray(mean, dtype=np.float32) + noise @ mix.T.astype(np.float32)
    return np.clip(image, 0.02, 0.98).astype(np.float32)


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    source = _face_like(
        1, (0.42, 0.36, 0.33), np.array([[0.05, 0.01, 0.0], [0.03, 0.04, 0.0], [0.0, 0.02, 0.03]])
    )
    target = _face_like(
        2, (0.62, 0.47, 0.40), np.array([[0.06, 0.0, 0.02], [0.05, 0.02, 0.0], [0.02, 0.03, 0.025]])
    )
    mask = np.zeros((SIZE, SIZE), dtype=np.float32)
    cv2.ellipse(mask, (SIZE // 2, SIZE // 2), (SIZE // 3, SIZE // 2 - 6), 0, 0, 360, 1.0, -1)
    # Outside the mask the target is a saturated blue wall: a matcher that looks there is wrong.
    target[mask < 0.5] = (0.05, 0.1, 0.9)
    return source, target, mask


def _inside(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return image[mask >= 0.5].astype(np.float64)


@pytest.mark.parametrize("mode", COLOR_MODES)
def test_every_mode_is_registered_and_keeps_shape_dtype_range(mode: str, pair) -> None:
    source, target, mask = pair
    result = match_color(mode, source, target, mask)
    assert mode in COLOR_MATCHERS
    assert result.shape == source.shape and result.dtype == np.float32
    assert result.min() >= 0.0 and result.max() <= 1.0
    np.testing.assert_array_equal(result, match_color(mode, source, target, mask))  # deterministic


@pytest.mark.parametrize("mode", COLOR_MODES)
def test_statistics_come_from_inside_the_mask_only(mode: str, pair) -> None:
    source, target, mask = pair
    other_background = target.copy()
    other_background[mask < 0.5] = (0.9, 0.8, 0.1)
    other_source = source.copy()
    other_source[mask < 0.5] = 0.5  # changes only pixels outside the mask of the source as well
    first = match_color(mode, source, target, mask)
    second = match_color(mode, other_source, other_background, mask)
    inside = mask >= 0.5
    np.testing.assert_allclose(first[inside], second[inside], atol=1e-5)


@pytest.mark.parametrize("mode", [m for m in COLOR_MODES if m != "none"])
def test_every_mode_moves_the_mean_to_the_target(mode: str, pair) -> None:
    source, target, mask = pair
    before = np.abs(_inside(source, mask).mean(0) - _inside(target, mask).mean(0)).max()
    after = np.abs(
        _inside(match_color(mode, source, target, mask), mask).mean(0) - _inside(target, mask).mean(0)
    )
    assert before > 0.1
    # rct matches the mean in Lab, which is close to but not exactly the RGB mean.
    assert after.max() < (0.01 if mode == "rct" else 2e-3), after


def test_none_returns_the_source(pair) -> None:
    source, target, mask = pair
    np.testing.assert_array_equal(match_color("none", source, target, mask), source)


def test_avg_matches_the_mean_exactly_and_keeps_the_spread(pair) -> None:
    source, target, mask = pair
    result = match_color("avg", source, target, mask)
    np.testing.assert_allclose(_inside(result, mask).mean(0), _inside(target, mask).mean(0), atol=1e-5)
    np.testing.assert_allclose(_inside(result, mask).std(0), _inside(source, mask).std(0), rtol=1e-3)


def test_rct_matches_lab_mean_and_deviation(pair) -> None:
    source, target, mask = pair
    result = match_color("rct", source, target, mask)
    result_lab = _inside(cv2.cvtColor(result, cv2.COLOR_RGB2Lab), mask)
    target_lab = _inside(cv2.cvtColor(target, cv2.COLOR_RGB2Lab), mask)
    # OpenCV's float Lab <-> RGB round trip is itself off by up to ~0.1 L unit; the gap before is ~13.
    np.testing.assert_allclose(result_lab.mean(0), target_lab.mean(0), atol=0.15)
    np.testing.assert_allclose(result_lab.std(0), target_lab.std(0), rtol=0.01)


@pytest.mark.parametrize("mode", ["lct", "mkl"])
def test_linear_modes_match_mean_and_covariance(mode: str, pair) -> None:
    source, target, mask = pair
    result = _inside(match_color(mode, source, target, mask), mask)
    wanted = _inside(target, mask)
    np.testing.assert_allclose(result.mean(0), wanted.mean(0), atol=1e-4)
    result_cov, wanted_cov = np.cov(result.T), np.cov(wanted.T)
    assert np.linalg.norm(result_cov - wanted_cov) < 0.01 * np.linalg.norm(wanted_cov)
    assert np.linalg.norm(np.cov(_inside(source, mask).T) - wanted_cov) > 0.2 * np.linalg.norm(wanted_cov)


def test_mkl_moves_colours_less_than_lct(pair) -> None:
    """Both maps reach the same covariance; Monge-Kantorovich is the one of least displacement."""
    source, target, mask = pair
    inside_source = _inside(source, mask)

    def displacement(mode: str) -> float:
        moved = _inside(match_color(mode, source, target, mask), mask)
        # Displacement of the centred colours (the mean shift is the same for both).
        return float((((moved - moved.mean(0)) - (inside_source - inside_source.mean(0))) ** 2).sum(1).mean())

    assert displacement("mkl") < displacement("lct")


def test_hist_matches_each_channel_histogram(pair) -> None:
    source, target, mask = pair
    result = _inside(match_color("hist", source, target, mask), mask)
    wanted = _inside(target, mask)
    quantiles = np.linspace(0.02, 0.98, 25)
    error = np.abs(np.quantile(result, quantiles, axis=0) - np.quantile(wanted, quantiles, axis=0)).max()
    before = np.abs(
        np.quantile(_inside(source, mask), quantiles, axis=0) - np.quantile(wanted, quantiles, axis=0)
    )
    assert before.max() > 0.1
    assert error < 2.0 / 255.0, error


def _sliced_distance(first: np.ndarray, second: np.ndarray, directions: int = 32) -> float:
    """Mean 1-D Wasserstein distance of two (N, 3) clouds along random directions."""
    generator = np.random.default_rng(7)
    quantiles = np.linspace(0.01, 0.99, 99)
    total = 0.0
    for _ in range(directions):
        axis = generator.normal(size=3)
        axis /= np.linalg.norm(axis)
        total += np.abs(np.quantile(first @ axis, quantiles) - np.quantile(second @ axis, quantiles)).mean()
    return total / directions


def test_idt_matches_the_three_dimensional_distribution(pair) -> None:
    source, target, mask = pair
    wanted = _inside(target, mask)
    before = _sliced_distance(_inside(source, mask), wanted)
    after_idt = _sliced_distance(_inside(match_color("idt", source, target, mask), mask), wanted)
    after_mean = _sliced_distance(_inside(match_color("avg", source, target, mask), mask), wanted)
    assert after_idt < 0.1 * before
    assert after_idt < 0.5 * after_mean  # more than a mean shift: the shape of the distribution too


@pytest.mark.parametrize("mode", COLOR_MODES)
def test_an_empty_mask_leaves_the_face_unchanged(mode: str, pair) -> None:
    source, target, _ = pair
    empty = np.zeros(source.shape[:2], dtype=np.float32)
    np.testing.assert_array_equal(match_color(mode, source, target, empty), source)


def test_unknown_mode_and_bad_shapes_are_refused(pair) -> None:
    source, target, mask = pair
    with pytest.raises(ValueError, match="colour mode"):
        match_color("lab", source, target, mask)
    with pytest.raises(ValueError, match="mask"):
        match_color("avg", source, target, mask[:-1])


def test_default_mode_is_a_registered_matcher() -> None:
    assert DEFAULT_COLOR_MODE in COLOR_MATCHERS
