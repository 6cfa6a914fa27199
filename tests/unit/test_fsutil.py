"""Atomic writes leave ordinary permissions (what `open` and `mkdir` give), except where a caller asks
for a private file, such as the local signing key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from facetransfer.fsutil import atomic_dir, atomic_path, write_text_atomic
from facetransfer.provenance.signing import create_local_chain


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_and_folders_get_the_modes_open_and_mkdir_would_give(tmp_path: Path) -> None:
    write_text_atomic(tmp_path / "plain.txt", "x")
    with open(tmp_path / "reference.txt", "w", encoding="utf-8") as handle:
        handle.write("x")
    assert _mode(tmp_path / "plain.txt") == _mode(tmp_path / "reference.txt")
    with atomic_dir(tmp_path / "folder") as folder:
        (folder / "inside.txt").write_text("x")
    (tmp_path / "reference").mkdir()
    assert _mode(tmp_path / "folder") == _mode(tmp_path / "reference")


def test_a_file_made_private_inside_the_block_stays_private(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "secret") as temporary:
        temporary.write_text("x")
        os.chmod(temporary, 0o600)
    assert _mode(tmp_path / "secret") == 0o600
    _, key = create_local_chain(tmp_path / "signing")
    assert _mode(key) == 0o600 and _mode(tmp_path / "signing") == 0o700
