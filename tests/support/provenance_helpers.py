"""Helpers for the provenance tests: small marked videos, and the sharing-site transforms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facetransfer.media import VideoWriter, read_frames
from facetransfer.provenance import Watermarker, container_metadata
from sharing import psnr_db, reencode, reencode_file

__all__ = ["psnr_db", "reencode", "reencode_file", "write_marked_video"]


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
