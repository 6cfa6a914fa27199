"""Reading the versioned JSON files that mark the tool's folders (a faceset's manifest, a model
folder's config): untrusted input, checked for shape, format name and version before use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from facetransfer.errors import FacetransferError


def read_versioned_json(
    path: Path, format_name: str, newest_version: int, error: type[FacetransferError], fix: str
) -> dict[str, Any]:
    """The JSON object in `path`, whose "format" is `format_name` and whose "version" is 1 ..
    `newest_version`. Otherwise `error` with one line naming the file, what was found and `fix`
    (what to do); a newer version asks for a newer facetransfer instead."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as failure:
        raise error(f"{path}: unreadable ({failure}); {fix}") from None
    if not isinstance(payload, dict) or payload.get("format") != format_name:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise error(f"{path}: format {found!r} is not {format_name!r}; {fix}")
    version = payload.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise error(f"{path}: version {version!r} is not a {format_name} version; {fix}")
    if version > newest_version:
        raise error(
            f"{path}: {format_name} version {version} is newer than this tool reads ({newest_version}); "
            "upgrade facetransfer"
        )
    return payload
