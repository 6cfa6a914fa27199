"""The deletion policy, in one place: what an output path may be, and what may be replaced.

Nothing is deleted or replaced unless it provably is this tool's own output:

- a folder carries its format's marker: a faceset `faceset.json`, a model folder `config.json`, a
  swap work folder `stages.json`, an evaluate report `metrics.json` (each of its format, checked by
  the predicate that lives beside the format: `is_faceset`, `is_model_dir`, ...), a folder of frames
  written by `convert` the file `OUTPUT_MARKER`;
- a file carries the tag `OWNER_TAG` (a container tag on videos, a text chunk on PNG images), or the
  provenance text.

`--overwrite` replaces only such a thing; anything else at an output path is refused, with or
without it (an empty folder holds nothing to lose and is taken). An output path that is, contains, or
lies inside any input is refused. These checks run before any work starts; the replacement itself is
atomic (`fsutil.atomic_dir` / `atomic_path`), the old copy removed only after the new one is complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from facetransfer import TOOL_NAME, __version__
from facetransfer.errors import FacetransferError, OutputExistsError
from facetransfer.fsutil import is_empty_dir

OWNER_TAG = "facetransfer_output"
"""Container tag / PNG text key naming the tool that wrote a file."""
OUTPUT_MARKER = ".facetransfer-output.json"
"""Marker file in a folder of frames written by `convert`."""
OUTPUT_MARKER_FORMAT = "facetransfer-output"


def owner_tags() -> dict[str, str]:
    """Tags every file written by the tool carries (videos: container tags; PNG: text chunks)."""
    return {OWNER_TAG: f"{TOOL_NAME} {__version__}"}


def resolved(path: str | os.PathLike[str]) -> Path:
    """`path` made absolute with symlinks followed; a loop or an unreadable parent is one line."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError) as error:  # RuntimeError: symlink loop on Python < 3.13
        raise FacetransferError(
            f"{path}: the path cannot be resolved ({error}); check for a symbolic link loop"
        ) from error


def check_not_input(
    output: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]], what: str
) -> None:
    """Refuse an output path that is an input, contains an input, or lies inside an input folder."""
    out = resolved(output)
    for item in inputs:
        source = resolved(item)
        if out == source:
            raise OutputExistsError(
                f"{output}: the {what} would overwrite the input {item}; choose another path"
            )
        if out in source.parents:
            raise OutputExistsError(f"{output}: the {what} contains the input {item}; choose another path")
        if source in out.parents:
            raise OutputExistsError(
                f"{output}: the {what} lies inside the input folder {item}; choose a path outside it"
            )


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing, unreadable or not an object."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def has_json_format(path: Path, format_name: str) -> bool:
    """Whether `path` is a JSON object whose "format" is `format_name` (the marker of our folders)."""
    payload = read_json_object(path)
    return payload is not None and payload.get("format") == format_name


def is_output_folder(path: str | os.PathLike[str]) -> bool:
    """A folder of frames written by `convert` (it holds `OUTPUT_MARKER`)."""
    return has_json_format(Path(path) / OUTPUT_MARKER, OUTPUT_MARKER_FORMAT)


def output_marker() -> dict[str, str]:
    """Contents of `OUTPUT_MARKER`."""
    return {"format": OUTPUT_MARKER_FORMAT, "tool": f"{TOOL_NAME} {__version__}"}


def is_tool_file(path: str | os.PathLike[str]) -> bool:
    """A video or image this tool wrote: it carries `OWNER_TAG` or the provenance text."""
    from facetransfer.provenance.metadata import find_provenance_text, image_text_tags

    file_path = Path(path)
    if not file_path.is_file():
        return False
    try:
        with open(file_path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    if head.startswith((b"\x89PNG", b"\xff\xd8")):
        try:
            tags = image_text_tags(file_path)
        except OSError:
            return False
    else:
        from facetransfer.media import probe

        try:
            tags = probe(file_path).tags
        except (FacetransferError, OSError):
            return False
    if any(key.lower() == OWNER_TAG or str(value).startswith(f"{OWNER_TAG}:") for key, value in tags.items()):
        return True  # a container tag or PNG chunk, or a JPEG comment "facetransfer_output: ..."
    return find_provenance_text(tags) is not None


def check_output(
    output: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str]],
    *,
    overwrite: bool,
    is_ours: Callable[[Path], bool],
    what: str,
) -> None:
    """Refuse, before any work, an output that would lose something that is not this tool's own.

    Args:
        output: where the output goes.
        inputs: every input of the command (files and folders).
        overwrite: whether the user passed --overwrite.
        is_ours: the marker check of this kind of output (e.g. `is_faceset`).
        what: the output's name in messages ("faceset", "output video", ...).

    Raises:
        OutputExistsError: the output is, contains or is inside an input; something the tool did not
            make is there; or the tool's own output is there and `overwrite` is False.
    """
    check_not_input(output, inputs, what)
    path = Path(output)
    if not os.path.lexists(path) or is_empty_dir(path):
        return
    if path.is_symlink() or not is_ours(path):
        kind = "folder" if path.is_dir() else "file"
        raise OutputExistsError(
            f"{path}: a {kind} this tool did not make is there; it is never replaced, with or without "
            f"--overwrite; move it away or choose another path for the {what}"
        )
    if not overwrite:
        raise OutputExistsError(
            f"{path}: already exists (this tool's own {what}); pass --overwrite to replace it or "
            "choose another path"
        )
