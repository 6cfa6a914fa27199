"""Atomic file writes: a temporary name in the same folder, flush + fsync, then rename."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _process_umask() -> int:
    """The umask, read once (setting it is the only portable way to read it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _process_umask()
FILE_MODE = 0o666 & ~_UMASK
"""Mode of the files written here: what `open` would give (mkstemp makes them private)."""
DIR_MODE = 0o777 & ~_UMASK
"""Mode of the folders made here: what `mkdir` would give (mkdtemp makes them private)."""


def _temporary_prefix(final: Path) -> str:
    """Temporary names are `.NAME.PID.RANDOM.tmp`: hidden, recognisable, and traceable to their process."""
    return f".{final.name}.{os.getpid()}."


def _process_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


_TEMPORARY_NAME = re.compile(r"^\.(?P<final>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+(\.[A-Za-z0-9]+)?\.tmp$")


def final_path_of(path: Path) -> Path:
    """The output a temporary `.NAME.PID.RANDOM[.ext].tmp` stands for (`NAME` beside it); any other
    path as it is."""
    match = _TEMPORARY_NAME.match(path.name)
    return path.with_name(match.group("final")) if match else path


def remove_stale_temporaries(final: Path) -> list[Path]:
    """Remove the temporaries of `final` that a killed run left (`.NAME.PID.RANDOM.tmp` whose process
    is gone). Returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(final.parent))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY_NAME.match(entry.name)
        if match is None or match.group("final") != final.name or _process_is_alive(int(match.group("pid"))):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(final_path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to `final_path`; on success it is fsynced and renamed over it.

    On an exception the temporary file is removed and `final_path` is untouched. `suffix` keeps the
    extension meaningful for writers that choose a format by name (e.g. ``.mp4``).
    """
    final = Path(final_path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    fd, tmp_name = tempfile.mkstemp(prefix=_temporary_prefix(final), suffix=suffix + ".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(FILE_MODE)  # before the caller writes: it may make the file private again (keys)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
        fsync_dir(final.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], payload: Any) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def is_empty_dir(path: Path) -> bool:
    """A real (not symlinked) folder with nothing in it."""
    try:
        return path.is_dir() and not path.is_symlink() and not any(path.iterdir())
    except OSError:
        return False


@contextmanager
def atomic_dir(final_dir: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to `final_dir`; on success it replaces `final_dir`.

    Callers decide what may be replaced before any work (`facetransfer.safety.check_output`);
    `overwrite` only says the check was made.

    On an exception (including KeyboardInterrupt) the temporary folder is removed and nothing is
    left at `final_dir`.
    """
    final = Path(final_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    tmp = Path(tempfile.mkdtemp(prefix=_temporary_prefix(final), suffix=".tmp", dir=final.parent))
    tmp.chmod(DIR_MODE)
    try:
        yield tmp
        fsync_dir(tmp)
        if final.exists() and not is_empty_dir(final):  # rename(2) replaces an empty folder itself
            if not overwrite:
                raise FileExistsError(final)
            # the old copy goes aside under a fresh name and is removed once the new one is in place
            trash = Path(tempfile.mkdtemp(prefix=_temporary_prefix(final), suffix=".tmp", dir=final.parent))
            os.replace(final, trash / final.name)
            os.replace(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, final)
        fsync_dir(final.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
