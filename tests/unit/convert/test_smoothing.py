"""Landmark smoothing: less jitter on a still head, little lag on a head turn, restarts at cuts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from facetransfer.convert.smoothing import (
    TrackSmoother,
    face_size_px,
    jitter,
    smooth_track,
    smoothing_parameters,
    track_corners,
)
from facetransfer.faces.align import template_points

FPS = 25.0
CROP = 128


def _head(frames: int, turn_start: int, turn_frames: int, turn_size: float, seed: int = 0):
    """A synthetic track: 68 landmarks of a ~120 px face, still, then a smooth move of `turn_size` face
    sizes over `turn_frames` frames, then still; returns (true, noisy) (T, 68, 2) and the face size."""
    base = template_points(150, "face").astype(np.float64) + 200.0
    size = face_size_px(base)
    progress = np.clip((np.arange(frames) - turn_start) / turn_frames, 0.0, 1.0)
    progress = 0.5 - 0.5 * np.cos(np.pi * progress)
    true = base[None] + (progress * turn_size * size)[:, None, None] * np.array([1.0, 0.3])
    generator = np.random.default_rng(seed)
    # Detector noise: about 1 px per point plus a shared 0.7 px wobble of the whole face.
    noisy = true + generator.normal(0, 1.0, true.shape) + generator.normal(0, 0.7, (frames, 1, 2))
    return true, noisy, size


def _halfway_frame(track: np.ndarray) -> float:
    """Sub-frame time at which the mean x crosses half-way between its start and end values."""
    x = track[:, :, 0].mean(1)
    half = (x[:20].mean() + x[-10:].mean()) / 2.0
    after = int(np.argmax(x > half))
    return after - 1 + (half - x[after - 1]) / (x[after] - x[after - 1])


def test_strength_maps_to_a_decreasing_cutoff_and_zero_is_off() -> None:
    assert smoothing_parameters(0.0) is None
    cutoffs = [smoothing_parameters(s).min_cutoff_hz for s in (0.1, 0.3, 0.5, 0.7, 1.0)]  # type: ignore[union-attr]
    assert all(a > b for a, b in itertools.pairwise(cutoffs))
    with pytest.raises(ValueError):
        smoothing_parameters(1.5)


def test_smoothing_off_returns_the_landmarks_unchanged() -> None:
    _, noisy, _ = _head(30, 100, 10, 0.0)
    np.testing.assert_allclose(smooth_track(noisy, np.arange(30) / FPS, 0.0), noisy, atol=1e-4)


def test_smoother_reduces_jitter_of_a_still_head_threefold() -> None:
    true, noisy, _ = _head(60, 1000, 10, 0.0)
    smoothed = smooth_track(noisy, np.arange(60) / FPS, 0.5)
    raw_corners, raw_sides = track_corners(noisy, CROP, "full")
    smooth_corners, smooth_sides = track_corners(smoothed, CROP, "full")
    raw_jitter = jitter(raw_corners, raw_sides)
    smooth_jitter = jitter(smooth_corners[5:], smooth_sides[5:])
    assert raw_jitter > 0.005  # the synthetic noise is visible
    assert smooth_jitter < raw_jitter / 3.0, (raw_jitter, smooth_jitter)
    # And it stays on the face: no drift away from the true landmarks.
    assert np.abs(smoothed[10:] - true[10:]).mean() < 1.0


@pytest.mark.parametrize("turn_frames", [6, 12, 25])
@pytest.mark.parametrize("strength", [0.5, 0.9])
def test_smoother_follows_a_head_turn_within_a_frame(turn_frames: int, strength: float) -> None:
    """A turn of half a face size (a quick look to the side): the smoothed track crosses half-way at
    most a frame and a half after the true one and has settled on the new position three frames after
    the turn (a plain low-pass with the same still-head cut-off lags by 2 to 9 frames here)."""
    frames = 40 + turn_frames + 30
    true, noisy, size = _head(frames, 40, turn_frames, 0.5)
    smoothed = smooth_track(noisy, np.arange(frames) / FPS, strength)
    lag = _halfway_frame(smoothed) - _halfway_frame(true)
    assert -0.5 < lag <= 1.5, lag
    settled = 40 + turn_frames + 3
    assert np.abs(smoothed[settled:] - true[settled:]).mean(axis=(1, 2)).max() < 0.02 * size


def test_a_frame_gap_restarts_the_filter() -> None:
    _, noisy, _ = _head(20, 1000, 10, 0.0)
    smoother = TrackSmoother(0.9)
    for index in range(10):
        smoother(7, index, index / FPS, noisy[index])
    moved = noisy[10] + 40.0
    # Frame 15 after frame 9: the face was lost in between; start again from the raw landmarks.
    np.testing.assert_allclose(smoother(7, 15, 15 / FPS, moved), moved, atol=1e-4)
    assert smoother.restarts == 1


def test_a_jump_of_half_a_face_in_one_frame_restarts_the_filter() -> None:
    """A scene cut inside one track: the swapped face must not glide from the old face to the new one."""
    _, noisy, size = _head(20, 1000, 10, 0.0)
    smoother = TrackSmoother(0.9)
    for index in range(10):
        smoother(1, index, index / FPS, noisy[index])
    jumped = noisy[10] + np.array([0.8 * size, 0.0])
    np.testing.assert_allclose(smoother(1, 10, 10 / FPS, jumped), jumped, atol=1e-4)


def test_tracks_are_smoothed_independently() -> None:
    _, first, _ = _head(30, 10, 8, 0.4, seed=1)
    _, second, _ = _head(30, 5, 8, -0.3, seed=2)
    second = second + 300.0
    together = TrackSmoother(0.6)
    mixed_first, mixed_second = [], []
    for index in range(30):
        mixed_first.append(together(1, index, index / FPS, first[index]))
        mixed_second.append(together(2, index, index / FPS, second[index]))
    np.testing.assert_allclose(
        np.stack(mixed_first), smooth_track(first, np.arange(30) / FPS, 0.6), atol=1e-4
    )
    np.testing.assert_allclose(
        np.stack(mixed_second), smooth_track(second, np.arange(30) / FPS, 0.6), atol=1e-4
    )


def test_jitter_metric_values() -> None:
    corners = np.zeros((5, 4, 2))
    corners[:, :, 0] = np.arange(5)[:, None] * 2.0  # 2 px per frame
    assert jitter(corners, 100.0) == pytest.approx(0.02)
    assert jitter(corners, 100.0, order=2) == pytest.approx(0.0)  # steady motion is not shiver
    corners[::2, :, 1] += 1.0  # a 1 px up-down shiver on top
    assert jitter(corners, 100.0, order=2) == pytest.approx(0.02)
    assert jitter(corners[:1], 100.0) == 0.0
    with pytest.raises(ValueError):
        jitter(corners[0], 100.0)
