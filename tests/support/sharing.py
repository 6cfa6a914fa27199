"""What a sharing site does to a video, for measuring whether the watermark survives it: re-encode
with H.264 (optionally resized), and the PSNR that says how visible a mark is. Used by the provenance
tests and the watermark benchmark (`tests/support` is on pytest's path; the benchmark adds it)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from facetransfer.media import read_frames


def _encode_into(container: Any, frames: Sequence[np.ndarray], crf: int, scale: float, preset: str) -> None:
    """Encode RGB `frames` as H.264 yuv420p at 25 fps into an open output container, resized by
    `scale` (to even sizes) when it is not 1."""
    height, width = frames[0].shape[:2]
    out_w, out_h = int(width * scale) // 2 * 2, int(height * scale) // 2 * 2
    stream = container.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = out_w, out_h, "yuv420p"
    stream.options = {"crf": str(crf), "preset": preset}
    for frame in frames:
        if (out_w, out_h) != (width, height):
            frame = cv2.resize(frame, (out_w, out_h), interpolation=cv2.INTER_AREA)
        for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def reencode(
    frames: Sequence[np.ndarray], crf: int, scale: float = 1.0, preset: str = "veryfast"
) -> list[np.ndarray]:
    """Encode RGB frames to H.264 in memory, optionally resized, and decode them again."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        _encode_into(container, frames, crf, scale, preset)
    buffer.seek(0)
    with av.open(buffer, "r") as container:
        return [decoded.to_ndarray(format="rgb24") for decoded in container.decode(video=0)]


def reencode_file(
    source: Path, destination: Path, crf: int, scale: float = 1.0, preset: str = "veryfast"
) -> None:
    """Re-encode a video file (picture only, no metadata carried over), as a sharing site would."""
    frames = [frame.image for frame in read_frames(source)]
    with av.open(str(destination), "w") as container:
        _encode_into(container, frames, crf, scale, preset)


def psnr_db(reference: np.ndarray, test: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR of `test` against `reference` (uint8), over `mask` > 0 when given."""
    squared = (reference.astype(np.float64) - test.astype(np.float64)) ** 2
    if mask is not None:
        squared = squared[mask > 0]
    mse = float(np.mean(squared))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
