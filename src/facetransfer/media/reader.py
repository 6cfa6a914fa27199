"""Stream frames out of a video, a still image or a folder of images, as RGB uint8 arrays.

Every path through here yields `Frame` objects one at a time, so memory stays flat however long
the video is. Videos are decoded with PyAV (FFmpeg inside the wheel); still images with OpenCV.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import av.container
import av.error
import av.video.stream
import cv2
import numpy as np

from facetransfer.errors import ConfigError, MediaError

logger = logging.getLogger(__name__)

MediaKind = Literal["video", "image", "image_folder"]

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
"""Lower-case suffixes read as still images (by OpenCV)."""

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".m4v", ".mkv", ".mov", ".avi", ".mpg", ".mpeg", ".flv", ".webm", ".gif", ".ts", ".wmv"}
)
"""Lower-case suffixes read as videos (by PyAV). Unknown suffixes are also tried as videos."""

# Decoded timestamps are compared with start_s/end_s with this slack, so a frame whose time rounds
# to the requested start (e.g. 0.04 stored as 3599/90000 s) is not skipped.
_TIME_SLACK_S = 1e-4


@dataclass
class Frame:
    """One decoded picture.

    Attributes:
        index: 0-based position of this picture in the source's full frame sequence (also when
            `every_n` or `start_s` skip pictures), so it can be matched to the same frame later.
        timestamp_s: presentation time in seconds from the source's first frame (0.0 for the
            first frame). Still images and image folders have no clock: always 0.0 there.
        image: uint8 array of shape (H, W, 3), RGB, C-contiguous; already rotated upright when
            the video carries rotation metadata.
    """

    index: int
    timestamp_s: float
    image: np.ndarray


def natural_sort_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders "img2.png" before "img10.png" (digit runs compare as numbers)."""
    parts = re.split(r"(\d+)", name.casefold())
    return tuple((1, int(part)) if part.isdigit() else (0, part) for part in parts if part)


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside `folder` (not recursive, no hidden files), in natural order.

    Raises:
        MediaError: `folder` does not exist or is not a folder.
    """
    folder_path = Path(folder)
    if not folder_path.is_dir():
        raise MediaError(f"{folder_path}: not a folder; pass a folder that contains image files")
    images = [
        entry
        for entry in folder_path.iterdir()
        if entry.is_file() and not entry.name.startswith(".") and entry.suffix.lower() in IMAGE_EXTENSIONS
    ]
    return sorted(images, key=lambda entry: natural_sort_key(entry.name))


def _to_rgb_uint8(decoded: np.ndarray) -> np.ndarray:
    """Turn whatever OpenCV decoded (grey, BGR, BGRA; 8/16-bit or float) into RGB uint8 (H, W, 3)."""
    image = decoded
    if image.dtype == np.uint16:
        # 65535 / 257 == 255: exact mapping of the full range.
        image = np.round(image.astype(np.float32) / 257.0).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2RGB)
    if channels == 4:
        # Composite over black: transparent pixels often hold arbitrary colour values.
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        composited = np.round(image[:, :, :3].astype(np.float32) * alpha).astype(np.uint8)
        return cv2.cvtColor(composited, cv2.COLOR_BGR2RGB)
    return cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2RGB)


MAX_IMAGE_PIXELS = 150_000_000
"""Largest still image read (a 150 MP photo is 450 MB as RGB); checked from the header first."""
EXIF_ORIENTATION_TAG = 0x0112


def read_image(path: str | Path) -> np.ndarray:
    """Read a still image file as RGB.

    Greyscale becomes 3 equal channels, an alpha channel is composited over black, 16-bit
    samples are scaled to 8 bits, the EXIF orientation is applied (a phone photo stored sideways
    comes out upright). A multi-page TIFF or animated WebP gives its first picture.

    Returns:
        uint8 array of shape (H, W, 3), RGB.

    Raises:
        MediaError: the file is missing, unreadable, empty, larger than `MAX_IMAGE_PIXELS`, or not
            an image OpenCV can decode.
    """
    image_path = Path(path)
    if not image_path.is_file():
        raise MediaError(f"{image_path}: no such file; check the path")
    check_exists(image_path)
    width, height, orientation = _image_header(image_path)
    if width * height > MAX_IMAGE_PIXELS:
        size = f"{width} x {height} pixels" if height > 1 else "too large"
        raise MediaError(
            f"{image_path}: the image is {size}, more than the "
            f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels this tool reads; scale it down"
        )
    data = np.fromfile(image_path, dtype=np.uint8)  # imdecode also copes with non-ASCII paths
    if data.size == 0:
        raise MediaError(f"{image_path}: file is empty (0 bytes); pass an image file")
    try:
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)  # ignores EXIF orientation: applied below
    except cv2.error:
        decoded = None
    if decoded is None or decoded.size == 0:
        raise MediaError(
            f"{image_path}: not a readable image (truncated or not {'/'.join(sorted(IMAGE_EXTENSIONS))}); "
            "re-export it as PNG or JPEG"
        )
    return np.ascontiguousarray(_apply_orientation(_to_rgb_uint8(decoded), orientation))


def rotate_upright(image: np.ndarray, rotation_deg: int) -> np.ndarray:
    """Apply a display rotation (degrees counter-clockwise, a multiple of 90) to an (H, W, C) image."""
    quarter_turns = round(rotation_deg / 90) % 4
    if quarter_turns == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=quarter_turns))


def open_video(path: Path) -> av.container.InputContainer:
    """Open `path` with PyAV, turning FFmpeg's errors into a one-line MediaError."""
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as error:
        raise MediaError(
            f"{path}: not a readable video ({error.strerror}); the file may be truncated (e.g. an MP4 "
            "cut before its index) or not media; re-export or re-download it"
        ) from error


