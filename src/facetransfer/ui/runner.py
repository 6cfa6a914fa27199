"""The queue: swaps run one at a time, each in a worker process that is the `facetransfer` command
line itself (`python -m facetransfer swap ... --config WORK/ui/swap.toml`), so what the app runs is
what a user would run, in the same work folder. The runner reads the worker's output line by line
into `ui/log.txt`, follows its stages from the lines `swap` prints, and keeps `ui/status.json`.

Stopping sends SIGTERM: training stops after the current step and saves, as on Ctrl-C. Continuing
reruns the swap with `--minutes M` as this run's budget; converting now reruns it with the model's
current step as the step to reach, so training is skipped and the conversion uses the model as it is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from facetransfer.fsutil import write_text_atomic
from facetransfer.modelfolder.checkpoints import latest_checkpoint, read_state
from facetransfer.ui.jobs import (
    CONFIG_NAME,
    EVALUATE_DIR,
    LOG_NAME,
    STAGES,
    VERIFY_NAME,
    Status,
    read_spec,
    read_status,
    ui_dir,
    write_status,
)

logger = logging.getLogger(__name__)

STOP_WAIT_S = 120.0
"""How long closing the app waits for a stopped worker to save its model."""
_STAGE_LINE = re.compile(rf"^({'|'.join(STAGES)}): ")
_ERROR_LINE = re.compile(r"^facetransfer \w+: error: (.*)$")
_TARGET_STEP = re.compile(r"\bto step (\d+)")
_RUN_MINUTES = re.compile(r"\b([0-9.]+) more minutes")


@dataclass
class Task:
    """One run of a worker for a work folder."""

    workdir: Path
    action: str  # swap, continue, convert, evaluate
    flags: list[str] = field(default_factory=list)  # added to the swap command line (they win)


def current_step(workdir: Path) -> int | None:
    checkpoint = latest_checkpoint(workdir / "model")
    return read_state(checkpoint).step if checkpoint is not None else None


def swap_command(workdir: Path, python: str = sys.executable) -> list[str]:
    """The swap's command line, as the app runs it and as a user reruns it."""
    spec = read_spec(workdir)
    if spec is None:
        raise ValueError(f"{workdir}: not started from the app (no ui/job.json)")
    return [
        python,
        "-m",
        "facetransfer",
        "swap",
        *spec.sources,
        spec.target,
        "-o",
        spec.output,
        "--config",
        str(ui_dir(workdir) / CONFIG_NAME),
    ]


def task_command(task: Task, python: str = sys.executable) -> list[str]:
    spec = read_spec(task.workdir)
    assert spec is not None
    if task.action == "evaluate":
        return [
            python,
            "-m",
            "facetransfer",
            "evaluate",
            spec.output,
            "--source",
            str(task.workdir / "source"),
            "--target",
            spec.target,
            "--report",
            str(task.workdir / EVALUATE_DIR),
        ]
    flags = list(task.flags)
    if task.action == "convert":
        step = current_step(task.workdir)
        if step is not None:  # the step the model is at: training is skipped, the conversion runs
            flags = ["--iterations", str(step), "--minutes", "none", "--total-minutes", "none"]
    return [*swap_command(task.workdir, python), *flags]


