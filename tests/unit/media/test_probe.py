"""probe(): real media of every container in ../shared/data, files made here, and bad inputs."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from facetransfer.errors import MediaError
from facetransfer.media import probe
from facetransfer.media.probe import is_variable_rate, short_container_name


def _gradient(index: int, height: int = 48, width: int = 64) -> np.ndarray:
    """A smooth RGB test picture that changes with `index` (uint8, H x W x 3)."""
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.stack([xs * 4, ys * 5, np.full_like(xs, index * 8)], axis=-1)
    return np.clip(image, 0, 255).astype(np.uint8)


def _encode_video(
    path: Path,
    codec: str,
    frames: int,
    *,
    fps: int = 25,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> None:
    """Write `frames` gradient frames 64x48 with PyAV directly (independent of our writer)."""
    with av.open(str(path), mode="w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = options or {}
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(_gradient(index), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


# (relative path, container, codec, width, height, fps, frame_count, audio codec or None)
SHARED_VIDEOS = [
    ("video/grid/bbaf2n.mpg", "mpeg", "mpeg1video", 360, 288, 25.0, 75, "mp2"),
    ("video/cremad/1001_DFA_ANG_XX.flv", "flv", "vp6f", 480, 360, 30000 / 1001, 67, "mp3"),
    ("video/hard/hamilton_multiface_cuts.mp4", "mp4", "h264", 640, 360, 29.97, 275, "aac"),
    ("video/hard/street_multiface_1080p.mp4", "mp4", "h264", 1920, 1080, 25.0, 105, "aac"),
    ("video/hard/car_1080p_24frames.mp4", "mp4", "h264", 1920, 1080, 24.0, 24, None),
    ("video/hard/painting_pan_5fps.mp4", "mp4", "h264", 426, 240, 5.0, 91, None),
]


@pytest.mark.parametrize(
    ("relative", "container", "codec", "width", "height", "fps", "frames", "audio"), SHARED_VIDEOS
)
def test_probe_shared_videos(
    shared_data: Path,
    relative: str,
    container: str,
    codec: str,
    width: int,
    height: int,
    fps: float,
    frames: int,
    audio: str | None,
) -> None:
    info = probe(shared_data / relative)
    assert info.kind == "video"
    assert (info.container, info.codec) == (container, codec)
    assert (info.width, info.height, info.rotation_deg) == (width, height, 0)
    assert info.fps == pytest.approx(fps, abs=1e-3)
    assert info.variable_fps is False  # GRID mpg and CREMA-D flv timestamps wobble but are constant
    assert info.frame_count == frames
    assert info.duration_s == pytest.approx(frames / fps, abs=1.5 / fps)
    assert info.has_audio is (audio is not None)
    assert info.audio_codec == audio
    assert info.pixel_format == "yuv420p"


def test_probe_exact_rates_and_offsets(shared_data: Path) -> None:
    flv = probe(shared_data / "video/cremad/1001_DFA_ANG_XX.flv")
    assert flv.frame_rate == Fraction(30000, 1001)
    assert flv.audio_sample_rate == 44100
    grid = probe(shared_data / "video/grid/bbaf2n.mpg")
    assert (grid.frame_rate, grid.time_base, grid.duration_s) == (Fraction(25), Fraction(1, 90000), 3.0)
    hamilton = probe(shared_data / "video/hard/hamilton_multiface_cuts.mp4")
    assert hamilton.start_s == pytest.approx(10214 / 11988)  # its first frame is not at 0 s


def test_probe_animated_gif_is_variable_rate(shared_data: Path) -> None:
    info = probe(shared_data / "video/noface/newtonscradle.gif")
    assert (info.container, info.codec, info.width, info.height) == ("gif", "gif", 200, 150)
    assert info.frame_count == 36
    assert info.variable_fps is True  # the first frame shows 50 ms, the others 20 ms
    assert info.fps == pytest.approx(36 / 0.82, rel=1e-6)


@pytest.mark.parametrize(
    ("relative", "container", "width", "height"),
    [
        ("image/faces/astronaut.png", "png", 512, 512),
        ("image/faces/obama.jpg", "jpeg", 910, 1137),
        ("image/hard/32bit.png", "png", 626, 1200),
        ("image/noface/camera.png", "png", 512, 512),
    ],
)
def test_probe_still_images(
    shared_data: Path, relative: str, container: str, width: int, height: int
) -> None:
    info = probe(shared_data / relative)
    assert (info.kind, info.container, info.codec) == ("image", container, container)
    assert (info.width, info.height, info.frame_count, info.fps, info.has_audio) == (
        width,
        height,
        1,
        0.0,
        False,
    )


def test_probe_image_folder(shared_data: Path) -> None:
    info = probe(shared_data / "identity/johns/John_Simm")
    assert (info.kind, info.container, info.codec) == ("image_folder", "folder", "jpeg")
    assert (info.frame_count, info.width, info.height) == (11, 150, 150)


def test_to_json_is_stable_and_serialisable(shared_data: Path) -> None:
    payload = probe(shared_data / "video/grid/bbaf2n.mpg").to_json()
    assert list(payload) == [
        "path", "kind", "container", "codec", "width", "height", "rotation_deg", "fps", "variable_fps",
        "frame_count", "duration_s", "has_audio", "audio_codec", "audio_sample_rate", "pixel_format",
        "frame_rate", "time_base", "start_s", "tags",
    ]  # fmt: skip
    assert (payload["frame_rate"], payload["time_base"]) == ("25/1", "1/90000")
    assert json.loads(json.dumps(payload)) == payload


@pytest.mark.parametrize(
    ("suffix", "codec", "container", "options"),
    [
        (".mkv", "libx264", "matroska", {"preset": "ultrafast"}),
        (".webm", "libvpx-vp9", "webm", {"deadline": "realtime", "cpu-used": "8"}),
        (".avi", "mpeg4", "avi", {}),
        (".mov", "libx264", "mov", {"preset": "ultrafast"}),
    ],
)
def test_probe_containers_made_here(
    tmp_path: Path, suffix: str, codec: str, container: str, options: dict[str, str]
) -> None:
    path = tmp_path / f"clip{suffix}"
    _encode_video(path, codec, frames=12, options=options)
    info = probe(path)
    assert info.container == container
    assert info.codec == codec.removeprefix("lib").replace("vpx-vp9", "vp9").replace("x264", "h264")
    assert (info.width, info.height, info.frame_count) == (64, 48, 12)
    assert info.fps == pytest.approx(25.0)
    assert info.variable_fps is False  # Matroska/WebM store milliseconds: 40 ms steps exactly
    assert info.duration_s == pytest.approx(12 / 25, abs=0.041)


def test_probe_reports_rotation_and_display_size(tmp_path: Path) -> None:
    path = tmp_path / "portrait.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.set_display_rotation(90)
        for packet in stream.encode(av.VideoFrame.from_ndarray(_gradient(0), format="rgb24")):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    info = probe(path)
    assert (info.width, info.height, info.rotation_deg) == (64, 48, 90)
    assert (info.display_width, info.display_height) == (48, 64)


def _assert_one_line_error(error: pytest.ExceptionInfo[MediaError], path: Path, *words: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message
    for word in words:
        assert word in message


def test_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.mp4"
    with pytest.raises(MediaError) as error:
        probe(path)
    _assert_one_line_error(error, path, "no such file")


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.touch()
    with pytest.raises(MediaError) as error:
        probe(path)
    _assert_one_line_error(error, path, "empty (0 bytes)")


@pytest.mark.parametrize("name", ["x.mp4", "x.png"])
def test_text_file_named_as_media(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(MediaError) as error:
        probe(path)
    _assert_one_line_error(error, path, "not a readable")


def test_mp4_cut_before_its_index(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "video/hard/hamilton_multiface_cuts.mp4"  # its moov index is at the end
    path = tmp_path / "cut.mp4"
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.4)])
    with pytest.raises(MediaError) as error:
        probe(path)
    _assert_one_line_error(error, path, "truncated")


def test_faststart_mp4_cut_inside_its_data(tmp_path: Path) -> None:
    whole = tmp_path / "whole.mp4"
    _encode_video(
        whole,
        "libx264",
        frames=40,
        options={"preset": "ultrafast"},
        container_options={"movflags": "+faststart"},
    )
    assert probe(whole).frame_count == 40
    path = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])  # opens fine: the index is intact, the data is not
    with pytest.raises(MediaError) as error:
        probe(path)
    _assert_one_line_error(error, path, "truncated")


def test_audio_only_file(tmp_path: Path) -> None:
    path = tmp_path / "voice.m4a"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=44100)
        tone = (0.2 * np.sin(np.arange(44100) / 44100 * 2 * np.pi * 440)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(tone[None, :], format="fltp", layout="mono")
        frame.sample_rate = 44100
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    with pytest.raises(MediaError) as error:
        probe(path)
    _assert_one_line_error(error, path, "no video stream", "audio")


def test_empty_folder_and_folder_without_images(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as error:
        probe(tmp_path)
    _assert_one_line_error(error, tmp_path, "no image files")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(MediaError):
        probe(tmp_path)


def test_corrupt_image_in_a_copy(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "half.jpg"
    data = (shared_data / "image/faces/obama.jpg").read_bytes()
    path.write_bytes(data[:200])  # the header only: no picture data
    with pytest.raises(MediaError):
        probe(path)
    shutil.copy(shared_data / "image/faces/obama.jpg", tmp_path / "ok.jpg")
    info = probe(tmp_path / "ok.jpg")
    height, width = cv2.imread(str(tmp_path / "ok.jpg")).shape[:2]
    assert (info.kind, info.width, info.height, info.frame_count) == ("image", width, height, 1)


def test_is_variable_rate_tolerates_rounding_only() -> None:
    millis = Fraction(1, 1000)
    even_29_97 = [round(i * 1000 / 29.97) for i in range(100)]  # 33/34 ms steps
    assert is_variable_rate(even_29_97, millis) is False
    assert is_variable_rate([i * 3600 for i in range(50)], Fraction(1, 90000)) is False
    dropped = [i * 3600 for i in range(50) if i != 20]  # one frame missing: a double step
    assert is_variable_rate(dropped, Fraction(1, 90000)) is True
    jittery = [0, 40, 70, 120, 160, 190, 240]
    assert is_variable_rate(jittery, millis) is True


def test_short_container_name() -> None:
    assert short_container_name("mov,mp4,m4a,3gp,3g2,mj2", Path("a.mp4")) == "mp4"
    assert short_container_name("mov,mp4,m4a,3gp,3g2,mj2", Path("a.MOV")) == "mov"
    assert short_container_name("mov,mp4,m4a,3gp,3g2,mj2", Path("a.bin")) == "mov"
    assert short_container_name("matroska,webm", Path("a.mkv")) == "matroska"
    assert short_container_name("matroska,webm", Path("a.webm")) == "webm"