def pick_video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The first real video stream (cover-art pictures in audio files do not count)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    kinds: list[str] = sorted({stream.type for stream in container.streams}) or ["no streams"]
    raise MediaError(f"{path}: has no video stream (found: {', '.join(kinds)}); pass a video file")


def media_kind(path: Path) -> MediaKind:
    """'image_folder', 'image' or 'video', decided by the path alone (no decoding)."""
    if path.is_dir():
        return "image_folder"
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return "image"
    return "video"


def check_exists(path: Path) -> None:
    """Raise MediaError for a missing, unreadable or looping path, or a 0-byte file."""
    if not path.exists():
        if path.is_symlink():
            raise MediaError(f"{path}: a symbolic link to nothing (broken, or a loop); fix the link")
        raise MediaError(f"{path}: no such file or folder; check the path")
    wanted = os.R_OK | (os.X_OK if path.is_dir() else 0)
    if not os.access(path, wanted):
        what = "folder" if path.is_dir() else "file"
        raise MediaError(f"{path}: the {what} cannot be read (permission denied); check its permissions")
    if path.is_file() and path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty (0 bytes); pass a video or image file")


def _image_header(path: Path) -> tuple[int, int, int]:
    """(width, height, EXIF orientation 1-8) from the file's header, without decoding the pixels;
    (0, 0, 1) when Pillow does not know the format (OpenCV may still)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            orientation = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
            width, height = image.size
    except Image.DecompressionBombError:  # Pillow's own limit, far above ours: report it as ours
        return MAX_IMAGE_PIXELS + 1, 1, 1
    except (UnidentifiedImageError, OSError, ValueError):
        return 0, 0, 1
    return int(width), int(height), int(orientation) if orientation in range(1, 9) else 1


def _apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn/mirror an image as its EXIF orientation (1-8) says, so it is shown upright."""
    if orientation in (2, 4, 5, 7):
        image = image[:, ::-1]
    quarter_turns = {3: 2, 4: 2, 5: 1, 6: 3, 7: 3, 8: 1}.get(orientation, 0)  # counter-clockwise
    return np.rot90(image, quarter_turns) if quarter_turns else image


