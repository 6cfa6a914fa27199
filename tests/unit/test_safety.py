"""The deletion policy: which output paths are refused, and what counts as the tool's own."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from facetransfer.errors import FacetransferError, OutputExistsError
from facetransfer.fsutil import atomic_dir
from facetransfer.safety import (
    OUTPUT_MARKER,
    check_not_input,
    check_output,
    is_output_folder,
    is_tool_file,
    output_marker,
)
from facetransfer.sheet import write_png


def _never_ours(path: Path) -> bool:
    return False


def _always_ours(path: Path) -> bool:
    return True


def test_an_output_that_is_holds_or_lies_inside_an_input_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    folder.mkdir()
    video = folder / "clip.mp4"
    video.write_bytes(b"x")
    for output, words in ((video, "would overwrite"), (folder, "contains"), (tmp_path, "contains")):
        with pytest.raises(OutputExistsError, match=words):
            check_not_input(output, [video], "faceset")
    with pytest.raises(OutputExistsError, match="inside the input folder"):
        check_not_input(folder / "out", [folder], "faceset")
    check_not_input(tmp_path / "elsewhere", [video, folder], "faceset")  # a sibling is fine


def test_a_symlink_loop_is_one_line(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    with pytest.raises(FacetransferError, match="symbolic link loop"):
        check_not_input(loop / "out", [], "faceset")


def test_only_the_tools_own_output_is_replaced_and_only_with_overwrite(tmp_path: Path) -> None:
    existing = tmp_path / "out"
    existing.mkdir()
    check_output(existing, [], overwrite=False, is_ours=_never_ours, what="faceset")  # empty: taken
    (existing / "keep.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match="did not make"):
            check_output(existing, [], overwrite=overwrite, is_ours=_never_ours, what="faceset")
    with pytest.raises(OutputExistsError, match="pass --overwrite"):
        check_output(existing, [], overwrite=False, is_ours=_always_ours, what="faceset")
    check_output(existing, [], overwrite=True, is_ours=_always_ours, what="faceset")


def test_a_symlink_at_the_output_is_never_replaced(tmp_path: Path) -> None:
    target = tmp_path / "real"
    target.mkdir()
    (target / OUTPUT_MARKER).write_text('{"format": "facetransfer-output"}')
    link = tmp_path / "link"
    os.symlink(target, link)
    with pytest.raises(OutputExistsError, match="did not make"):
        check_output(link, [], overwrite=True, is_ours=is_output_folder, what="output folder")


def test_markers_tell_the_tools_files_and_folders_from_others(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.png"
    write_png(sheet, np.zeros((8, 8, 3), np.uint8))
    assert is_tool_file(sheet)
    import cv2

    other = tmp_path / "other.png"
    cv2.imwrite(str(other), np.zeros((8, 8, 3), np.uint8))
    assert not is_tool_file(other)
    assert not is_tool_file(tmp_path)
    (tmp_path / "text.mp4").write_text("not a video")
    assert not is_tool_file(tmp_path / "text.mp4")
    folder = tmp_path / "frames"
    folder.mkdir()
    assert not is_output_folder(folder)
    (folder / OUTPUT_MARKER).write_text("[1, 2]")  # wrong shape: not ours
    assert not is_output_folder(folder)
    import json

    (folder / OUTPUT_MARKER).write_text(json.dumps(output_marker()))
    assert is_output_folder(folder)


def test_atomic_dir_takes_an_empty_folder_and_keeps_a_user_file_named_like_its_trash(tmp_path: Path) -> None:
    final = tmp_path / "faces"
    final.mkdir()
    trash_like = tmp_path / ".faces.old"
    trash_like.mkdir()
    (trash_like / "keep.txt").write_text("mine")
    with atomic_dir(final) as folder:
        (folder / "a.txt").write_text("new")
    assert (final / "a.txt").read_text() == "new"
    with atomic_dir(final, overwrite=True) as folder:
        (folder / "b.txt").write_text("newer")
    assert sorted(p.name for p in final.iterdir()) == ["b.txt"]
    assert (trash_like / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".faces.old", "faces"]
