"""VideoWriter: round trips, audio copy/re-encode and sync, timestamps, atomic output, refusals."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from facetransfer.errors import MediaError, OutputExistsError
from facetransfer.media import VideoWriter, probe, read_frames
from facetransfer.media.writer import as_frame_rate, default_time_base

FAST = {"preset": "ultrafast"}


def _gradient(index: int, height: int = 48, width: int = 64) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.stack([xs * 3 + 20, ys * 4 + 20, np.full_like(xs, 30 + index * 5)], axis=-1)
    return np.clip(image, 0, 255).astype(np.uint8)


def _mono_16k(path: Path) -> tuple[float, np.ndarray]:
    """(start time in s, samples) of the first audio stream, decoded and resampled to 16 kHz mono."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        chunks: list[np.ndarray] = []
        start_s: float | None = None
        for frame in container.decode(stream):
            if start_s is None:
                assert frame.pts is not None and stream.time_base is not None
                start_s = float(frame.pts * stream.time_base)
            chunks.extend(out.to_ndarray().ravel() for out in resampler.resample(frame))
        chunks.extend(out.to_ndarray().ravel() for out in resampler.resample(None))
    assert start_s is not None
    return start_s, np.concatenate(chunks)


def _audio_lag_ms(source: Path, source_offset_s: float, output: Path) -> float:
    """How late (ms) the output's sound is against the source's sound `source_offset_s` into it.

    0 means in sync: output time t plays what the source played at `source_offset_s + t`.
    """
    source_start_s, source_audio = _mono_16k(source)
    output_start_s, output_audio = _mono_16k(output)
    first = round((source_offset_s + output_start_s - source_start_s) * 16000)
    if first < 0:  # the source's sound starts after the output's: silence before it
        source_audio = np.concatenate([np.zeros(-first, source_audio.dtype), source_audio])
        first = 0
    reference = source_audio[first : first + len(output_audio)]
    length = min(len(reference), len(output_audio)) - 800
    scores = {
        lag: float(np.dot(reference[400 - lag : 400 - lag + length], output_audio[400 : 400 + length]))
        for lag in range(-400, 401)
    }
    return max(scores, key=lambda lag: scores[lag]) / 16.0


