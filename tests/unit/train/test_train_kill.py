"""Crash safety: `kill -9` at random moments (and in the middle of a save) never corrupts the model
folder, and each restart resumes from the last complete save with a step count that only grows."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import cv2

from facetransfer.modelfolder.checkpoints import list_checkpoints, verify_checkpoint
from facetransfer.modelfolder.weights import load_model

SAVE_EVERY_STEPS = 2


def train_command(source: Path, target: Path, model_dir: Path, iterations: int) -> list[str]:
    return [
        sys.executable, "-m", "facetransfer", "train", str(source), str(target), "-o", str(model_dir),
        "--preset", "tiny", "--iterations", str(iterations), "--save-every-steps", str(SAVE_EVERY_STEPS),
        "--preview-every", "4", "--threads", "1", "--device", "cpu",
    ]  # fmt: skip


def environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def assert_sound(model_dir: Path) -> int:
    """Every file a reader would use is whole; returns the step that `latest` names (-1: none yet)."""
    if not (model_dir / "config.json").exists():
        assert not (model_dir / "latest").exists()
        return -1
    json.loads((model_dir / "config.json").read_text())
    for checkpoint in list_checkpoints(model_dir):
        verify_checkpoint(checkpoint)
    if (model_dir / "best").is_dir():
        verify_checkpoint(model_dir / "best")
    if (model_dir / "metrics.jsonl").exists():
        for line in (model_dir / "metrics.jsonl").read_text().splitlines():
            json.loads(line)
    for preview in (model_dir / "previews").glob("[!.]*.png"):
        assert cv2.imread(str(preview)) is not None, preview
    if not (model_dir / "latest").exists():
        return -1
    name = (model_dir / "latest").read_text().strip()
    state = verify_checkpoint(model_dir / "checkpoints" / name)
    load_model(model_dir)  # the weights load into the recorded architecture
    return state.step


def wait_for_a_save_in_progress(model_dir: Path, process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Poll until a checkpoint is being written (its hidden temporary folder exists)."""
    deadline = time.monotonic() + timeout_s
    checkpoints = model_dir / "checkpoints"
    while time.monotonic() < deadline and process.poll() is None:
        if checkpoints.is_dir() and any(entry.name.startswith(".step_") for entry in os.scandir(checkpoints)):
            return True
        time.sleep(0.001)
    return False


def wait_for_training(
    model_dir: Path, after_step: int, process: subprocess.Popen[bytes], timeout_s: float
) -> bool:
    """Poll until this run has trained past `after_step` (it wrote a metrics line beyond it)."""
    launched_ns = time.time_ns()
    deadline = time.monotonic() + timeout_s
    metrics = model_dir / "metrics.jsonl"
    while time.monotonic() < deadline and process.poll() is None:
        if metrics.exists() and metrics.stat().st_mtime_ns > launched_ns:
            lines = metrics.read_text().splitlines()
            if lines and json.loads(lines[-1])["step"] > after_step:
                return True
        time.sleep(0.02)
    return False


def test_kill_9_never_corrupts_the_model_and_resume_only_goes_forward(
    face_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    source, target = face_pair
    model_dir = tmp_path / "model"
    rng = random.Random(time.time_ns())  # a different schedule of kills on every run
    steps_seen: list[int] = []
    killed_during_save = 0
    logs: list[Path] = []
    for attempt in range(5):
        log = tmp_path / f"run{attempt}.log"
        logs.append(log)
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                train_command(source, target, model_dir, 10_000), stdout=subprocess.DEVNULL, stderr=stderr,
                env=environment(),
            )  # fmt: skip
            if attempt == 0:
                time.sleep(rng.uniform(0.5, 2.5))  # during start-up or loading
            else:
                assert wait_for_training(model_dir, steps_seen[-1], process, timeout_s=90)
                if attempt % 2 == 1:
                    killed_during_save += wait_for_a_save_in_progress(model_dir, process, timeout_s=60)
                else:
                    time.sleep(rng.uniform(0.3, 2.0))  # while training, previewing or saving
            process.kill()
            process.wait()
        step = assert_sound(model_dir)
        assert not steps_seen or step >= steps_seen[-1], f"step went back from {steps_seen[-1]} to {step}"
        steps_seen.append(step)
    assert killed_during_save >= 2, steps_seen
    assert steps_seen[-1] > 0, f"no save after step 0 in five runs: {steps_seen}"
    # Each restart announced the step of the last complete save before it.
    for log, expected in zip(logs[1:], steps_seen[:-1], strict=True):
        text = log.read_text(errors="replace")
        resumed = re.search(r"resuming .* \(step (\d+)\)", text)
        if expected >= 0 and resumed:
            assert int(resumed.group(1)) == expected, text[-2000:]
    # A last run finishes normally from where the folder stands and leaves nothing half-written.
    final = subprocess.run(
        train_command(source, target, model_dir, steps_seen[-1] + 2), capture_output=True, text=True,
        env=environment(), timeout=300,
    )  # fmt: skip
    assert final.returncode == 0, final.stderr[-3000:]
    assert f"(step {steps_seen[-1]})" in final.stderr
    assert assert_sound(model_dir) == steps_seen[-1] + 2
    leftovers = [p for p in model_dir.rglob(".*") if p.name.endswith(".tmp") or p.name.endswith(".old")]
    assert not leftovers
