"""`metrics.jsonl` of a model folder: one JSON line per logged training step."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from facetransfer.fsutil import write_text_atomic
from facetransfer.modelfolder.config import METRICS_NAME


def append_metrics(model_dir: Path, records: list[dict[str, Any]]) -> None:
    """Append JSON lines to metrics.jsonl in one write (a kill leaves whole lines or none)."""
    if not records:
        return
    data = "".join(json.dumps(record, sort_keys=False) + "\n" for record in records).encode("utf-8")
    fd = os.open(model_dir / METRICS_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_metrics(model_dir: Path) -> list[dict[str, Any]]:
    path = Path(model_dir) / METRICS_NAME
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def truncate_metrics(model_dir: Path, step: int) -> None:
    """Keep only whole metric lines up to `step`: a resumed run repeats the steps after its checkpoint."""
    path = model_dir / METRICS_NAME
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = []
    for line in lines:
        try:
            if int(json.loads(line).get("step", 0)) <= step:
                kept.append(line)
        except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
            continue
    if len(kept) != len(lines) or (lines and not path.read_bytes().endswith(b"\n")):
        write_text_atomic(path, "".join(line + "\n" for line in kept))
