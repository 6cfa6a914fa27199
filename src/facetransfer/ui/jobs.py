"""What a swap's work folder says about it, read from the disk alone (so a swap run from the command
line shows the same way): the stages it finished (`stages.json`), its training (`model/metrics.jsonl`,
`model/previews/`, the checkpoints), its results, and what the app wrote beside them in `ui/`:
`job.json` (the inputs), `swap.toml` (the options set in the form), `status.json` (the worker's
state) and `log.txt` (the worker's output)."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from facetransfer.errors import FacetransferError
from facetransfer.formats import read_versioned_json
from facetransfer.fsutil import write_json_atomic
from facetransfer.modelfolder.config import METRICS_NAME, PREVIEWS_DIR
from facetransfer.safety import read_json_object

UI_DIR = "ui"
JOB_NAME = "job.json"
JOB_FORMAT = "facetransfer-ui-job"
JOB_VERSION = 1
CONFIG_NAME = "swap.toml"
STATUS_NAME = "status.json"
LOG_NAME = "log.txt"
VERIFY_NAME = "verify.txt"
EVALUATE_DIR = "evaluate"
WORK_SUFFIX = ".work"
STAGES = ("extract_source", "extract_target", "train", "convert", "compare")
STAGE_TITLES = {
    "extract_source": "Extract the source faces",
    "extract_target": "Extract the target faces",
    "train": "Train",
    "convert": "Convert the target video",
    "compare": "Side-by-side video",
}
MAX_PLOT_POINTS = 600
_STEP_NAME = re.compile(r"step_(\d+)")


@dataclass
class JobSpec:
    """The inputs of a swap started in the app (`ui/job.json`)."""

    name: str
    sources: list[str]
    target: str
    output: str
    created_utc: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"format": JOB_FORMAT, "version": JOB_VERSION, **asdict(self)}


@dataclass
class Status:
    """The worker's state (`ui/status.json`), written by the runner."""

    state: str = "new"  # new, queued, running, stopping, stopped, failed, done
    action: str = "swap"  # swap, continue, convert, evaluate
    stage: str | None = None
    stage_started: float | None = None
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    exit_status: int | None = None
    target_step: int | None = None
    run_minutes: float | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    pid: int | None = None
    evaluation: str | None = None  # queued, running, done, failed: an evaluation leaves `state` alone
    evaluation_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def ui_dir(workdir: Path) -> Path:
    return workdir / UI_DIR


def job_name_of(workdir: Path) -> str:
    return workdir.name.removesuffix(WORK_SUFFIX)


def read_spec(workdir: Path) -> JobSpec | None:
    path = ui_dir(workdir) / JOB_NAME
    if not path.is_file():
        return None
    payload = read_versioned_json(
        path, JOB_FORMAT, JOB_VERSION, FacetransferError, "remove the ui folder to start the swap again"
    )
    return JobSpec(
        name=str(payload["name"]),
        sources=[str(p) for p in payload["sources"]],
        target=str(payload["target"]),
        output=str(payload["output"]),
        created_utc=str(payload.get("created_utc", "")),
    )


def write_spec(workdir: Path, spec: JobSpec) -> None:
    write_json_atomic(ui_dir(workdir) / JOB_NAME, spec.to_json())


def read_status(workdir: Path) -> Status:
    payload = read_json_object(ui_dir(workdir) / STATUS_NAME) or {}
    known = {name for name in Status.__dataclass_fields__}
    return Status(**{key: value for key, value in payload.items() if key in known})


def write_status(workdir: Path, status: Status) -> None:
    write_json_atomic(ui_dir(workdir) / STATUS_NAME, status.to_json())


def is_work_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "stages.json").is_file() or (ui_dir(path) / JOB_NAME).is_file())


def find_work_folders(root: Path) -> list[Path]:
    """The swap work folders directly in `root`, newest first."""
    try:
        found = [path for path in root.iterdir() if not path.name.startswith(".") and is_work_folder(path)]
    except OSError:
        return []
    return sorted(found, key=lambda path: _mtime(path), reverse=True)


def _mtime(path: Path) -> float:
    try:
        return max(path.stat().st_mtime, (path / "stages.json").stat().st_mtime)
    except OSError:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0


def finished_stages(workdir: Path) -> dict[str, dict[str, Any]]:
    payload = read_json_object(workdir / "stages.json") or {}
    stages = payload.get("stages", {})
    return stages if isinstance(stages, dict) else {}


