"""How several targets are named, listed and given outputs (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from facetransfer.convert.batch import expand_targets, output_name, output_paths, read_target_list
from facetransfer.errors import ConfigError, MediaError


def test_a_folder_of_videos_stands_for_its_videos_and_a_folder_of_images_for_itself(tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    for name in ("shot10.mkv", "shot2.mp4", ".hidden.mp4", "notes.txt"):
        (shots / name).write_bytes(b"x")
    images = tmp_path / "frames"
    images.mkdir()
    (images / "0001.png").write_bytes(b"x")
    single = tmp_path / "one.mov"
    assert expand_targets([shots, images, single]) == [
        shots / "shot2.mp4",
        shots / "shot10.mkv",
        images,
        single,
    ]


def test_list_file_lines_are_relative_to_the_list(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("# scene 4\nshot1.mp4\n\n  /abs/shot2.mov  \n")
    assert read_target_list(listing) == [tmp_path / "shot1.mp4", Path("/abs/shot2.mov")]
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(MediaError, match="names no file"):
        read_target_list(tmp_path / "empty.txt")
    with pytest.raises(MediaError, match="no such target list"):
        read_target_list(tmp_path / "missing.txt")


def test_output_names(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    assert output_name(Path("a/shot.mkv")) == "shot.mkv"
    assert output_name(Path("a/shot.mpg")) == "shot.mp4"
    assert output_name(Path("a/still.webp")) == "still.png"
    assert output_name(Path("a/still.jpg")) == "still.jpg"
    assert output_name(folder) == "frames"
    with pytest.raises(ConfigError, match="rename one of them"):
        output_paths([Path("a/shot.mpg"), Path("b/shot.mp4")], tmp_path / "out")
    with pytest.raises(ConfigError, match="named twice"):
        output_paths([Path("a/shot.mp4"), Path("a/shot.mp4")], tmp_path / "out")
