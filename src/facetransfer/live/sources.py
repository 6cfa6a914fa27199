"""Where live frames come from: a camera (OpenCV, V4L2 on Linux), a video file (PyAV, paced to its
own clock or as fast as it decodes), or a network stream that PyAV opens (rtsp, http, udp, ...).

Each source is an iterator of `CapturedFrame`s; `open_source` picks one from the `--input` text.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from facetransfer.errors import ConfigError, MediaError
from facetransfer.media import probe, read_frames

# A camera that reports no frame rate (or nonsense) is assumed to deliver this many per second.
DEFAULT_CAMERA_FPS = 30.0


@dataclass
class CapturedFrame:
    """One input picture: `image` uint8 (H, W, 3) RGB; `captured_s`: `time.perf_counter()` when it
    was read (latency is measured from here); `index`: its position in the input."""

    index: int
    captured_s: float
    image: np.ndarray


class FrameSource(Protocol):
    """A live input: its frame size and nominal rate, and its frames."""

    description: str
    width: int
    height: int
    fps: float

    def frames(self) -> Iterator[CapturedFrame]: ...

    def close(self) -> None: ...


class VideoFileSource:
    """A video file played as a camera: each frame is released at its own timestamp after the start
    (`realtime`), or as soon as it is decoded."""

    def __init__(self, path: Path, realtime: bool) -> None:
        info = probe(path)
        if info.kind != "video":
            raise ConfigError(f"{path}: live reads a camera, a video or a stream, and this is an {info.kind}")
        self.path = path
        self.realtime = realtime
        self.width, self.height = info.display_width, info.display_height
        self.fps = float(info.fps) if info.fps else DEFAULT_CAMERA_FPS
        self.description = f"video {path.name} ({self.width}x{self.height}, {self.fps:.2f} fps)"

    def frames(self) -> Iterator[CapturedFrame]:
        started = time.perf_counter()
        for frame in read_frames(self.path):
            if self.realtime:
                wait_s = started + frame.timestamp_s - time.perf_counter()
                if wait_s > 0:
                    time.sleep(wait_s)
            yield CapturedFrame(frame.index, time.perf_counter(), frame.image)

    def close(self) -> None:
        pass


class CameraSource:
    """A camera through OpenCV (V4L2 on Linux)."""

    def __init__(self, index: int) -> None:
        import cv2

        self.capture = cv2.VideoCapture(index)
        if not self.capture.isOpened():
            self.capture.release()
            raise MediaError(
                f"camera {index}: cannot open it (no such device, or it is busy); check `ls /dev/video*` "
                "or pass a video file or stream URL with --input"
            )
        self.width = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        reported = float(self.capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = reported if 1.0 <= reported <= 240.0 else DEFAULT_CAMERA_FPS
        self.description = f"camera {index} ({self.width}x{self.height}, {self.fps:.0f} fps)"

    def frames(self) -> Iterator[CapturedFrame]:
        import cv2

        index = 0
        while True:
            ok, bgr = self.capture.read()
            if not ok:
                return
            yield CapturedFrame(index, time.perf_counter(), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            index += 1

    def close(self) -> None:
        self.capture.release()


class StreamSource:
    """A network stream that PyAV (FFmpeg) opens; frames are taken as they arrive."""

    def __init__(self, url: str) -> None:
        import av

        try:
            self.container = av.open(url, options={"fflags": "nobuffer", "flags": "low_delay"}, timeout=10.0)
        except (av.error.FFmpegError, OSError) as error:
            raise MediaError(f"{url}: cannot open the stream ({error}); check the address") from None
        if not self.container.streams.video:
            self.container.close()
            raise MediaError(f"{url}: the stream has no video")
        stream = self.container.streams.video[0]
        self.stream = stream
        self.width, self.height = int(stream.codec_context.width), int(stream.codec_context.height)
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate else DEFAULT_CAMERA_FPS
        self.description = f"stream {url} ({self.width}x{self.height})"

    def frames(self) -> Iterator[CapturedFrame]:
        for index, frame in enumerate(self.container.decode(self.stream)):
            yield CapturedFrame(index, time.perf_counter(), frame.to_ndarray(format="rgb24"))

    def close(self) -> None:
        self.container.close()


def open_source(text: str, benchmark: bool) -> FrameSource:
    """The source named by `--input`: digits are a camera index, `scheme://...` a stream, anything
    else a video file (played in real time unless `benchmark`)."""
    if text.isdigit():
        return CameraSource(int(text))
    if "://" in text:
        return StreamSource(text)
    path = Path(text)
    if not path.exists():
        raise MediaError(
            f"{text}: no such file; --input takes a camera index (0, 1 ...), a video file or a stream URL"
        )
    return VideoFileSource(path, realtime=not benchmark)