def _last_line(path: Path, size: int = 4096) -> str | None:
    """The last whole line of a growing file (read from its end only)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            length = handle.tell()
            handle.seek(max(0, length - size))
            lines = handle.read().split(b"\n")
    except OSError:
        return None
    whole = [line for line in lines[:-1] if line.strip()] if lines else []
    return whole[-1].decode("utf-8", "replace") if whole else None


def last_metrics(workdir: Path) -> dict[str, Any] | None:
    line = _last_line(workdir / "model" / METRICS_NAME)
    if line is None:
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def _iter_metrics(workdir: Path) -> Iterator[dict[str, Any]]:
    path = workdir / "model" / METRICS_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "step" in record:
            yield record


def holdout_points(workdir: Path) -> list[tuple[int, float]]:
    """(step, held-out loss) of every save the model folder still has, and of every save the app's
    log recorded (older saves are pruned from the folder)."""
    points: dict[int, float] = {}
    model = workdir / "model"
    for state_file in [*model.glob("checkpoints/step_*/state.json"), model / "best" / "state.json"]:
        payload = read_json_object(state_file)
        if payload and isinstance(payload.get("holdout_loss"), int | float):
            points[int(payload.get("step", 0))] = float(payload["holdout_loss"])
    try:
        log = (ui_dir(workdir) / LOG_NAME).read_text(encoding="utf-8", errors="replace")
    except OSError:
        log = ""
    for match in re.finditer(r"saved step_(\d+) \([^;]*; held-out loss ([0-9.eE+-]+)", log):
        points[int(match.group(1))] = float(match.group(2))
    return sorted(points.items())


def loss_series(workdir: Path) -> dict[str, Any]:
    """The loss plot's points: source and target loss per logged step (thinned to at most
    MAX_PLOT_POINTS), held-out loss per save, and the latest iterations per second."""
    records = list(_iter_metrics(workdir))
    every = max(1, -(-len(records) // MAX_PLOT_POINTS))
    thinned = records[::every]
    if records and thinned[-1] is not records[-1]:
        thinned.append(records[-1])
    return {
        "steps": [int(record["step"]) for record in thinned],
        "source": [_number(record.get("loss_source")) for record in thinned],
        "target": [_number(record.get("loss_target")) for record in thinned],
        "holdout": [[step, value] for step, value in holdout_points(workdir)],
        "count": len(records),
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value == value else None


def preview_path(workdir: Path) -> Path:
    return workdir / "model" / PREVIEWS_DIR / "latest.png"


def output_of(workdir: Path, spec: JobSpec | None) -> Path | None:
    """The swap's output: the app's record, else the convert stage's, else `NAME.mp4` beside the folder."""
    if spec is not None:
        return Path(spec.output)
    recorded = finished_stages(workdir).get("convert", {}).get("output")
    if recorded:
        path = Path(recorded)
        return path if path.is_absolute() else (Path.cwd() / path)
    return workdir.with_name(job_name_of(workdir) + ".mp4")


def comparison_of(output: Path) -> Path:
    return output.with_name(f"{output.stem}.compare{output.suffix or '.mp4'}")


def stage_rows(workdir: Path, status: Status) -> list[dict[str, Any]]:
    """Each stage: done, skipped, running (with its elapsed time), failed, or waiting."""
    finished = finished_stages(workdir)
    rows = []
    now = time.time()
    active = status.state in ("running", "stopping")
    for name in STAGES:
        row: dict[str, Any] = {"name": name, "title": STAGE_TITLES[name], "state": "waiting"}
        if name in finished:
            row["state"] = "done"
            details = finished[name]
            if "faces" in details:
                row["detail"] = f"{details['faces']} faces"
            elif "step" in details:
                row["detail"] = f"step {details['step']}"
        elif name == "train" and (record := last_metrics(workdir)) is not None:
            # stopped, or converted as it was: trained, but short of its budget
            row["state"], row["detail"] = "saved", f"step {record.get('step')}"
        if name in status.stage_seconds:
            row["seconds"] = status.stage_seconds[name]
        if status.stage == name:
            if active:
                row["state"] = "running"
                row["seconds"] = round(now - (status.stage_started or now), 1)
            elif status.state == "failed":
                row["state"] = "failed"
            elif status.state == "stopped" and name not in finished:
                row["state"] = "stopped"
        rows.append(row)
    return rows


def training_progress(workdir: Path, status: Status) -> dict[str, Any] | None:
    """Step, speed and time left of the training (the last metrics line; the budget the worker
    reported when it started training)."""
    record = last_metrics(workdir)
    if record is None:
        return None
    step = int(record.get("step", 0))
    seconds_per_step = _number(record.get("seconds_per_step"))
    progress: dict[str, Any] = {
        "step": step,
        "iterations_per_s": round(1 / seconds_per_step, 2) if seconds_per_step else None,
        "loss_source": _number(record.get("loss_source")),
        "loss_target": _number(record.get("loss_target")),
        "target_step": status.target_step,
    }
    running = status.state in ("running", "stopping") and status.stage == "train"
    left: list[float] = []
    if status.target_step is not None and seconds_per_step:
        left.append(max(0, status.target_step - step) * seconds_per_step)
    if status.run_minutes is not None and status.stage_started is not None and running:
        left.append(max(0.0, status.run_minutes * 60 - (time.time() - status.stage_started)))
    progress["seconds_left"] = round(min(left), 1) if left and running else None
    if status.target_step:
        progress["fraction"] = min(1.0, step / status.target_step)
    elif status.run_minutes and status.stage_started and running:
        progress["fraction"] = min(1.0, (time.time() - status.stage_started) / (status.run_minutes * 60))
    return progress


def state_line(workdir: Path, status: Status, progress: dict[str, Any] | None) -> str:
    """One line for the jobs list: done, training at step N, failed with its error, ..."""
    finished = finished_stages(workdir)
    if status.state == "failed":
        return f"failed: {status.error or 'the worker stopped'}"
    if status.state == "queued":
        return "queued"
    if status.state in ("running", "stopping"):
        verb = "stopping" if status.state == "stopping" else "running"
        if status.stage == "train" and progress is not None:
            return f"{verb}: training at step {progress['step']}"
        return f"{verb}: {STAGE_TITLES.get(status.stage or '', status.action).lower()}"
    if "convert" in finished:
        return "done" if status.state != "stopped" else "stopped (a result is there)"
    step = progress["step"] if progress else finished.get("train", {}).get("step")
    where = f" at step {step}" if step is not None else ""
    if status.state == "stopped":
        return f"stopped{where}; continue it"
    return f"trained{where}; not converted" if step is not None else "not started"
