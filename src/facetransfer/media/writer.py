"""Encode RGB frames to H.264/H.265 with the audio of a reference file, written atomically.

The output goes to a temporary file next to the final path (`fsutil.atomic_path`) and is renamed
only on a clean `close()`, so a crash or an exception inside the `with` block leaves nothing at the
final path. Audio is copied packet for packet when the output container takes its codec, otherwise
decoded and re-encoded to AAC; either way it is cut to the video's duration and kept in sync.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import av
import av.audio.frame
import av.audio.stream
import av.container
import av.error
import av.packet
import av.video.stream
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from facetransfer.errors import MediaError, OutputExistsError
from facetransfer.fsutil import atomic_path
from facetransfer.media.probe import MediaInfo, probe
from facetransfer.media.reader import check_exists, open_video
from facetransfer.safety import owner_tags

logger = logging.getLogger(__name__)

VideoCodec = Literal["h264", "h265"]

_ENCODERS: dict[str, str] = {"h264": "libx264", "h265": "libx265"}

# Output suffix -> FFmpeg muxer. The temporary file's name ends in ".tmp", so the muxer is named
# explicitly instead of being guessed from the name.
OUTPUT_FORMATS: dict[str, str] = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}

# Audio codecs each muxer takes as they are (packets copied). MP2 in MP4 is legal on paper but
# many players refuse it, so it is re-encoded to AAC there.
_COPYABLE_AUDIO: dict[str, frozenset[str]] = {
    "mp4": frozenset({"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"}),
    "mov": frozenset({"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le"}),
    "matroska": frozenset(
        {"aac", "mp3", "mp2", "ac3", "eac3", "opus", "vorbis", "flac", "alac", "pcm_s16le", "pcm_s24le"}
    ),
}

_AAC_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


def default_time_base(rate: Fraction) -> Fraction:
    """1 / (rate numerator x a power of two), at least 1/10000 s: whole ticks per frame, and fine
    enough to keep variable-rate timestamps to 0.1 ms (25 fps -> 1/12800, 30000/1001 -> 1/30000)."""
    ticks_per_s = rate.numerator
    while ticks_per_s < 10000:
        ticks_per_s *= 2
    return Fraction(1, ticks_per_s)


def as_frame_rate(fps: float | Fraction) -> Fraction:
    """Exact frame rate from a float: 29.97 -> 2997/100, 29.97002997 -> 30000/1001."""
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise MediaError(f"frame rate must be positive, got {fps}; pass the source's fps")
    return rate


class _AudioFeed:
    """Moves the audio stream of `source` into the output, shifted and cut to the video's time span.

    Output time = source time - `source_zero_s` - the writer's origin (the first written frame's
    timestamp), so what played with the source's first video frame plays with the output's first.
    """

    def __init__(self, source: Path, output: av.container.OutputContainer, muxer: str) -> None:
        self.source = source
        self.input = open_video(source)
        try:
            audio_streams = list(self.input.streams.audio)
            if not audio_streams:
                raise MediaError(f"{source}: has no audio stream to copy; pass audio_from=None")
            self.in_stream: av.audio.stream.AudioStream = audio_streams[0]
            video_streams = list(self.input.streams.video)
            zero_stream = video_streams[0] if video_streams else self.in_stream
            zero_pts = zero_stream.start_time or 0
            assert zero_stream.time_base is not None
            self.source_zero_s = float(zero_pts * zero_stream.time_base)
            codec_name = self.in_stream.codec_context.codec.canonical_name
            self.copy = codec_name in _COPYABLE_AUDIO[muxer]
            if self.copy:
                self.out_stream = output.add_stream_from_template(self.in_stream)
            else:
                self.out_stream = self._add_aac_stream(output)
            logger.debug("%s: audio %s -> %s", source, codec_name, "copied" if self.copy else "AAC")
        except BaseException:
            self.input.close()
            raise
        self.packets: Iterator[av.packet.Packet] = self.input.demux(self.in_stream)
        self.offset_s = self.source_zero_s
        self.pending: list[tuple[float, av.packet.Packet]] = []  # at most one: read past "until"
        self.samples_out = 0
        self.exhausted = False

    def _add_aac_stream(self, output: av.container.OutputContainer) -> av.audio.stream.AudioStream:
        context = self.in_stream.codec_context
        rate = context.sample_rate if context.sample_rate in _AAC_SAMPLE_RATES else 48000
        stream = output.add_stream("aac", rate=rate)
        stream.layout = "stereo" if context.layout.nb_channels >= 2 else "mono"
        stream.bit_rate = 192_000 if context.layout.nb_channels >= 2 else 128_000
        return stream

    def set_origin(self, origin_s: float) -> None:
        """Called once with the first written frame's timestamp (seconds from the source's start)."""
        self.offset_s = self.source_zero_s + origin_s

    def _next_packet(self) -> tuple[float, av.packet.Packet] | None:
        if self.pending:
            return self.pending.pop()
        time_base = self.in_stream.time_base
        assert time_base is not None
        for packet in self.packets:
            pts = packet.pts if packet.pts is not None else packet.dts
            if packet.size == 0 or pts is None:
                continue
            return float(pts * time_base) - self.offset_s, packet
        self.exhausted = True
        return None

    def feed_until(self, output: av.container.OutputContainer, until_s: float, *, final: bool) -> None:
        """Mux the audio that starts before `until_s` (output seconds); `final` cuts it there."""
        while not self.exhausted:
            item = self._next_packet()
            if item is None:
                break
            start_s, packet = item
            if start_s >= until_s:
                if final:
                    self.exhausted = True
                else:
                    self.pending.append(item)
                break
            if self.copy:
                self._copy_packet(output, packet, start_s)
            else:
                self._transcode_packet(output, packet, until_s if final else math.inf)
        if final and not self.copy:
            self._transcode_packet(output, None, until_s)  # drain the decoder
            for out_packet in self.out_stream.encode(None):
                output.mux(out_packet)

    def _copy_packet(
        self, output: av.container.OutputContainer, packet: av.packet.Packet, start_s: float
    ) -> None:
        if start_s < 0:
            return  # before the first video frame: a whole packet cannot be cut, so it is dropped
        time_base = self.in_stream.time_base
        assert time_base is not None and packet.pts is not None
        shift = round(self.offset_s / time_base)
        packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = self.out_stream
        output.mux(packet)

    def _transcode_packet(
        self, output: av.container.OutputContainer, packet: av.packet.Packet | None, end_s: float
    ) -> None:
        """Decode `packet` (None: drain the decoder) and encode what lies in [0, end_s) to AAC."""
        time_base = self.in_stream.time_base
        assert time_base is not None
        try:
            frames = self.in_stream.codec_context.decode(packet)
        except av.error.FFmpegError as error:
            logger.warning("%s: skipping an undecodable audio packet (%s)", self.source, error)
            return
        for frame in frames:
            if frame.pts is None:
                continue
            frame_start_s = float(frame.pts * time_base) - self.offset_s
            trimmed = _trim_audio(frame, frame_start_s, end_s, lead_in=self.samples_out == 0)
            if trimmed is None:
                continue
            # Explicit sample-count pts let the encoder shift its priming samples to negative time,
            # which the muxer turns into an edit list; without them the sound lags by 1024 samples.
            trimmed.pts = self.samples_out
            trimmed.time_base = Fraction(1, trimmed.sample_rate)
            self.samples_out += trimmed.samples
            for out_packet in self.out_stream.encode(trimmed):
                output.mux(out_packet)

    def close(self) -> None:
        self.input.close()


def _trim_audio(
    frame: av.audio.frame.AudioFrame, start_s: float, end_s: float, *, lead_in: bool
) -> av.audio.frame.AudioFrame | None:
    """The part of `frame` (which starts at output time `start_s`) inside [0, end_s), or None.

    With `lead_in` (nothing written yet) and audio that starts after 0 s, silence is put in front
    so the sound stays in sync. The caller sets the pts.
    """
    rate = frame.sample_rate
    first = max(0, round(-start_s * rate))
    last = frame.samples if math.isinf(end_s) else min(frame.samples, round((end_s - start_s) * rate))
    if last <= first:
        return None
    silence = round(start_s * rate) if lead_in and start_s > 0 else 0
    if first == 0 and last == frame.samples and silence == 0:
        return frame
    samples: Any = frame.to_ndarray()  # planar: (channels, n); packed: (1, n * channels)
    step = 1 if frame.format.is_planar else len(frame.layout.channels)
    kept = samples[:, first * step : last * step]
    if silence:
        kept = np.concatenate([np.zeros((kept.shape[0], silence * step), kept.dtype), kept], axis=1)
    trimmed = av.audio.frame.AudioFrame.from_ndarray(
        np.ascontiguousarray(kept), format=frame.format.name, layout=frame.layout.name
    )
    trimmed.sample_rate = rate
    return trimmed


def encoded_size(width: int, height: int) -> tuple[int, int]:
    """The size `VideoWriter` encodes frames of `width` x `height` at: one more column or row when
    odd, since yuv420p halves chroma in both directions."""
    return width + width % 2, height + height % 2


class VideoWriter:
    """Write RGB frames to an H.264/H.265 video (yuv420p, BT.709), optionally with another file's audio.

    Use as a context manager::

        with VideoWriter.like("out.mp4", "in.mpg") as writer:
            for frame in read_frames("in.mpg"):
                writer.write(frame.image, frame.timestamp_s)

    or call `close()` (finish and rename into place) / `abort()` (delete) yourself.

    Args:
        path: final output path; its suffix picks the container (.mp4, .m4v, .mov, .mkv).
        width, height: frame size in pixels. yuv420p halves chroma, so H.264/H.265 need even
            sizes: an odd width or height is padded by one pixel (the last column or row
            repeated) and a warning says so.
        fps: nominal frame rate; frames written without a timestamp are spaced 1/fps apart.
        codec: "h264" (libx264) or "h265" (libx265, tagged hvc1 in MP4/MOV for Apple players).
        crf: constant rate factor, 0 (lossless) to 51; 18 looks visually lossless.
        preset: x264/x265 speed preset ("ultrafast" ... "veryslow").
        audio_from: a file whose first audio stream goes into the output (None: no audio).
        time_base: pts unit of the output video; default `default_time_base(fps)`.
        metadata: container tags (e.g. {"comment": ...}); MP4/MOV keep arbitrary keys.

    Raises:
        MediaError: non-positive size or fps, unknown suffix or codec, unreadable audio source.
        OutputExistsError: `path` is the audio source itself.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        fps: float | Fraction,
        codec: VideoCodec = "h264",
        crf: int = 18,
        preset: str = "medium",
        audio_from: str | Path | None = None,
        time_base: Fraction | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.coded_width, self.coded_height = encoded_size(self.width, self.height)  # see `write`
        self.frame_rate = as_frame_rate(fps)
        self.time_base = Fraction(time_base) if time_base is not None else default_time_base(self.frame_rate)
        self.frames_written = 0
        self._check_options(codec, crf, audio_from)
        if (self.coded_width, self.coded_height) != (self.width, self.height):
            logger.warning(
                "%s: frame size %dx%d is odd; written as %dx%d (the last column/row repeated), since "
                "H.264/H.265 in yuv420p need even sizes",
                self.path,
                self.width,
                self.height,
                self.coded_width,
                self.coded_height,
            )
        self._muxer = OUTPUT_FORMATS[self.path.suffix.lower()]
        self._frame_ticks = self.time_base**-1 / self.frame_rate  # may be fractional, e.g. 1/90000
        self._origin_s: float | None = None
        self._last_pts: int | None = None
        self._last_timestamp_s = 0.0
        self._timestamps_given = False
        self._closed = False

        self._stack = contextlib.ExitStack()
        self._temp_path = self._stack.enter_context(atomic_path(self.path, suffix=self.path.suffix))
        self._audio: _AudioFeed | None = None
        try:
            # every video carries the tool's tag: the proof `--overwrite` needs to replace it
            self._container = self._open_output({**owner_tags(), **(metadata or {})})
            self._stream = self._add_video_stream(codec, crf, preset)
            if audio_from is not None:
                self._audio = _AudioFeed(Path(audio_from), self._container, self._muxer)
        except BaseException as error:
            self._release(error)
            raise

    @classmethod
    def like(cls, path: str | Path, reference: MediaInfo | str | Path, **options: Any) -> VideoWriter:
        """A writer with the reference video's display size, frame rate, time base and audio.

        Any constructor option in `options` overrides what is taken from the reference
        (e.g. `audio_from=None` to leave the sound out, `codec="h265"`).
        """
        info = reference if isinstance(reference, MediaInfo) else probe(reference)
        if info.kind != "video":
            raise MediaError(f"{info.path}: is a {info.kind.replace('_', ' ')}, not a video; pass a video")
        settings: dict[str, Any] = {
            "width": info.display_width,
            "height": info.display_height,
            "fps": info.frame_rate or info.fps,
            "time_base": info.time_base,
            "audio_from": info.path if info.has_audio else None,
        }
        settings.update(options)
        return cls(path, **settings)

    def _check_options(self, codec: str, crf: int, audio_from: str | Path | None) -> None:
        if self.path.suffix.lower() not in OUTPUT_FORMATS:
            raise MediaError(
                f"{self.path}: cannot write '{self.path.suffix}' files; use one of "
                f"{', '.join(sorted(OUTPUT_FORMATS))}"
            )
        if codec not in _ENCODERS:
            raise MediaError(f"{self.path}: unknown codec '{codec}'; use one of {', '.join(_ENCODERS)}")
        if self.width <= 0 or self.height <= 0:
            raise MediaError(
                f"{self.path}: frame size {self.width}x{self.height} is empty; pass a positive size"
            )
        if not 0 <= crf <= 51:
            raise MediaError(f"{self.path}: crf must be 0..51, got {crf}; 18 is visually lossless")
        if audio_from is not None:
            audio_path = Path(audio_from)
            check_exists(audio_path)
            if self.path.resolve() == audio_path.resolve():
                raise OutputExistsError(
                    f"{self.path}: output would overwrite its own audio/reference input; choose another path"
                )

    def _open_output(self, metadata: dict[str, str]) -> av.container.OutputContainer:
        options: dict[str, str] = {}
        if self._muxer in ("mp4", "mov"):
            # faststart: index at the front, so players and browsers can start before the end.
            # use_metadata_tags: keep arbitrary keys (provenance marks), not just the standard ones.
            options["movflags"] = "+faststart+use_metadata_tags"
        container = av.open(str(self._temp_path), mode="w", format=self._muxer, options=options)
        for key, value in metadata.items():
            container.metadata[str(key)] = str(value)
        return container

    def _add_video_stream(self, codec: str, crf: int, preset: str) -> av.video.stream.VideoStream:
        stream = self._container.add_stream(_ENCODERS[codec], rate=self.frame_rate)
        assert isinstance(stream, av.video.stream.VideoStream)
        stream.width = self.coded_width
        stream.height = self.coded_height
        stream.pix_fmt = "yuv420p"
        context = stream.codec_context
        context.time_base = self.time_base
        # Tag the colour matrix we convert with, so players do not guess (they guess BT.709 for HD
        # and BT.601 for SD, which shifts colours of untagged files).
        context.colorspace = Colorspace.ITU709
        context.color_range = ColorRange.MPEG
        context.color_primaries = 1  # BT.709
        context.color_trc = 1  # BT.709
        options: dict[str, object] = {"crf": str(crf), "preset": preset}
        if codec == "h265":
            options["x265-params"] = "log-level=error"
            if self._muxer in ("mp4", "mov"):
                stream.codec_tag = "hvc1"
        stream.options = options
        return stream

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        else:
            self._release(exc)

    def write(self, image_rgb: np.ndarray, timestamp_s: float | None = None) -> None:
        """Encode one frame.

        Args:
            image_rgb: uint8 array (height, width, 3), RGB.
            timestamp_s: presentation time in seconds (e.g. `Frame.timestamp_s`); kept as the
                frame's pts, relative to the first written frame, so variable frame rates survive.
                None: 1/fps after the previous frame.

        Raises:
            ValueError: wrong shape or dtype, or a timestamp not after the previous one.
        """
        if self._closed:
            raise ValueError(f"{self.path}: write() after close()")
        if image_rgb.dtype != np.uint8 or image_rgb.shape != (self.height, self.width, 3):
            raise ValueError(
                f"{self.path}: expected a uint8 ({self.height}, {self.width}, 3) RGB image, "
                f"got {image_rgb.dtype} {image_rgb.shape}"
            )
        pts, frame_time_s = self._next_pts(timestamp_s)
        if (self.coded_width, self.coded_height) != (self.width, self.height):
            pad = ((0, self.coded_height - self.height), (0, self.coded_width - self.width), (0, 0))
            image_rgb = np.pad(image_rgb, pad, mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image_rgb), format="rgb24")
        frame = frame.reformat(
            format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
        )
        frame.pts = pts
        frame.time_base = self.time_base
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
            if self._audio is not None:
                self._audio.feed_until(self._container, frame_time_s, final=False)
        except av.error.FFmpegError as error:
            raise MediaError(
                f"{self.path}: encoding failed at frame {self.frames_written} ({error}); "
                "check free disk space and the output folder"
            ) from error
        self.frames_written += 1

    def _next_pts(self, timestamp_s: float | None) -> tuple[int, float]:
        """(pts in `time_base` ticks, seconds from the first frame) for the next frame."""
        if timestamp_s is None:
            if self._timestamps_given:
                timestamp_s = self._last_timestamp_s + 1.0 / float(self.frame_rate)
            else:
                timestamp_s = self.frames_written / float(self.frame_rate)
        else:
            self._timestamps_given = True
        if self._origin_s is None:
            self._origin_s = timestamp_s
            if self._audio is not None:
                self._audio.set_origin(timestamp_s)
        relative_s = timestamp_s - self._origin_s
        pts = round(Fraction(relative_s) / self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            if timestamp_s < self._last_timestamp_s:
                raise ValueError(
                    f"{self.path}: timestamp {timestamp_s:.6f} s is before the previous frame's "
                    f"{self._last_timestamp_s:.6f} s; frames must be written in order"
                )
            pts = self._last_pts + 1  # two timestamps inside one tick: keep them distinct
        self._last_pts = pts
        self._last_timestamp_s = timestamp_s
        return pts, relative_s

    def close(self) -> None:
        """Flush the encoder, add the remaining audio, finish the file and rename it into place."""
        if self._closed:
            return
        try:
            if self.frames_written == 0:
                raise MediaError(f"{self.path}: no frames were written; nothing to save")
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            if self._audio is not None:
                assert self._last_pts is not None
                video_end_s = float((self._last_pts + self._frame_ticks) * self.time_base)
                self._audio.feed_until(self._container, video_end_s, final=True)
                self._audio.close()
            self._container.close()
        except BaseException as error:
            self._release(error)
            raise
        self._closed = True
        self._stack.close()  # fsync + rename into place
        logger.info("%s: wrote %d frames", self.path, self.frames_written)

    def abort(self) -> None:
        """Stop without saving: the temporary file is removed and nothing appears at `path`."""
        if not self._closed:
            self._release(MediaError(f"{self.path}: writing aborted"))

    def _release(self, error: BaseException) -> None:
        """Close everything and delete the temporary file (atomic_path removes it on an error)."""
        self._closed = True
        if self._audio is not None:
            self._audio.close()
        container = getattr(self, "_container", None)
        if container is not None:
            with contextlib.suppress(av.error.FFmpegError):  # the file is being thrown away
                container.close()
        self._stack.__exit__(type(error), error, error.__traceback__)
