"""Describe a media input (video, still image or folder of images) without reading all of it.

`probe` opens the file, decodes the first frame (so a file that opens but cannot decode is caught
here, not an hour into a job) and demuxes the video packets without decoding them, which gives the
exact frame count, catches MP4 files cut short inside their data, and samples timestamp spacing
to tell constant from variable frame rate.
"""

from __future__ import annotations

import itertools
import logging
import statistics
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av.container
import av.error
import av.video.stream

from facetransfer.errors import MediaError
from facetransfer.media.reader import (
    MediaKind,
    check_exists,
    first_readable_image,
    list_images,
    media_kind,
    open_video,
    pick_video_stream,
    read_image,
)

logger = logging.getLogger(__name__)

# How many packet timestamps to look at when deciding whether the frame rate is variable.
VFR_SAMPLE_PACKETS = 300

# Image suffix -> the format name reported as `container` and `codec` for still images.
_IMAGE_FORMATS: dict[str, str] = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
    ".bmp": "bmp",
    ".tif": "tiff",
    ".tiff": "tiff",
}

# Suffixes whose name differs from FFmpeg's demuxer token.
_SUFFIX_TO_DEMUXER: dict[str, str] = {".mkv": "matroska", ".mpg": "mpeg", ".mpeg": "mpeg", ".m4v": "mp4"}


