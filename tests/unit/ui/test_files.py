"""Allowed roots (symbolic links included), the folder listing and uploads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from facetransfer.ui.files import PathRefused, Roots, UploadError, list_folder, receive_upload


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Roots, Path, Path]:
    inside, outside = tmp_path / "work", tmp_path / "private"
    inside.mkdir()
    outside.mkdir()
    (inside / "clip.mp4").write_bytes(b"x" * 10)
    (inside / "notes.txt").write_text("n")
    (inside / ".hidden").write_text("h")
    (outside / "secret.mp4").write_bytes(b"s")
    (inside / "link_out").symlink_to(outside)
    (inside / "link_file_out.mp4").symlink_to(outside / "secret.mp4")
    (inside / "sub").mkdir()
    (inside / "sub" / "link_in.mp4").symlink_to(inside / "clip.mp4")
    return Roots.of([inside]), inside, outside


def test_paths_inside_the_roots_resolve(tree: tuple[Roots, Path, Path]) -> None:
    roots, inside, _ = tree
    assert roots.check(inside / "clip.mp4") == inside / "clip.mp4"
    assert roots.check("clip.mp4") == inside / "clip.mp4"  # relative to the first root
    assert roots.check(inside / "sub" / "link_in.mp4") == inside / "clip.mp4"
    assert roots.check(inside / "sub" / ".." / "clip.mp4") == inside / "clip.mp4"


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "{outside}/secret.mp4",
        "{inside}/../private/secret.mp4",
        "{inside}/link_out/secret.mp4",
        "{inside}/link_file_out.mp4",
        "{inside}/link_out",
    ],
)
def test_paths_outside_the_roots_are_refused(tree: tuple[Roots, Path, Path], path: str) -> None:
    roots, inside, outside = tree
    with pytest.raises(PathRefused, match="outside the folders this app may open"):
        roots.check(path.format(inside=inside, outside=outside))


def test_missing_and_empty_paths_are_one_line_errors(tree: tuple[Roots, Path, Path]) -> None:
    roots, inside, _ = tree
    with pytest.raises(PathRefused, match="not found"):
        roots.check(inside / "nothing.mp4")
    with pytest.raises(PathRefused, match="no path given"):
        roots.check("  ")
    loop = inside / "loop"
    loop.symlink_to(loop)
    with pytest.raises(PathRefused, match="cannot be opened"):
        roots.check(loop)


def test_the_listing_leaves_out_hidden_files_and_links_that_lead_out(tree: tuple[Roots, Path, Path]) -> None:
    roots, inside, _ = tree
    folder, entries = list_folder(roots, str(inside))
    assert folder == inside
    assert [entry.name for entry in entries] == ["sub", "clip.mp4", "notes.txt"]
    assert [entry.is_media for entry in entries] == [False, True, False]
    assert entries[1].size == 10
    with pytest.raises(PathRefused):
        list_folder(roots, str(inside / "link_out"))


def _upload(folder: Path, name: str, chunks: list[bytes], limit: int, declared: int | None) -> Path:
    with receive_upload(folder, name, limit, declared) as (final, sink):
        for chunk in chunks:
            sink.write(chunk)
    return final


def test_an_upload_is_written_whole_under_a_free_name(tmp_path: Path) -> None:
    first = _upload(tmp_path, "my clip.mp4", [b"ab", b"cd"], 10, 4)
    assert first == tmp_path / "my_clip.mp4" and first.read_bytes() == b"abcd"
    second = _upload(tmp_path, "../../my clip.mp4", [b"xy"], 10, None)
    assert second == tmp_path / "my_clip-2.mp4" and first.read_bytes() == b"abcd"


@pytest.mark.parametrize(
    ("name", "chunks", "declared", "message"),
    [
        ("big.mp4", [b"12345", b"678901"], None, "more than the"),
        ("big.mp4", [b"1"], 11, "more than the"),
        ("empty.mp4", [], None, "empty"),
        ("short.mp4", [b"123"], 5, "cut short"),
        ("script.sh", [b"1"], None, "not a video or image name"),
        ("", [b"1"], None, "not a video or image name"),
    ],
)
def test_bad_uploads_leave_nothing(
    tmp_path: Path, name: str, chunks: list[bytes], declared: int | None, message: str
) -> None:
    with pytest.raises(UploadError, match=message):
        _upload(tmp_path, name, chunks, 10, declared)
    assert os.listdir(tmp_path) == []
