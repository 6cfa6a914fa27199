"""Embedding: luma only, inside the region only, invisible by PSNR, exact arithmetic."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facetransfer.media import read_image
from facetransfer.provenance import Watermarker, make_payload
from facetransfer.provenance.pattern import pattern_tile
from provenance_helpers import psnr_db

PAYLOAD = make_payload(0x2468AC)


def test_output_shape_dtype_and_input_untouched(grid_frames: list[np.ndarray]) -> None:
    frame = grid_frames[0]
    before = frame.copy()
    marked = Watermarker(360, 288, PAYLOAD).embed(frame)
    assert marked.shape == frame.shape and marked.dtype == np.uint8
    np.testing.assert_array_equal(frame, before)
    assert np.any(marked != frame)


def test_change_is_the_same_in_r_g_b_so_only_luma_moves(grid_frames: list[np.ndarray]) -> None:
    frame = grid_frames[5]
    delta = Watermarker(360, 288, PAYLOAD).embed(frame).astype(np.int16) - frame.astype(np.int16)
    unclipped = np.all((frame > 20) & (frame < 235), axis=2)
    assert np.array_equal(delta[..., 0][unclipped], delta[..., 1][unclipped])
    assert np.array_equal(delta[..., 1][unclipped], delta[..., 2][unclipped])


def test_change_follows_the_pattern_and_rounds_exactly(grid_frames: list[np.ndarray]) -> None:
    frame = grid_frames[3]
    marker = Watermarker(360, 288, PAYLOAD)
    delta = marker.embed(frame).astype(np.float64)[..., 1] - frame[..., 1]
    amplitude = cv2.resize(marker.amplitude(frame), (360, 288), interpolation=cv2.INTER_LINEAR)
    tile = pattern_tile(PAYLOAD, marker.tile_px)
    expected = np.tile(tile, (3, 3))[:288, :360] * amplitude
    unclipped = (frame[..., 1] > 20) & (frame[..., 1] < 235)
    # Fixed-point arithmetic: at most one level from the exact rounded value.
    assert np.abs(delta - np.rint(expected))[unclipped].max() <= 1
    assert np.corrcoef(delta[unclipped], expected[unclipped])[0, 1] > 0.97


def test_region_mask_limits_the_change(grid_frames: list[np.ndarray]) -> None:
    frame = grid_frames[2]
    mask = np.zeros((288, 360), dtype=np.uint8)
    mask[80:240, 110:260] = 255
    marked = Watermarker(360, 288, PAYLOAD).embed(frame, region_mask=mask)
    outside = mask == 0
    np.testing.assert_array_equal(marked[outside], frame[outside])
    assert np.mean(marked[~outside] != frame[~outside]) > 0.3
    # Float and bool masks work the same way.
    soft = Watermarker(360, 288, PAYLOAD).embed(frame, region_mask=mask.astype(np.float32) / 255)
    np.testing.assert_array_equal(soft, marked)
    with pytest.raises(ValueError):
        Watermarker(360, 288, PAYLOAD).embed(frame, region_mask=mask[:100])


@pytest.mark.parametrize(
    "image",
    ["grid", "image/noface/baboon.jpg", "image/faces/astronaut.png", "image/noface/brick.png"],
)
def test_psnr_at_least_40_db_on_flat_and_textured_content(
    shared_data: Path, grid_frames: list[np.ndarray], image: str
) -> None:
    frames = grid_frames[::6] if image == "grid" else [read_image(shared_data / image)]
    for frame in frames:
        height, width = frame.shape[:2]
        marker = Watermarker(width, height, PAYLOAD)
        assert psnr_db(frame, marker.embed(frame)) >= 40.0
        mask = np.zeros((height, width), dtype=np.uint8)
        mask[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 255
        assert psnr_db(frame, marker.embed(frame, region_mask=mask), mask) >= 40.0


def test_flat_areas_get_the_small_amplitude(grid_frames: list[np.ndarray]) -> None:
    """The blue GRID backdrop (top right) is flat: its change stays near FLAT_RMS (1 level RMS)."""
    frame = grid_frames[0]
    delta = Watermarker(360, 288, PAYLOAD).embed(frame).astype(np.float64) - frame
    backdrop = delta[10:90, 250:350, 1]
    assert 0.6 < float(np.sqrt(np.mean(backdrop**2))) < 1.3


def test_strength_scales_and_zero_is_identity(grid_frames: list[np.ndarray]) -> None:
    frame = grid_frames[1]
    assert np.array_equal(Watermarker(360, 288, PAYLOAD, strength=0).embed(frame), frame)
    weak = psnr_db(frame, Watermarker(360, 288, PAYLOAD, strength=0.5).embed(frame))
    strong = psnr_db(frame, Watermarker(360, 288, PAYLOAD, strength=2.0).embed(frame))
    assert strong < weak - 8  # 4x the amplitude: about 12 dB less


def test_rejects_bad_input() -> None:
    marker = Watermarker(64, 48, PAYLOAD.to_bytes(4, "big"))
    assert marker.payload == PAYLOAD
    with pytest.raises(ValueError):
        marker.embed(np.zeros((48, 64, 3), dtype=np.float32))
    with pytest.raises(ValueError):
        marker.embed(np.zeros((64, 48, 3), dtype=np.uint8))
    with pytest.raises(ValueError):
        Watermarker(64, 48, b"\x01\x02")
    with pytest.raises(ValueError):
        Watermarker(0, 48, PAYLOAD)