class Runner:
    """The queue and its one worker thread. Every method is safe to call from request handlers."""

    def __init__(self, python: str = sys.executable, on_change: Callable[[], None] | None = None) -> None:
        self.python = python
        self.queue: deque[Task] = deque()
        self.current: Task | None = None
        self.process: subprocess.Popen[str] | None = None
        self.stop_requested = False
        self.lock = threading.Condition()
        self.closing = False
        self.on_change = on_change or (lambda: None)
        self.thread = threading.Thread(target=self._work, name="facetransfer-ui-runner", daemon=True)

    def start(self) -> None:
        self.thread.start()

    # ---------------------------------------------------------------- requests

    def submit(self, task: Task, first: bool = False) -> None:
        with self.lock:
            if any(queued.workdir == task.workdir for queued in self.queue):
                self.queue = deque(queued for queued in self.queue if queued.workdir != task.workdir)
            status = read_status(task.workdir)
            if task.action == "evaluate":
                status.evaluation, status.evaluation_error = "queued", None
            else:
                status.state, status.action, status.error = "queued", task.action, None
            write_status(task.workdir, status)
            if first:
                self.queue.appendleft(task)
            else:
                self.queue.append(task)
            self.lock.notify_all()
        self.on_change()

    def is_running(self, workdir: Path) -> bool:
        with self.lock:
            return self.current is not None and self.current.workdir == workdir

    def stop(self, workdir: Path) -> bool:
        """Stop the work folder's worker (it saves first) or take it off the queue; False when it
        was neither running nor queued."""
        with self.lock:
            if self.current is not None and self.current.workdir == workdir and self.process is None:
                self.stop_requested = True  # about to start: `_run` stops it as soon as it has started
                return True
            if self.current is not None and self.current.workdir == workdir and self.process is not None:
                self.stop_requested = True
                status = read_status(workdir)
                if self.current.action != "evaluate":
                    status.state = "stopping"
                    write_status(workdir, status)
                with contextlib.suppress(ProcessLookupError):
                    self.process.send_signal(signal.SIGTERM)
                self.on_change()
                return True
            before = len(self.queue)
            self.queue = deque(task for task in self.queue if task.workdir != workdir)
            if len(self.queue) == before:
                return False
            status = read_status(workdir)
            if status.state == "queued":
                status.state = "stopped"
            if status.evaluation == "queued":
                status.evaluation = None
            write_status(workdir, status)
        self.on_change()
        return True

    def convert_now(self, workdir: Path) -> None:
        """Stop training (it saves) and convert with the model as it is, before anything queued."""
        self.stop(workdir)
        self.submit(Task(workdir, "convert"), first=True)

    def close(self, wait_s: float = STOP_WAIT_S) -> None:
        """Empty the queue, stop the running worker and wait for it to save."""
        with self.lock:
            self.closing = True
            for task in self.queue:
                status = read_status(task.workdir)
                status.state = "stopped" if status.state == "queued" else status.state
                status.evaluation = None if status.evaluation == "queued" else status.evaluation
                write_status(task.workdir, status)
            self.queue.clear()
            process = self.process
            if process is not None:
                self.stop_requested = True
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
            self.lock.notify_all()
        if process is not None:
            try:
                process.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                process.kill()
        self.thread.join(timeout=5)

    # ---------------------------------------------------------------- the worker thread

    def _work(self) -> None:
        while True:
            with self.lock:
                while not self.queue and not self.closing:
                    self.lock.wait()
                if self.closing:
                    return
                task = self.queue.popleft()
                self.current, self.stop_requested = task, False
            try:
                self._run(task)
            except Exception as error:  # the app stays up whatever one worker does
                logger.exception("worker for %s failed", task.workdir)
                status = read_status(task.workdir)
                line = f"{type(error).__name__}: {error}"
                if task.action == "evaluate":
                    status.evaluation, status.evaluation_error = "failed", line
                else:
                    status.state, status.error = "failed", line
                write_status(task.workdir, status)
            finally:
                with self.lock:
                    self.current, self.process = None, None
                self.on_change()

    def _run(self, task: Task) -> None:
        command = task_command(task, self.python)
        log_path = ui_dir(task.workdir) / LOG_NAME
        now = time.time()
        if task.action == "evaluate":
            status = read_status(task.workdir)
            status.evaluation = "running"
        else:
            previous = read_status(task.workdir)
            status = Status(state="running", action=task.action, started=now, stage_started=now)
            status.stage = STAGES[0]
            if task.action != "swap":
                status.stage_seconds = dict(previous.stage_seconds)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        last_lines: deque[str] = deque(maxlen=20)
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {task.action}: {' '.join(command)}\n")
            log.flush()
            with self.lock:
                if self.closing:
                    return
                process = subprocess.Popen(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    errors="replace",
                    env=env,
                    start_new_session=True,  # Ctrl-C in the app's terminal reaches the app, which stops it
                )
                self.process = process
                status.pid = process.pid
                if self.stop_requested:
                    if task.action != "evaluate":
                        status.state = "stopping"
                    process.send_signal(signal.SIGTERM)
                write_status(task.workdir, status)
            self.on_change()
            assert process.stdout is not None
            for line in process.stdout:
                log.write(line)
                log.flush()
                text = line.rstrip("\n")
                if text.strip():
                    last_lines.append(text)
                if task.action != "evaluate" and self._follow(task.workdir, status, text):
                    self.on_change()
            exit_status = process.wait()
        self._finish(task, status, exit_status, list(last_lines))

    def _follow(self, workdir: Path, status: Status, line: str) -> bool:
        """Update the status from one line of the worker's output; True when it changed."""
        match = _STAGE_LINE.match(line)
        if not match:
            return False
        now = time.time()
        with self.lock:
            if status.stage is not None and status.stage != match.group(1):
                status.stage_seconds[status.stage] = round(now - (status.stage_started or now), 1)
            status.stage, status.stage_started = match.group(1), now
            if status.stage == "train":
                step = _TARGET_STEP.search(line)
                minutes = _RUN_MINUTES.search(line)
                status.target_step = int(step.group(1)) if step else None
                status.run_minutes = float(minutes.group(1)) if minutes else None
            if self.stop_requested:
                status.state = "stopping"
            write_status(workdir, status)
        return True

    def _finish(self, task: Task, status: Status, exit_status: int, last_lines: list[str]) -> None:
        now = time.time()
        with self.lock:
            stopped = self.stop_requested
        errors = [m.group(1) for m in map(_ERROR_LINE.match, last_lines) if m]
        error = errors[-1] if errors else (last_lines[-1] if last_lines else f"exit status {exit_status}")
        status.pid = None
        if task.action == "evaluate":
            status.evaluation = "done" if exit_status == 0 else "stopped" if stopped else "failed"
            status.evaluation_error = error if status.evaluation == "failed" else None
        else:
            if status.stage is not None:
                status.stage_seconds[status.stage] = round(now - (status.stage_started or now), 1)
            status.finished, status.exit_status = now, exit_status
            if exit_status == 0:
                status.state, status.error = "done", None
            elif stopped:
                status.state, status.error = "stopped", None
            else:
                status.state, status.error = "failed", error
        with self.lock:
            write_status(task.workdir, status)
        self.on_change()
        if task.action != "evaluate" and exit_status == 0:
            self._verify(task.workdir)

    def _verify(self, workdir: Path) -> None:
        """The provenance verdict on the result, kept as `ui/verify.txt` (`facetransfer verify`'s lines)."""
        spec = read_spec(workdir)
        if spec is None or not Path(spec.output).is_file():
            return
        command = [self.python, "-m", "facetransfer", "verify", spec.output]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            text = f"verify could not run: {error}\n"
        else:
            failed = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
            text = result.stdout if result.returncode in (0, 1) else failed
        write_text_atomic(ui_dir(workdir) / VERIFY_NAME, text)
        self.on_change()


def recover_statuses(workdirs: list[Path]) -> None:
    """At start: a status left running or queued by an app that was closed becomes stopped."""
    for workdir in workdirs:
        status = read_status(workdir)
        if status.state in ("running", "stopping", "queued") or status.evaluation in ("running", "queued"):
            status.state = "stopped" if status.state in ("running", "stopping", "queued") else status.state
            status.evaluation = None if status.evaluation in ("running", "queued") else status.evaluation
            status.pid = None
            write_status(workdir, status)