def test_round_trip_30_frames(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    images = [_gradient(index) for index in range(30)]
    with VideoWriter(path, width=64, height=48, fps=25) as writer:
        for image in images:
            writer.write(image)
        assert writer.frames_written == 30
    info = probe(path)
    assert (info.codec, info.pixel_format, info.container) == ("h264", "yuv420p", "mp4")
    assert (info.frame_count, info.fps, info.width, info.height) == (30, 25.0, 64, 48)
    assert info.duration_s == pytest.approx(1.2)
    assert info.has_audio is False
    frames = list(read_frames(path))
    assert [frame.timestamp_s for frame in frames] == pytest.approx([index / 25 for index in range(30)])
    error = np.mean(
        [np.abs(f.image.astype(int) - i.astype(int)).mean() for f, i in zip(frames, images, strict=True)]
    )
    assert error < 3.0  # crf 18 on a smooth picture: near lossless, and channels not swapped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temporary left behind


def test_h265_in_mkv(tmp_path: Path) -> None:
    path = tmp_path / "out.mkv"
    with VideoWriter(path, width=64, height=48, fps=Fraction(30000, 1001), codec="h265", **FAST) as writer:
        for index in range(10):
            writer.write(_gradient(index))
    info = probe(path)
    assert (info.codec, info.container, info.frame_count) == ("hevc", "matroska", 10)
    assert info.frame_rate == Fraction(30000, 1001)


def test_audio_from_grid_is_reencoded_to_aac_in_sync(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "video/grid/bbaf2n.mpg"
    path = tmp_path / "dub.mp4"
    with VideoWriter.like(path, source, **FAST) as writer:
        for frame in read_frames(source):
            writer.write(frame.image, frame.timestamp_s)
    info = probe(path)
    assert (info.frame_count, info.fps, info.width, info.height) == (75, 25.0, 360, 288)
    assert (info.has_audio, info.audio_codec, info.audio_sample_rate) == (True, "aac", 44100)
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        assert audio.duration is not None and audio.time_base is not None
        audio_s = float(audio.duration * audio.time_base)
    assert audio_s == pytest.approx(info.duration_s, abs=1 / 25)  # cut to the video, within a frame
    assert abs(_audio_lag_ms(source, 0.0, path)) <= 1.0  # AAC priming must not delay the sound


def test_clip_from_the_middle_keeps_lip_sync(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "video/grid/bbaf2n.mpg"
    path = tmp_path / "middle.mkv"  # Matroska takes MP2: packets copied, not re-encoded
    with VideoWriter.like(path, source, **FAST) as writer:
        for frame in read_frames(source, start_s=1.0, end_s=2.0):
            writer.write(frame.image, frame.timestamp_s)
    info = probe(path)
    assert (info.frame_count, info.audio_codec) == (25, "mp2")
    assert info.duration_s == pytest.approx(1.0)
    # Output time t must play what the source played at 1.0 s + t (MP2 packets are 53 ms long,
    # so the copied audio may start up to one packet late, with its own start time).
    assert abs(_audio_lag_ms(source, 1.0, path)) <= 1.0


def test_aac_is_copied_from_an_offset_mp4(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "video/hard/hamilton_multiface_cuts.mp4"  # video starts at 0.85 s
    path = tmp_path / "copy.mp4"
    stamps: list[float] = []
    with VideoWriter.like(path, source, **FAST) as writer:
        for frame in read_frames(source, start_s=2.0, end_s=3.0):
            writer.write(frame.image, frame.timestamp_s)
            stamps.append(frame.timestamp_s)
    first_timestamp_s = stamps[0]  # 2.002 s: frame 60 at 29.97 fps
    info = probe(path)
    assert (info.frame_count, info.audio_codec, info.audio_sample_rate) == (30, "aac", 44100)
    source_start_s = probe(source).start_s
    assert abs(_audio_lag_ms(source, source_start_s + first_timestamp_s, path)) <= 1.0
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        assert audio.duration is not None and audio.time_base is not None
        assert float(audio.duration * audio.time_base) <= info.duration_s + 0.03  # one AAC packet


def test_variable_frame_rate_timestamps_are_kept(tmp_path: Path) -> None:
    stamps = [0.0, 0.013, 0.05, 0.2, 0.21, 0.5, 0.533, 0.9, 1.0, 1.37]
    path = tmp_path / "vfr.mp4"
    with VideoWriter(path, width=64, height=48, fps=25, **FAST) as writer:
        for index, stamp in enumerate(stamps):
            writer.write(_gradient(index), stamp)
    got = [frame.timestamp_s for frame in read_frames(path)]
    assert got == pytest.approx(stamps, abs=1e-3)
    assert probe(path).variable_fps is True


def test_timestamps_are_relative_to_the_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "late.mp4"
    with VideoWriter(path, width=64, height=48, fps=25, time_base=Fraction(1, 90000), **FAST) as writer:
        for index in range(5):
            writer.write(_gradient(index), 10.0 + index * 0.04)
    assert [frame.timestamp_s for frame in read_frames(path)] == pytest.approx([0.0, 0.04, 0.08, 0.12, 0.16])


def test_exception_inside_with_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"

    class Boom(Exception):
        pass

    with pytest.raises(Boom), VideoWriter(path, width=64, height=48, fps=25, **FAST) as writer:
        for index in range(5):
            writer.write(_gradient(index))
        raise Boom
    assert list(tmp_path.iterdir()) == []


def test_closing_without_frames_fails_and_leaves_nothing(tmp_path: Path) -> None:
    with (
        pytest.raises(MediaError, match="no frames"),
        VideoWriter(tmp_path / "x.mp4", width=64, height=48, fps=25),
    ):
        pass
    assert list(tmp_path.iterdir()) == []


def test_metadata_tags_are_written(tmp_path: Path) -> None:
    path = tmp_path / "tagged.mp4"
    tags = {"comment": "made with facetransfer", "facetransfer_provenance": "synthetic:v1"}
    with VideoWriter(path, width=64, height=48, fps=25, metadata=tags, **FAST) as writer:
        writer.write(_gradient(0))
    written = probe(path).tags
    assert {key: written.get(key) for key in tags} == tags


def test_refuses_to_overwrite_its_audio_source(shared_data: Path, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    shutil.copy(shared_data / "video/hard/hamilton_multiface_cuts.mp4", source)
    before = source.read_bytes()
    with pytest.raises(OutputExistsError, match=r"clip\.mp4"):
        VideoWriter.like(source, source)
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_an_odd_size_is_padded_by_one_pixel(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    images = [_gradient(index, height=47, width=63) for index in range(3)]
    with (
        caplog.at_level("WARNING"),
        VideoWriter(tmp_path / "odd.mp4", width=63, height=47, fps=25, **FAST) as w,
    ):
        for image in images:
            w.write(image)
    assert "63x47 is odd; written as 64x48" in caplog.text
    frames = [frame.image for frame in read_frames(tmp_path / "odd.mp4")]
    assert len(frames) == 3 and frames[0].shape == (48, 64, 3)
    for image, frame in zip(images, frames, strict=True):
        # the picture is kept, and the added column and row repeat its last ones
        assert np.abs(frame[:47, :63].astype(int) - image).mean() < 3
        assert np.abs(frame[:47, 63].astype(int) - frame[:47, 62]).mean() < 3
        assert np.abs(frame[47, :63].astype(int) - frame[46, :63]).mean() < 3


@pytest.mark.parametrize(
    ("name", "width", "height", "match"),
    [("empty.mp4", 0, 48, "is empty"), ("x.avi", 64, 48, "cannot write '.avi'")],
)
def test_refuses_bad_settings(tmp_path: Path, name: str, width: int, height: int, match: str) -> None:
    with pytest.raises(MediaError, match=match):
        VideoWriter(tmp_path / name, width=width, height=height, fps=25)
    assert list(tmp_path.iterdir()) == []


def test_write_checks_its_input(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "out.mp4", width=64, height=48, fps=25, **FAST) as writer:
        with pytest.raises(ValueError, match=r"\(48, 64, 3\)"):
            writer.write(np.zeros((48, 64, 4), np.uint8))
        with pytest.raises(ValueError, match="uint8"):
            writer.write(np.zeros((48, 64, 3), np.float32))
        writer.write(_gradient(0), 1.0)
        with pytest.raises(ValueError, match="before the previous"):
            writer.write(_gradient(1), 0.5)
    assert probe(tmp_path / "out.mp4").frame_count == 1


def test_frame_rate_and_time_base_helpers() -> None:
    assert as_frame_rate(29.97) == Fraction(2997, 100)
    assert as_frame_rate(30000 / 1001) == Fraction(30000, 1001)
    assert as_frame_rate(25) == Fraction(25)
    assert default_time_base(Fraction(25)) == Fraction(1, 12800)
    assert default_time_base(Fraction(30000, 1001)) == Fraction(1, 30000)
    assert default_time_base(Fraction(2997, 100)) == Fraction(1, 11988)


def test_audio_that_starts_late_gets_leading_silence(tmp_path: Path) -> None:
    # A source whose MP2 sound starts 0.5 s after its first video frame; MP4 needs it re-encoded.
    source = tmp_path / "late_audio.mkv"
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal((1, 44100)) * 3000).astype(np.int16).repeat(2, axis=0)  # 1 s stereo
    with av.open(str(source), mode="w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.options = FAST
        audio = container.add_stream("mp2", rate=44100)
        audio.layout = "stereo"
        packets = []
        for index in range(40):
            packets.extend(video.encode(av.VideoFrame.from_ndarray(_gradient(index), format="rgb24")))
        packets.extend(video.encode(None))
        sound = av.AudioFrame.from_ndarray(noise, format="s16p", layout="stereo")
        sound.sample_rate, sound.pts, sound.time_base = 44100, 22050, Fraction(1, 44100)
        packets.extend([*audio.encode(sound), *audio.encode(None)])
        for packet in packets:
            container.mux(packet)
    path = tmp_path / "out.mp4"
    with VideoWriter.like(path, source, **FAST) as writer:
        for frame in read_frames(source):
            writer.write(frame.image, frame.timestamp_s)
    assert probe(path).audio_codec == "aac"
    output_start_s, output_audio = _mono_16k(path)
    assert output_start_s == pytest.approx(0.0, abs=1e-3)
    assert np.abs(output_audio[: 16000 * 45 // 100]).max() < 0.01  # silent until the sound starts
    assert abs(_audio_lag_ms(source, 0.0, path)) <= 1.0