def read_frames(
    path: str | Path,
    every_n: int = 1,
    start_s: float | None = None,
    end_s: float | None = None,
) -> Iterator[Frame]:
    """Yield the frames of a video, a still image, or a folder of images, one at a time.

    Args:
        path: a video file, an image file, or a folder of images (read in natural order).
        every_n: yield one frame in `every_n`, counted from the first frame yielded.
        start_s: first timestamp to yield, seconds from the video's first frame (videos only).
            The decoder seeks near it, then drops frames until the timestamp reaches it.
        end_s: stop before the first frame whose timestamp is >= `end_s` (videos only).

    Yields:
        `Frame` objects; `Frame.image` is uint8 (H, W, 3) RGB, upright.

    Raises:
        MediaError: the input is missing, empty, not media, or fails to decode part-way (the
            message names the frame index reached).
        ConfigError: `every_n` < 1, `end_s` <= `start_s`, or a time range given for images.
    """
    source = Path(path)
    if every_n < 1:
        raise ConfigError(f"every_n must be >= 1, got {every_n}; pass 1 to read every frame")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise ConfigError(f"end_s ({end_s}) must be greater than start_s ({start_s}); fix the time range")
    check_exists(source)
    kind = media_kind(source)
    if kind != "video" and (start_s is not None or end_s is not None):
        raise ConfigError(
            f"{source}: start/end times apply to videos only, and this is a {kind.replace('_', ' ')}; "
            "remove the time range"
        )
    if kind == "image":
        return _read_still(source)
    if kind == "image_folder":
        return _read_folder(source, every_n)
    return _read_video(source, every_n, start_s, end_s)


def _read_still(path: Path) -> Iterator[Frame]:
    yield Frame(index=0, timestamp_s=0.0, image=read_image(path))


def first_readable_image(images: list[Path]) -> tuple[Path, np.ndarray]:
    """The first of `images` that decodes, and its pixels; the error of the last one when none does."""
    error: MediaError | None = None
    for path in images:
        try:
            return path, read_image(path)
        except MediaError as failure:
            error = failure
    assert error is not None
    raise error


def _read_folder(folder: Path, every_n: int) -> Iterator[Frame]:
    images = list_images(folder)
    if not images:
        raise MediaError(
            f"{folder}: folder has no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}); "
            "put images in it or pass a video"
        )
    readable = 0
    for index in range(0, len(images), every_n):
        try:
            image = read_image(images[index])
        except MediaError as error:  # one bad photo among many: say so and go on (index keeps its place)
            logger.warning("%s; skipped", error)
            continue
        readable += 1
        yield Frame(index=index, timestamp_s=0.0, image=image)
    if not readable:
        raise MediaError(f"{folder}: none of its images can be read; re-export them as PNG or JPEG")


def _count_packets_before(path: Path, stream_index: int, target_pts: int) -> int | None:
    """Number of video packets whose pts is < `target_pts`, by demuxing only (no decoding).

    Returns None when a packet has no pts, in which case the caller decodes from the start.
    """
    with open_video(path) as container:
        stream = container.streams[stream_index]
        count = 0
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue
            if packet.pts is None:
                return None
            if packet.pts < target_pts:
                count += 1
            # dts never decreases and pts >= dts, so no later packet can be before the target.
            if packet.dts is not None and packet.dts >= target_pts:
                break
        return count


class _SeekOvershoot(Exception):
    """The seek landed after the requested start, so the counted frame index would be wrong."""


