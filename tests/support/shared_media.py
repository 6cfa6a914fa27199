"""The unmarked media of the shared test data, for the scans that look for false provenance marks."""

from __future__ import annotations

from pathlib import Path

PRETRAIN_SAMPLE_EVERY = 100
"""`pretrain/` holds about 23,000 generic faces: one in this many is scanned (about 230 images),
which keeps the scan to seconds while it still covers thousands of other people's photos."""


def unmarked_media(root: Path) -> list[Path]:
    """Every media file under `root` (the shared test data), `pretrain/` sampled; notes left out."""
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() not in (".md", ".txt")
    )
    pretrain = root / "pretrain"
    elsewhere = [path for path in files if pretrain not in path.parents]
    sampled = [path for path in files if pretrain in path.parents][::PRETRAIN_SAMPLE_EVERY]
    return elsewhere + sampled
