"""Detection on real frames: round trip, re-encoding, half size, crops, brightness, and no false
positives on any clip or image of ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facetransfer.media import IMAGE_EXTENSIONS, read_frames
from facetransfer.provenance import VideoWatermarkReader, Watermarker, detect_watermark, make_payload
from provenance_helpers import reencode
from shared_media import unmarked_media

PAYLOAD = make_payload(0x13579B)


@pytest.fixture(scope="module")
def delivered(grid_frames: list[np.ndarray]) -> list[np.ndarray]:
    """The marked GRID frames as a convert output holds them: H.264 at CRF 18."""
    marker = Watermarker(360, 288, PAYLOAD)
    return reencode([marker.embed(frame) for frame in grid_frames], crf=18)


def _share_found(frames: list[np.ndarray]) -> float:
    readings = [detect_watermark(frame) for frame in frames]
    assert all(reading.payload in (None, PAYLOAD) for reading in readings)  # never a wrong payload
    return sum(reading.payload == PAYLOAD for reading in readings) / len(readings)


def test_round_trip_on_marked_frames(grid_frames: list[np.ndarray]) -> None:
    marker = Watermarker(360, 288, PAYLOAD)
    frames = [marker.embed(frame) for frame in grid_frames[::4]]
    readings = [detect_watermark(frame) for frame in frames]
    assert all(reading.payload == PAYLOAD for reading in readings)
    assert all(abs(reading.tile_px - 128) < 1 for reading in readings)


def test_unmarked_grid_frames_give_nothing(grid_frames: list[np.ndarray]) -> None:
    assert _share_found(grid_frames) == 0.0


def test_survives_h264_crf28(delivered: list[np.ndarray]) -> None:
    assert _share_found(reencode(delivered, crf=28)) >= 0.9


def test_survives_half_size(delivered: list[np.ndarray]) -> None:
    half = reencode(delivered, crf=23, scale=0.5)
    assert _share_found(half) >= 0.8
    reader = VideoWatermarkReader()
    for frame in half:
        reader.add(frame)
    result = reader.finish()
    assert result.payload == PAYLOAD and result.share_found >= 0.9


def test_survives_crop_of_ten_percent_on_two_sides(delivered: list[np.ndarray]) -> None:
    cropped = [np.ascontiguousarray(frame[29:, 36:]) for frame in delivered]  # top and left
    readings = [detect_watermark(frame) for frame in cropped]
    assert sum(reading.payload == PAYLOAD for reading in readings) / len(readings) >= 0.9
    assert all(reading.payload in (None, PAYLOAD) for reading in readings)
    # The tile did not change size; the detector found its 128 px period in the cropped frame.
    assert np.median([reading.tile_px for reading in readings]) == pytest.approx(128, abs=2)


def test_survives_brightness_plus_10(delivered: list[np.ndarray]) -> None:
    brighter = [np.clip(frame.astype(np.int16) + 10, 0, 255).astype(np.uint8) for frame in delivered]
    assert _share_found(brighter) >= 0.9


def test_video_reader_pools_frames(delivered: list[np.ndarray]) -> None:
    reader = VideoWatermarkReader()
    for frame in reencode(delivered, crf=28):
        reader.add(frame)
    result = reader.finish()
    assert result.payload == PAYLOAD
    assert result.frames_decoded / result.frames >= 0.9  # each frame on its own
    assert result.share_found >= result.frames_decoded / result.frames
    assert result.alignment is not None and result.alignment.period == (128.0, 128.0)


def test_no_false_positives_in_shared_data(shared_data: Path) -> None:
    """Every clip (every 10th frame, per frame and pooled per video) and every image (the generic
    pretraining faces sampled): nothing found."""
    checked = 0
    for path in unmarked_media(shared_data):
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            reading = detect_watermark(next(read_frames(path)).image)
            assert reading.payload is None, path
            checked += 1
            continue
        # The video reader decodes each frame on its own (at its own sync peaks and at the shared
        # alignment: more tries than detect_watermark) and then all frames pooled.
        reader = VideoWatermarkReader()
        for frame in read_frames(path, every_n=10):
            reader.add(frame.image)
        result = reader.finish()
        assert result.frame_payloads == [None] * result.frames, path
        assert result.payload is None and result.frames_found == 0, path
        checked += result.frames
    assert checked > 200