def _read_video(path: Path, every_n: int, start_s: float | None, end_s: float | None) -> Iterator[Frame]:
    seek_index: int | None = None
    container = open_video(path)
    try:
        stream = pick_video_stream(container, path)
        if stream.time_base is None:
            raise MediaError(f"{path}: video stream has no time base; re-encode the file")
        first_pts = stream.start_time if stream.start_time is not None else 0
        if start_s is not None and start_s > 0:
            target_pts = first_pts + math.floor((start_s - _TIME_SLACK_S) / stream.time_base)
            seek_index = _count_packets_before(path, stream.index, target_pts)
            if seek_index:  # 0: nothing to skip; None: packets without pts, decode from the start
                container.seek(target_pts, stream=stream, backward=True, any_frame=False)
            else:
                seek_index = None
        try:
            yield from _decode_frames(container, stream, path, every_n, start_s, end_s, seek_index, first_pts)
            return
        except _SeekOvershoot:
            # MPEG program streams, for one, seek only approximately. Nothing was yielded yet.
            logger.info("%s: seek to %.3f s landed too late; decoding from the start instead", path, start_s)
    finally:
        container.close()
    with open_video(path) as container:
        stream = pick_video_stream(container, path)
        first_pts = stream.start_time if stream.start_time is not None else 0
        yield from _decode_frames(container, stream, path, every_n, start_s, end_s, None, first_pts)


def _decode_frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    path: Path,
    every_n: int,
    start_s: float | None,
    end_s: float | None,
    seek_index: int | None,
    first_pts: int,
) -> Iterator[Frame]:
    """Decode from the container's current position and yield the frames in [start_s, end_s).

    `seek_index` is the index of the first frame at or after `start_s` when the container was
    seeked to a keyframe before it (frames decoded before `start_s` are then dropped uncounted);
    None when decoding from the very start, where every frame is counted.

    Raises:
        _SeekOvershoot: after a seek, the first decoded frame is already at or past `start_s`.
    """
    stream.thread_type = "AUTO"
    time_base = stream.time_base
    assert time_base is not None
    fps = float(stream.guessed_rate or stream.average_rate or 25)
    next_index = seek_index if seek_index is not None else 0
    first_yielded: int | None = None
    decoded_any = False
    declared_frames = stream.frames  # from the container's index; 0 when it has none
    packets_seen = 0
    try:
        for packet in container.demux(stream):
            packets_seen += 1 if packet.size else 0
            if packet.is_corrupt:
                raise MediaError(
                    f"{path}: file is truncated or corrupt at frame {next_index}; re-encode or re-download it"
                )
            for frame in packet.decode():
                if frame.pts is not None:
                    timestamp_s = float((frame.pts - first_pts) * time_base)
                else:
                    timestamp_s = next_index / fps
                before_start = start_s is not None and timestamp_s < start_s - _TIME_SLACK_S
                if seek_index is not None and not decoded_any and not before_start:
                    # A backward seek lands on a keyframe before the start, whose frames are
                    # dropped: landing at or after the start means frames were skipped uncounted.
                    raise _SeekOvershoot
                decoded_any = True
                if before_start:
                    if seek_index is None:
                        next_index += 1
                    continue
                if end_s is not None and timestamp_s >= end_s - _TIME_SLACK_S:
                    return
                index = next_index
                next_index += 1
                if first_yielded is None:
                    first_yielded = index
                if (index - first_yielded) % every_n == 0:
                    image = rotate_upright(frame.to_ndarray(format="rgb24"), frame.rotation)
                    yield Frame(index=index, timestamp_s=timestamp_s, image=image)
    except av.error.FFmpegError as error:
        raise MediaError(
            f"{path}: decoding failed at frame {next_index} ({error.strerror}); the file is truncated or "
            "corrupt; re-encode or re-download it"
        ) from error
    if seek_index is None and packets_seen < declared_frames:
        # An MP4 whose index is intact but whose data was cut: demuxing just ends early.
        raise MediaError(
            f"{path}: file is truncated: its index lists {declared_frames} frames but the data ends at "
            f"frame {packets_seen}; re-encode or re-download it"
        )