@dataclass
class MediaInfo:
    """What a media input holds.

    Attributes:
        path: the input as given.
        kind: "video", "image" (one still) or "image_folder" (a folder of stills).
        container: short demuxer name, e.g. "mp4", "matroska", "webm", "mpeg", "flv", "gif";
            for images the image format ("png", "jpeg"); "folder" for image folders.
        codec: video codec ("h264", "mpeg1video", "vp6f", ...) or image format.
        width, height: coded size in pixels, before rotation (see `rotation_deg`); for a folder,
            the size of its first image.
        rotation_deg: counter-clockwise rotation, in degrees (0, 90, 180 or -90), that the
            video's display matrix asks for. `read_frames` applies it, so frames come out
            `display_width` x `display_height`.
        fps: average frame rate (0.0 for images).
        variable_fps: True when the sampled frame timestamps are not evenly spaced.
        frame_count: exact number of frames (number of images for a folder).
        duration_s: video duration from the first frame's timestamp to the end of the last
            frame (0.0 for images).
        has_audio, audio_codec, audio_sample_rate: the first audio stream, if any.
        pixel_format: decoder pixel format ("yuv420p", ...), "" for images.
        frame_rate: exact average frame rate as a fraction (None for images).
        time_base: the video stream's time base (None for images).
        start_s: presentation time of the first video frame in the container; frame timestamps
            from `read_frames` are relative to it, and writers shift copied audio by it.
        tags: container metadata (title, comment, encoder, ...).
    """

    path: str
    kind: MediaKind
    container: str
    codec: str
    width: int
    height: int
    rotation_deg: int
    fps: float
    variable_fps: bool
    frame_count: int
    duration_s: float
    has_audio: bool
    audio_codec: str | None
    audio_sample_rate: int | None
    pixel_format: str = ""
    frame_rate: Fraction | None = None
    time_base: Fraction | None = None
    start_s: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def display_width(self) -> int:
        """Width of the frames `read_frames` yields (after rotation)."""
        return self.height if abs(self.rotation_deg) % 180 == 90 else self.width

    @property
    def display_height(self) -> int:
        """Height of the frames `read_frames` yields (after rotation)."""
        return self.width if abs(self.rotation_deg) % 180 == 90 else self.height

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict with the field names as keys, in field order; fractions as "num/den"."""
        payload = asdict(self)
        for key in ("frame_rate", "time_base"):
            value = payload[key]
            payload[key] = None if value is None else f"{value.numerator}/{value.denominator}"
        return payload


def probe(path: str | Path) -> MediaInfo:
    """Describe a video file, a still image, or a folder of images.

    Raises:
        MediaError: missing path, empty file, not media, truncated file, no video stream, a first
            frame that does not decode, or a folder without images.
    """
    source = Path(path)
    check_exists(source)
    kind = media_kind(source)
    if kind == "image_folder":
        return _probe_folder(source)
    if kind == "image":
        return _probe_image(source)
    return _probe_video(source)


def _probe_image(path: Path) -> MediaInfo:
    image = read_image(path)
    image_format = _IMAGE_FORMATS[path.suffix.lower()]
    return MediaInfo(
        path=str(path),
        kind="image",
        container=image_format,
        codec=image_format,
        width=int(image.shape[1]),
        height=int(image.shape[0]),
        rotation_deg=0,
        fps=0.0,
        variable_fps=False,
        frame_count=1,
        duration_s=0.0,
        has_audio=False,
        audio_codec=None,
        audio_sample_rate=None,
    )


def _probe_folder(folder: Path) -> MediaInfo:
    images = list_images(folder)
    if not images:
        raise MediaError(
            f"{folder}: folder has no image files ({', '.join(sorted(_IMAGE_FORMATS))}); "
            "put images in it or pass a video"
        )
    first_path, first = first_readable_image(images)
    return MediaInfo(
        path=str(folder),
        kind="image_folder",
        container="folder",
        codec=_IMAGE_FORMATS[first_path.suffix.lower()],
        width=int(first.shape[1]),
        height=int(first.shape[0]),
        rotation_deg=0,
        fps=0.0,
        variable_fps=False,
        frame_count=len(images),
        duration_s=0.0,
        has_audio=False,
        audio_codec=None,
        audio_sample_rate=None,
    )


def short_container_name(format_name: str, path: Path) -> str:
    """Pick one token of FFmpeg's demuxer name: the one matching the suffix, else the first.

    >>> short_container_name("mov,mp4,m4a,3gp,3g2,mj2", Path("a.mp4"))
    'mp4'
    >>> short_container_name("matroska,webm", Path("a.mkv"))
    'matroska'
    """
    tokens = format_name.split(",")
    suffix = path.suffix.lower()
    wanted = _SUFFIX_TO_DEMUXER.get(suffix, suffix.lstrip("."))
    return wanted if wanted in tokens else tokens[0]


@dataclass
class _PacketScan:
    """What one demux pass over the video packets found."""

    count: int = 0
    packets: int = 0  # also those the container marks to discard (edit lists)
    min_pts: int | None = None
    max_end_pts: int | None = None
    last_duration: int = 0
    sample_pts: list[int] = field(default_factory=list)
    corrupt_at: int | None = None


def _scan_packets(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> _PacketScan:
    """Demux (not decode) every video packet: count, pts span, a sample of pts, corruption."""
    scan = _PacketScan()
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        scan.packets += 1
        if packet.is_discard:
            continue
        if packet.is_corrupt and scan.corrupt_at is None:
            scan.corrupt_at = scan.count
        scan.count += 1
        pts = packet.pts if packet.pts is not None else packet.dts
        if pts is None:
            continue
        if len(scan.sample_pts) < VFR_SAMPLE_PACKETS:
            scan.sample_pts.append(pts)
        duration = packet.duration or 0
        if scan.min_pts is None or pts < scan.min_pts:
            scan.min_pts = pts
        if scan.max_end_pts is None or pts + duration >= scan.max_end_pts:
            scan.max_end_pts = pts + duration
            scan.last_duration = duration
    return scan


def is_variable_rate(sample_pts: list[int], time_base: Fraction) -> bool:
    """True when the sorted timestamps (in `time_base` ticks) are unevenly spaced.

    Spacing may wobble by timestamp rounding: FLV, Matroska and WebM store milliseconds, so
    29.97 fps shows as 33/34 ms steps, also after a remux to a finer time base. Steps within
    1.5 ms (or 1.5 ticks, or 5% of the median step, whichever is largest) of the median count as
    even; a dropped or doubled frame does not.
    """
    ordered = sorted(set(sample_pts))
    if len(ordered) < 3:
        return False
    steps = [later - earlier for earlier, later in itertools.pairwise(ordered)]
    median_step = statistics.median(steps)
    tolerance = max(1.5, float(Fraction(3, 2000) / time_base), 0.05 * median_step)
    return any(abs(step - median_step) > tolerance for step in steps)


def _choose_frame_rate(
    average: Fraction | None, guessed: Fraction | None, scan: _PacketScan, time_base: Fraction, variable: bool
) -> Fraction | None:
    """Exact average frame rate: the nominal rate for constant-rate video, else count over span."""
    if variable and scan.min_pts is not None and scan.max_end_pts is not None:
        span_ticks = scan.max_end_pts - scan.min_pts
        if span_ticks > 0 and scan.count > 1:
            return Fraction(scan.count) / (span_ticks * time_base)
    # FFmpeg's guessed rate is the exact nominal one (30000/1001) where the average may be a
    # rounded estimate (989/33 for the CREMA-D FLV files); take it when the two agree.
    if guessed and average and abs(float(guessed) / float(average) - 1.0) < 0.01:
        return guessed
    return average or guessed or None


def _first_frame_rotation(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: Path
) -> tuple[int, str]:
    """Decode the first frame: (rotation in degrees, pixel format). Raises MediaError on failure."""
    try:
        for frame in container.decode(stream):
            return int(frame.rotation), frame.format.name
    except av.error.FFmpegError as error:
        raise MediaError(
            f"{path}: the first video frame does not decode ({error.strerror}); the file is truncated or "
            "corrupt; re-encode or re-download it"
        ) from error
    raise MediaError(f"{path}: the video stream holds no decodable frame; re-encode or re-download it")


def _probe_video(path: Path) -> MediaInfo:
    with open_video(path) as container:
        stream = pick_video_stream(container, path)
        rotation_deg, pixel_format = _first_frame_rotation(container, stream, path)
    # A fresh container for the packet scan: the decode above consumed packets. Everything read
    # from the streams is copied out before the container closes and frees them.
    with open_video(path) as container:
        stream = pick_video_stream(container, path)
        if stream.time_base is None:
            raise MediaError(f"{path}: video stream has no time base; re-encode the file")
        time_base = Fraction(stream.time_base)
        declared_frames = stream.frames
        average = Fraction(stream.average_rate) if stream.average_rate else None
        guessed = Fraction(stream.guessed_rate) if stream.guessed_rate else None
        start_pts = stream.start_time
        codec_name = stream.codec_context.name
        coded_width, coded_height = stream.codec_context.width, stream.codec_context.height
        scan = _scan_packets(container, stream)
        format_name = container.format.name
        tags = {str(key): str(value) for key, value in container.metadata.items()}
        audio = next(iter(container.streams.audio), None)
        audio_context = audio.codec_context if audio is not None else None
        audio_codec = audio_context.codec.canonical_name if audio_context is not None else None
        audio_sample_rate = audio_context.sample_rate if audio_context is not None else None

    if scan.count == 0:
        raise MediaError(f"{path}: the video stream holds no frames; re-encode or re-download it")
    if declared_frames > scan.packets:
        raise MediaError(
            f"{path}: file is truncated: its index lists {declared_frames} frames but only {scan.packets} "
            "are present; re-download or re-export it"
        )
    if scan.corrupt_at is not None:
        raise MediaError(
            f"{path}: file is truncated or corrupt at frame {scan.corrupt_at}; re-download or re-export it"
        )

    variable = is_variable_rate(scan.sample_pts, time_base)
    frame_rate = _choose_frame_rate(average, guessed, scan, time_base, variable)
    if frame_rate is None:
        raise MediaError(f"{path}: video stream has no frame rate; re-encode the file")
    if scan.min_pts is not None and scan.max_end_pts is not None:
        duration_s = float((scan.max_end_pts - scan.min_pts) * time_base)
        if not scan.last_duration:  # the container gave no packet durations: add one frame
            duration_s += 1.0 / float(frame_rate)
    else:
        duration_s = scan.count / float(frame_rate)
    first_pts = start_pts if start_pts is not None else (scan.min_pts or 0)

    return MediaInfo(
        path=str(path),
        kind="video",
        container=short_container_name(format_name, path),
        codec=codec_name,
        width=coded_width,
        height=coded_height,
        rotation_deg=rotation_deg,
        fps=float(frame_rate),
        variable_fps=variable,
        frame_count=scan.count,
        duration_s=duration_s,
        has_audio=audio_codec is not None,
        audio_codec=audio_codec,
        audio_sample_rate=audio_sample_rate,
        pixel_format=pixel_format,
        frame_rate=frame_rate,
        time_base=time_base,
        start_s=float(first_pts * time_base),
        tags=tags,
    )
