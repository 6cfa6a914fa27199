"""Where live frames go: a window, a video file, or a virtual camera that video-call programs pick up.

`open_sink` picks one from the `--output` text. Every sink takes finished (swapped and marked)
RGB frames; `close(keep)` ends it (a file is renamed into place only when kept).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from facetransfer.convert.config import EncodeOptions
from facetransfer.convert.outputs import check_output_path
from facetransfer.errors import ConfigError, OutputError
from facetransfer.media import OUTPUT_FORMATS, VideoWriter

WINDOW_TITLE = "facetransfer live"


class FrameSink(Protocol):
    description: str

    def write(self, image_rgb: np.ndarray, time_s: float) -> None: ...

    def close(self, keep: bool) -> None: ...


class FileSink:
    """An H.264/H.265 video of the live output; frame times are the capture times, so the file plays
    at the speed it was made (a variable frame rate when frames were dropped)."""

    def __init__(
        self, path: Path, width: int, height: int, fps: float, encode: EncodeOptions, metadata: dict[str, str]
    ) -> None:
        self.path = path
        self.writer = VideoWriter(
            path,
            width=width,
            height=height,
            fps=fps,
            codec=encode.codec,
            crf=encode.crf,
            preset=encode.encoder_preset,
            metadata=metadata,
        )
        self.description = f"file {path}"
        self._origin_s: float | None = None
        self._last_s = -1.0

    def write(self, image_rgb: np.ndarray, time_s: float) -> None:
        if self._origin_s is None:
            self._origin_s = time_s
        timestamp_s = max(time_s - self._origin_s, self._last_s + 1e-3)  # strictly increasing
        self._last_s = timestamp_s
        self.writer.write(image_rgb, timestamp_s)

    def close(self, keep: bool) -> None:
        if keep and self.writer.frames_written:
            self.writer.close()
        else:
            self.writer.abort()


class WindowSink:
    """An OpenCV window (needs an OpenCV build with a GUI; the project's default is headless)."""

    def __init__(self) -> None:
        import cv2

        try:
            cv2.namedWindow(WINDOW_TITLE, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise OutputError(
                "--output window: this OpenCV has no window support (the headless build); write a file "
                "(--output out.mp4), use --output virtual-camera, or install opencv-contrib-python"
            ) from None
        self.description = "window"

    def write(self, image_rgb: np.ndarray, time_s: float) -> None:
        import cv2

        cv2.imshow(WINDOW_TITLE, cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):  # q or Esc closes the window
            raise KeyboardInterrupt

    def close(self, keep: bool) -> None:
        import cv2

        cv2.destroyWindow(WINDOW_TITLE)


class VirtualCameraSink:
    """A virtual camera (pyvirtualcam: v4l2loopback on Linux, OBS on Windows and macOS)."""

    def __init__(self, width: int, height: int, fps: float) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise OutputError(
                "--output virtual-camera needs pyvirtualcam: `pip install pyvirtualcam` (on Linux also "
                "v4l2loopback, see docs/LIVE.md)"
            ) from None
        try:
            self.camera: Any = pyvirtualcam.Camera(width=width, height=height, fps=fps)
        except RuntimeError as error:
            raise OutputError(
                f"--output virtual-camera: no virtual camera device ({error}); load v4l2loopback "
                "(docs/LIVE.md)"
            ) from None
        self.description = f"virtual camera {self.camera.device}"

    def write(self, image_rgb: np.ndarray, time_s: float) -> None:
        self.camera.send(np.ascontiguousarray(image_rgb))

    def close(self, keep: bool) -> None:
        self.camera.close()


def check_sink(text: str, inputs: list[Path], overwrite: bool) -> None:
    """Before any work: a file output must be a video name that may be written (see `safety`)."""
    if text in ("window", "virtual-camera"):
        return
    path = Path(text)
    if path.suffix.lower() not in OUTPUT_FORMATS:
        raise ConfigError(
            f"{text}: --output takes window, virtual-camera or a video file ending in "
            f"{', '.join(sorted(OUTPUT_FORMATS))}"
        )
    check_output_path(path, inputs, overwrite, "live output")


def open_sink(
    text: str, width: int, height: int, fps: float, encode: EncodeOptions, metadata: dict[str, str]
) -> FrameSink:
    """The sink named by `--output` (checked by `check_sink` first)."""
    if text == "window":
        return WindowSink()
    if text == "virtual-camera":
        return VirtualCameraSink(width, height, fps)
    return FileSink(Path(text), width, height, fps, encode, metadata)
