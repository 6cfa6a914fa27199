"""Helpers for the provenance tests: re-encoding with PyAV, PSNR, small marked videos."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import av
import cv2
import numpy as np

from facetransfer.media import VideoWriter, read_frames
from facetransfer.provenance import Watermarker, container_metadata


def reencode(
    frames: Sequence[np.ndarray], crf: int, scale: float = 1.0, preset: str = "veryfast"
) -> list[np.ndarray]:
    """Encode RGB frames to H.264 (yuv420p) in memory with PyAV, optionally resized, and decode them."""
    height, width = frames[0].shape[:2]
    out_w, out_h = int(width * scale) // 2 * 2, int(height * scale) // 2 * 2
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = out_w, out_h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        for frame in frames:
            if (out_w, out_h) != (width, height):
                frame = cv2.resize(frame, (out_w, out_h), interpolation=cv2.INTER_AREA)
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            ):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        return [decoded.to_ndarray(format="rgb24") for decoded in container.decode(video=0)]


def reencode_file(source: Path, destination: Path, crf: int, scale: float = 1.0) -> None:
    """Re-encode a video file with PyAV (no metadata carried over), as a sharing site would."""
    frames = [frame.image for frame in read_frames(source)]
    height, width = frames[0].shape[:2]
    out_w, out_h = int(width * scale) // 2 * 2, int(height * scale) // 2 * 2
    with av.open(str(destination), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = out_w, out_h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for frame in frames:
            if (out_w, out_h) != (width, height):
                frame = cv2.resize(frame, (out_w, out_h), interpolation=cv2.INTER_AREA)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def psnr_db(reference: np.ndarray, test: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR of `test` against `reference` (uint8), over `mask` > 0 when given."""
    difference = reference.astype(np.float64) - test.astype(np.float64)
    squared = difference**2
    if mask is not None:
        squared = squared[mask > 0]
    mse = float(np.mean(squared))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def write_marked_video(
    source: Path, output: Path, payload: int, frames: int | None = None, crf: int = 18
) -> list[np.ndarray]:
    """Write `source` (or its first `frames` frames) marked and tagged, with its audio.

    Returns the marked frames (before encoding)."""
    images = [frame.image for frame in read_frames(source)][:frames]
    height, width = images[0].shape[:2]
    marker = Watermarker(width, height, payload)
    marked = [marker.embed(image) for image in images]
    with VideoWriter.like(
        output, source, metadata=container_metadata(payload), crf=crf, preset="veryfast"
    ) as writer:
        for image in marked:
            writer.write(image)
    return marked
