"""Plain-text provenance: a container tag on videos, a text chunk / comment on PNG and JPEG images.

These are the weakest of the three marks (any re-encode or metadata strip removes them) and the
easiest to read: `ffprobe`, `exiftool` or a file's properties dialog show them.
"""

from __future__ import annotations

import logging
import struct
import zlib
from pathlib import Path

from facetransfer import TOOL_NAME, __version__
from facetransfer.fsutil import atomic_path

logger = logging.getLogger(__name__)

PROVENANCE_KEY = "facetransfer_provenance"
"""Custom container tag (kept by MP4/MOV with use_metadata_tags, and by Matroska)."""
MARKER = "synthetic faces"
"""Text every provenance tag contains; `find_provenance_text` looks for it with the tool name."""
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def notice_text() -> str:
    return (
        f"Contains synthetic faces: made with {TOOL_NAME} {__version__} (AI face swap). "
        f"Check with: {TOOL_NAME} verify FILE"
    )


def container_metadata(payload: int | None = None) -> dict[str, str]:
    """Container tags for `VideoWriter(metadata=...)`: comment, description and a custom key.

    Args:
        payload: the watermark payload of this output, recorded so a file can be matched with its
            invisible mark while the tags survive.
    """
    notice = notice_text()
    detail = f"{MARKER}; tool={TOOL_NAME}; version={__version__}"
    if payload is not None:
        detail += f"; watermark={payload:08x}"
    return {"comment": notice, "description": notice, PROVENANCE_KEY: detail}


def find_provenance_text(tags: dict[str, str]) -> str | None:
    """The first tag value that names synthetic faces and this tool, or None."""
    for value in tags.values():
        lowered = str(value).lower()
        if MARKER in lowered and TOOL_NAME in lowered:
            return str(value)
    return None


# ------------------------------------------------------------------ images


def _png_text_chunk(keyword: str, text: str) -> bytes:
    body = keyword.encode("latin-1") + b"\x00" + text.encode("latin-1", errors="replace")
    return struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes, int]]:
    """(type, body, offset of the chunk) for every chunk of a PNG file."""
    chunks = []
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunks.append((kind, data[offset + 8 : offset + 8 + length], offset))
        offset += 12 + length
        if kind == b"IEND":
            break
    return chunks


def _jpeg_comment_segment(text: str) -> bytes:
    body = text.encode("utf-8")[:65000]
    return b"\xff\xfe" + struct.pack(">H", len(body) + 2) + body


def _jpeg_comments(data: bytes) -> list[str]:
    comments = []
    offset = 2
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more header segments
            break
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if marker == 0xFE:
            comments.append(data[offset + 4 : offset + 2 + length].decode("utf-8", errors="replace"))
        offset += 2 + length
    return comments


def add_image_text(data: bytes, tags: dict[str, str]) -> bytes | None:
    """A PNG with `tags` added as tEXt chunks, or a JPEG with them in one COM segment; None for other
    formats (and for a PNG without an end chunk)."""
    if data.startswith(_PNG_SIGNATURE):
        end = next((offset for kind, _, offset in _png_chunks(data) if kind == b"IEND"), None)
        if end is None:
            return None
        return data[:end] + b"".join(_png_text_chunk(key, text) for key, text in tags.items()) + data[end:]
    if data.startswith(b"\xff\xd8"):
        text = "; ".join(f"{key}: {value}" for key, value in tags.items())
        return data[:2] + _jpeg_comment_segment(text) + data[2:]
    return None


def tag_image_file(path: str | Path, payload: int | None = None) -> bool:
    """Add the provenance text to a PNG (tEXt chunks) or JPEG (COM segment), atomically, in place.

    Returns False (and changes nothing) for other image formats.
    """
    image_path = Path(path)
    data = image_path.read_bytes()
    tags = container_metadata(payload)
    if data.startswith(b"\xff\xd8"):
        new_data: bytes | None = (
            data[:2] + _jpeg_comment_segment(f"{tags['comment']} ({tags[PROVENANCE_KEY]})") + data[2:]
        )
    else:
        new_data = add_image_text(data, {"Comment": tags["comment"], PROVENANCE_KEY: tags[PROVENANCE_KEY]})
    if new_data is None:
        logger.warning("%s: not PNG or JPEG; no provenance text added", image_path)
        return False
    with atomic_path(image_path, suffix=image_path.suffix) as temporary:
        temporary.write_bytes(new_data)
    return True


def image_text_tags(path: str | Path) -> dict[str, str]:
    """Text chunks of a PNG or comments of a JPEG, as a dict (empty for other files)."""
    data = Path(path).read_bytes()
    if data.startswith(_PNG_SIGNATURE):
        found: dict[str, str] = {}
        for kind, body, _ in _png_chunks(data):
            if kind == b"tEXt" and b"\x00" in body:
                keyword, text = body.split(b"\x00", 1)
                found[keyword.decode("latin-1")] = text.decode("latin-1")
        return found
    if data.startswith(b"\xff\xd8"):
        return {f"comment{index}": text for index, text in enumerate(_jpeg_comments(data))}
    return {}
