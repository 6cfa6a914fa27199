"""What a swap work folder remembers between runs: for each finished stage, a fingerprint of its
inputs and options. A stage is skipped when its fingerprint is unchanged and its output is there."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facetransfer.fsutil import write_json_atomic
from facetransfer.safety import read_json_object

STATE_NAME = "stages.json"
STATE_VERSION = 1
STATE_FORMAT = "facetransfer-work"
REPORT_NAME = "report.json"


def is_state_file(path: Path) -> bool:
    """`stages.json` written by a swap (older ones have no format name, only version and stages)."""
    payload = read_json_object(path)
    return payload is not None and (
        payload.get("format") == STATE_FORMAT or {"version", "stages"} <= payload.keys()
    )


def is_report_file(path: Path) -> bool:
    """`report.json` written by a swap."""
    payload = read_json_object(path)
    return payload is not None and {"workdir", "stages", "output"} <= payload.keys()


def file_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Cheap identity of an input file or folder: resolved path, size and modification time (for a
    folder: of each file inside). Hashing whole videos on every run would cost seconds per GB."""
    resolved = Path(path).resolve()
    if resolved.is_dir():
        entries = sorted(p for p in resolved.rglob("*") if p.is_file())
        return {
            "path": str(resolved),
            "files": [
                [str(p.relative_to(resolved)), p.stat().st_size, p.stat().st_mtime_ns] for p in entries
            ],
        }
    stat = resolved.stat()
    return {"path": str(resolved), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def fingerprint(payload: Any) -> str:
    """sha256 of a JSON-serialisable payload (keys sorted), 16 hex digits."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class WorkState:
    """`stages.json` in the work folder: stage name -> {"fingerprint", ...details}."""

    path: Path
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, workdir: Path) -> WorkState:
        path = workdir / STATE_NAME
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            stages = payload.get("stages", {}) if payload.get("version") == STATE_VERSION else {}
        except (OSError, json.JSONDecodeError):
            stages = {}
        return cls(path=path, stages=dict(stages))

    def is_done(self, stage: str, stage_fingerprint: str) -> bool:
        return self.stages.get(stage, {}).get("fingerprint") == stage_fingerprint

    def mark_done(self, stage: str, stage_fingerprint: str, **details: Any) -> None:
        self.stages[stage] = {"fingerprint": stage_fingerprint, **details}
        self.save()

    def forget(self, stage: str) -> None:
        if self.stages.pop(stage, None) is not None:
            self.save()

    def save(self) -> None:
        payload = {"format": STATE_FORMAT, "version": STATE_VERSION, "stages": self.stages}
        write_json_atomic(self.path, payload)
