"""The parts of live mode that need no model: the one-frame mailboxes (drop, never queue), the
sources and sinks named by --input and --output, and their one-line refusals."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from facetransfer.errors import ConfigError, MediaError, OutputError, OutputExistsError
from facetransfer.live.config import LIVE_LABEL, LiveConfig
from facetransfer.live.pipeline import Mailbox
from facetransfer.live.sinks import check_sink, open_sink
from facetransfer.live.sources import VideoFileSource, open_source


def test_latest_frame_wins_and_the_rest_are_counted_dropped() -> None:
    stop = threading.Event()
    box: Mailbox[int] = Mailbox()
    for value in range(5):
        box.put_latest(value)
    assert box.get(stop) == 4
    assert box.dropped == 4
    box.close()
    assert box.get(stop) is None  # closed and empty: the reader ends


def test_put_wait_waits_for_the_reader() -> None:
    stop = threading.Event()
    box: Mailbox[int] = Mailbox()
    box.put_wait(1, stop)
    taken: list[int | None] = []

    def reader() -> None:
        time.sleep(0.2)
        taken.append(box.get(stop))

    thread = threading.Thread(target=reader)
    started = time.perf_counter()
    thread.start()
    box.put_wait(2, stop)  # blocks until the reader took 1
    assert time.perf_counter() - started >= 0.15
    thread.join()
    assert taken == [1] and box.get(stop) == 2 and box.dropped == 0


def test_live_defaults_show_that_it_is_a_deep_fake() -> None:
    config = LiveConfig()
    assert config.provenance.label == LIVE_LABEL and config.provenance.enabled
    assert config.encode.encoder_preset == "ultrafast"


def test_outputs_are_checked_before_any_work(tmp_path: Path) -> None:
    check_sink("window", [], overwrite=False)
    check_sink("virtual-camera", [], overwrite=False)
    with pytest.raises(ConfigError, match="window, virtual-camera or a video file"):
        check_sink(str(tmp_path / "out.avi"), [], overwrite=False)
    foreign = tmp_path / "holiday.mp4"
    foreign.write_bytes(b"someone's video")
    with pytest.raises(OutputExistsError, match="did not make"):
        check_sink(str(foreign), [], overwrite=True)
    video = tmp_path / "in.mp4"
    with pytest.raises(OutputExistsError):
        check_sink(str(video), [video], overwrite=False)


def test_virtual_camera_without_pyvirtualcam_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # as if not installed
    with pytest.raises(OutputError, match="pip install pyvirtualcam") as caught:
        open_sink("virtual-camera", 64, 48, 25.0, LiveConfig().encode, {})
    assert "\n" not in str(caught.value)


def test_a_window_needs_an_opencv_with_a_gui() -> None:
    import cv2

    gui = cv2.getBuildInformation().split("GUI:")[1].split()[0]
    if gui != "NONE":
        pytest.skip(f"this OpenCV has a GUI ({gui})")
    with pytest.raises(OutputError, match="no window support"):
        open_sink("window", 64, 48, 25.0, LiveConfig().encode, {})


def test_inputs(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such file"):
        open_source(str(tmp_path / "nothing.mp4"), benchmark=False)
    with pytest.raises(MediaError, match="camera 97"):
        open_source("97", benchmark=False)
    image = tmp_path / "still.png"
    import cv2
    import numpy as np

    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ConfigError, match="live reads a camera, a video or a stream"):
        open_source(str(image), benchmark=False)


def test_a_video_plays_in_real_time_unless_benchmarking(shared_data: Path) -> None:
    video = shared_data / "video/grid/lbbc2a.mpg"
    for realtime in (True, False):
        source = VideoFileSource(video, realtime=realtime)
        assert (source.width, source.height, source.fps) == (360, 288, 25.0)
        started = time.perf_counter()
        frames = [frame for _, frame in zip(range(13), source.frames(), strict=False)]
        elapsed_s = time.perf_counter() - started
        assert [frame.index for frame in frames] == list(range(13))
        if realtime:
            assert elapsed_s >= 12 / 25 - 0.02  # frame 12 is released 0.48 s after the start
        else:
            assert elapsed_s < 12 / 25


def test_a_url_is_opened_as_a_stream(shared_data: Path) -> None:
    source = open_source(f"file://{shared_data / 'video/grid/lbbc2a.mpg'}", benchmark=False)
    try:
        assert source.description.startswith("stream file://") and (source.width, source.height) == (360, 288)
        assert sum(1 for _ in source.frames()) == 75
    finally:
        source.close()
    with pytest.raises(MediaError, match="cannot open the stream"):
        open_source("rtsp://127.0.0.1:9/nothing", benchmark=False)
