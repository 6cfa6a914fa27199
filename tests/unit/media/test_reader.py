"""read_frames / read_image / list_images on real media, made-up images and broken files."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from facetransfer.errors import ConfigError, MediaError
from facetransfer.media import Frame, list_images, probe, read_frames, read_image
from facetransfer.media.reader import natural_sort_key


def _thumb(frame: Frame) -> np.ndarray:
    return frame.image[::8, ::8].copy()


@pytest.mark.parametrize(
    "relative",
    [
        "video/grid/bbaf2n.mpg",  # MPEG-PS: seeks land late, so the reader falls back to decoding
        "video/cremad/1001_DFA_ANG_XX.flv",
        "video/hard/hamilton_multiface_cuts.mp4",  # B-frames, first frame at 0.85 s
    ],
)
def test_every_n_start_end_match_a_full_decode(shared_data: Path, relative: str) -> None:
    path = shared_data / relative
    full = list(read_frames(path))
    info = probe(path)
    assert [frame.index for frame in full] == list(range(info.frame_count))
    assert full[0].timestamp_s == 0.0
    assert all(later.timestamp_s > earlier.timestamp_s for earlier, later in itertools.pairwise(full))
    assert full[0].image.shape == (info.height, info.width, 3) and full[0].image.dtype == np.uint8

    for start_s, end_s, every_n in [(1.0, 2.0, 1), (0.5, None, 3), (None, 1.3, 2), (1.77, None, 4)]:
        wanted = [
            frame
            for frame in full
            if (start_s is None or frame.timestamp_s >= start_s - 1e-4)
            and (end_s is None or frame.timestamp_s < end_s - 1e-4)
        ][::every_n]
        got = list(read_frames(path, every_n=every_n, start_s=start_s, end_s=end_s))
        assert [frame.index for frame in got] == [frame.index for frame in wanted], (start_s, end_s, every_n)
        assert [frame.timestamp_s for frame in got] == pytest.approx([frame.timestamp_s for frame in wanted])
        for mine, theirs in zip(got, wanted, strict=True):
            np.testing.assert_array_equal(_thumb(mine), _thumb(theirs))


def test_grid_timestamps_are_25_fps(shared_data: Path) -> None:
    stamps = [frame.timestamp_s for frame in read_frames(shared_data / "video/grid/bbaf2n.mpg", every_n=5)]
    assert stamps == pytest.approx([index * 0.04 for index in range(0, 75, 5)])


def _resident_bytes() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) * 1024  # type: ignore[union-attr]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc to read memory use")
def test_memory_stays_flat(shared_data: Path) -> None:
    # 275 frames of 640x360 RGB are 190 MB; streaming must hold about one at a time. Frame buffers
    # come from FFmpeg, invisible to tracemalloc, so resident memory is sampled instead.
    baseline = peak = 0
    count = 0
    for frame in read_frames(shared_data / "video/hard/hamilton_multiface_cuts.mp4"):
        count += 1
        if frame.index == 10:
            baseline = _resident_bytes()
        elif frame.index > 10:
            peak = max(peak, _resident_bytes())
    assert count == 275
    assert peak - baseline < 40 * 640 * 360 * 3  # 28 MB: far below the 183 MB of holding them all


def test_rotation_metadata_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.mp4"
    image = np.zeros((48, 64, 3), np.uint8)
    image[:16, :16] = 255  # a white block in the top-left corner of the coded picture
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"crf": "0"}
        stream.set_display_rotation(90)  # counter-clockwise
        for packet in [
            *stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")),
            *stream.encode(None),
        ]:
            container.mux(packet)
    (frame,) = list(read_frames(path))
    assert frame.image.shape == (64, 48, 3)
    # A quarter-turn counter-clockwise moves the top-left corner to the bottom-left.
    assert frame.image[-8, 8].min() > 200
    assert frame.image[8, 8].max() < 50


def test_truncated_mp4_raises_with_the_frame_reached(tmp_path: Path) -> None:
    whole = tmp_path / "whole.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(whole), mode="w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for _ in range(30):
            noise = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(noise, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.5)])
    got: list[int] = []
    with pytest.raises(MediaError, match=r"cut\.mp4: .*(truncated|corrupt).* frame \d+") as error:
        got.extend(frame.index for frame in read_frames(cut))
    assert 0 < len(got) < 30
    assert "\n" not in str(error.value)


def test_read_image_channel_order_grey_alpha_and_16_bit(tmp_path: Path) -> None:
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 0] = 200  # blue in OpenCV's order
    cv2.imwrite(str(tmp_path / "blue.png"), bgr)
    np.testing.assert_array_equal(read_image(tmp_path / "blue.png")[0, 0], [0, 0, 200])

    cv2.imwrite(str(tmp_path / "grey.png"), np.full((4, 6), 77, np.uint8))
    grey = read_image(tmp_path / "grey.png")
    assert grey.shape == (4, 6, 3) and (grey == 77).all()

    bgra = np.zeros((4, 6, 4), np.uint8)
    bgra[..., :3] = (10, 20, 30)
    bgra[:, :3, 3] = 255  # left half opaque, right half transparent
    cv2.imwrite(str(tmp_path / "alpha.png"), bgra)
    rgba_read = read_image(tmp_path / "alpha.png")
    np.testing.assert_array_equal(rgba_read[0, 0], [30, 20, 10])
    np.testing.assert_array_equal(rgba_read[0, 5], [0, 0, 0])

    deep = np.zeros((4, 6, 3), np.uint16)
    deep[..., 2] = 65535
    deep[..., 1] = 257 * 100
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    np.testing.assert_array_equal(read_image(tmp_path / "deep.png")[0, 0], [255, 100, 0])


def test_read_image_rgba_file_from_shared_data(shared_data: Path) -> None:
    image = read_image(shared_data / "image/hard/32bit.png")
    assert image.shape == (1200, 626, 3) and image.dtype == np.uint8
    raw = cv2.imread(str(shared_data / "image/hard/32bit.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(image, raw[..., 2::-1])  # fully opaque: the colours, as RGB


def test_read_image_errors(tmp_path: Path) -> None:
    (tmp_path / "fake.png").write_text("not an image")
    with pytest.raises(MediaError, match=r"fake\.png: not a readable image"):
        read_image(tmp_path / "fake.png")
    with pytest.raises(MediaError, match="no such file"):
        read_image(tmp_path / "missing.jpg")


def test_folder_in_natural_order(tmp_path: Path) -> None:
    names = ["img10.png", "img2.png", "img1.png", "IMG3.JPG", ".hidden.png", "notes.txt"]
    for value, name in enumerate(names):
        cv2.imwrite(str(tmp_path / "probe.png"), np.full((4, 4, 3), value * 10, np.uint8))
        (tmp_path / "probe.png").rename(tmp_path / name)
    assert [path.name for path in list_images(tmp_path)] == ["img1.png", "img2.png", "IMG3.JPG", "img10.png"]
    frames = list(read_frames(tmp_path))
    assert [frame.index for frame in frames] == [0, 1, 2, 3]
    assert [int(frame.image[0, 0, 0]) for frame in frames] == [20, 10, 30, 0]
    assert [frame.index for frame in read_frames(tmp_path, every_n=2)] == [0, 2]


def test_single_image_is_one_frame(shared_data: Path) -> None:
    (frame,) = list(read_frames(shared_data / "image/faces/astronaut.png"))
    assert (frame.index, frame.timestamp_s, frame.image.shape) == (0, 0.0, (512, 512, 3))


def test_natural_sort_key() -> None:
    names = ["a10b", "a2b", "a2a", "A1", "b"]
    assert sorted(names, key=natural_sort_key) == ["A1", "a2a", "a2b", "a10b", "b"]


def test_bad_arguments(shared_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        next(read_frames(shared_data / "video/grid/bbaf2n.mpg", every_n=0))
    with pytest.raises(ConfigError):
        next(read_frames(shared_data / "video/grid/bbaf2n.mpg", start_s=2.0, end_s=1.0))
    with pytest.raises(ConfigError, match="videos only"):
        next(read_frames(shared_data / "image/faces/astronaut.png", start_s=1.0))
    with pytest.raises(MediaError, match="no image files"):
        next(read_frames(tmp_path))
    (tmp_path / "empty.mp4").touch()
    with pytest.raises(MediaError, match="0 bytes"):
        next(read_frames(tmp_path / "empty.mp4"))
