"""What the page may read from the disk: paths under the allowed roots only (resolved, so a
symbolic link that leads outside is refused), the folder listing of the file browser, and uploads
(size-limited, written to a temporary name and renamed when complete)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from facetransfer.errors import FacetransferError
from facetransfer.fsutil import atomic_path

UPLOADS_DIR = "uploads"
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".mpg", ".mpeg", ".flv", ".webm", ".gif", ".m4v", ".ts")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
MEDIA_SUFFIXES = frozenset(VIDEO_SUFFIXES + IMAGE_SUFFIXES)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class PathRefused(FacetransferError):
    """A path outside the allowed roots, or one that is not there."""


class UploadError(FacetransferError):
    """An upload that is too large, empty, cut short or badly named."""


@dataclass(frozen=True)
class Roots:
    """The folders the page may browse and pick from, resolved once."""

    folders: tuple[Path, ...]

    @classmethod
    def of(cls, folders: Iterable[str | os.PathLike[str]]) -> Roots:
        resolved: list[Path] = []
        for folder in folders:
            path = Path(folder).expanduser().resolve()
            if path.is_dir() and path not in resolved:
                resolved.append(path)
        return cls(tuple(resolved))

    def check(self, path: str | os.PathLike[str], *, must_exist: bool = True) -> Path:
        """`path` resolved (symbolic links followed); `PathRefused` when it is outside every root or,
        with `must_exist`, not there."""
        text = str(path)
        if not text.strip():
            raise PathRefused("no path given; pick a file or folder")
        if "\x00" in text:
            raise PathRefused(f"{text!r}: not a valid path")
        candidate = Path(text).expanduser()
        if not candidate.is_absolute():
            candidate = self.folders[0] / candidate
        try:
            resolved = candidate.resolve(strict=must_exist)
        except FileNotFoundError:
            raise PathRefused(f"{text}: not found; pick an existing file or folder") from None
        except (OSError, RuntimeError) as error:  # a link loop, a permission
            raise PathRefused(f"{text}: cannot be opened ({error}); pick another path") from None
        if not any(resolved == root or resolved.is_relative_to(root) for root in self.folders):
            allowed = ", ".join(str(root) for root in self.folders)
            raise PathRefused(f"{text}: outside the folders this app may open ({allowed})")
        return resolved


@dataclass(frozen=True)
class Entry:
    name: str
    path: str
    is_dir: bool
    size: int
    is_media: bool


def list_folder(roots: Roots, folder: str | None) -> tuple[Path, list[Entry]]:
    """The folder (default: the first root) and its entries, folders first; hidden files and links
    that lead outside the roots are left out."""
    path = roots.check(folder) if folder else roots.folders[0]
    if not path.is_dir():
        raise PathRefused(f"{path}: not a folder")
    entries: list[Entry] = []
    try:
        children = sorted(path.iterdir(), key=lambda child: child.name.lower())
    except PermissionError:
        raise PathRefused(f"{path}: cannot be listed (permission denied)") from None
    for child in children:
        if child.name.startswith("."):
            continue
        try:
            resolved = roots.check(child)
            is_dir = resolved.is_dir()
            size = 0 if is_dir else resolved.stat().st_size
        except (PathRefused, OSError):
            continue
        entries.append(
            Entry(child.name, str(child), is_dir, size, not is_dir and child.suffix.lower() in MEDIA_SUFFIXES)
        )
    entries.sort(key=lambda entry: (not entry.is_dir, entry.name.lower()))
    return path, entries


def safe_file_name(name: str) -> str:
    """An upload's file name reduced to letters, digits, dots, dashes and underscores (no folders)."""
    base = Path(name.replace("\\", "/")).name
    cleaned = _SAFE_NAME.sub("_", base).strip("._")
    if not cleaned or Path(cleaned).suffix.lower() not in MEDIA_SUFFIXES:
        raise UploadError(
            f"{name!r}: not a video or image name; upload a file ending in one of "
            f"{', '.join(sorted(MEDIA_SUFFIXES))}"
        )
    return cleaned


def free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/stem-2.ext`, ... : an upload never replaces a file."""
    candidate = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{number}{suffix}"
        number += 1
    return candidate


class UploadSink:
    """Where an upload's bytes go: counted against the limit as they arrive."""

    def __init__(self, handle: BinaryIO, file_name: str, max_bytes: int) -> None:
        self.handle, self.file_name, self.max_bytes = handle, file_name, max_bytes
        self.written = 0

    def write(self, chunk: bytes) -> None:
        self.written += len(chunk)
        if self.written > self.max_bytes:
            raise UploadError(
                f"{self.file_name}: more than the {self.max_bytes / 1e6:g} MB limit; upload a smaller file"
            )
        self.handle.write(chunk)


@contextmanager
def receive_upload(
    folder: Path, name: str, max_bytes: int, declared_bytes: int | None
) -> Iterator[tuple[Path, UploadSink]]:
    """Yield the final path (a free name in `folder`) and a sink for the bytes, written to a temporary
    file that is renamed into place when the block ends; refuse more than `max_bytes` (before reading
    when the request declares it), nothing, or fewer bytes than declared. On any error nothing is left."""
    file_name = safe_file_name(name)
    if declared_bytes is not None and declared_bytes > max_bytes:
        raise UploadError(
            f"{file_name}: {declared_bytes / 1e6:.1f} MB is more than the {max_bytes / 1e6:g} MB limit"
        )
    folder.mkdir(parents=True, exist_ok=True)
    final = free_name(folder, file_name)
    with atomic_path(final, suffix=final.suffix) as tmp:
        with open(tmp, "wb") as handle:
            sink = UploadSink(handle, file_name, max_bytes)
            yield final, sink
        if sink.written == 0:
            raise UploadError(f"{file_name}: the upload is empty")
        if declared_bytes is not None and sink.written != declared_bytes:
            raise UploadError(
                f"{file_name}: the upload was cut short ({sink.written} of {declared_bytes} bytes)"
            )
