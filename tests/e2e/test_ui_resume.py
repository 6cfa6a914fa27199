"""A swap started from the command line, continued from the app (the other direction, the app's swap
finished from the command line, ends the slow browser test)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ui_helpers import start_ui

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_app_continues_a_command_line_swap(shared_data: Path, tmp_path: Path) -> None:
    grid = shared_data / "video" / "grid"
    work = tmp_path / "work"
    work.mkdir()
    command = [
        sys.executable, "-m", "facetransfer", "swap", str(grid / "bbaf2n.mpg"), str(grid / "lbbc2a.mpg"),
        "-o", str(work / "cli.mp4"), "--preset", "tiny", "--iterations", "10", "--crop-size", "96",
        "--encoder-preset", "ultrafast",
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert finished.returncode == 0, finished.stderr
    server = start_ui(work, "--root", str(shared_data))
    try:
        status, listed = server.request("/api/jobs")
        assert [(job["name"], job["line"], job["from_app"]) for job in listed["jobs"]] == [
            ("cli", "done", False)
        ]
        status, payload = server.request("/api/jobs/cli/continue", data={"minutes": 0.1})
        assert status == 200, payload
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            status, detail = server.request("/api/jobs/cli")
            if detail["state"] in ("done", "failed"):
                break
            time.sleep(1)
        assert detail["state"] == "done", detail["status"]
    finally:
        server.stop()
    stages = json.loads((work / "cli.work" / "stages.json").read_text())["stages"]
    assert stages["train"]["step"] > 10
    log = (work / "cli.work" / "ui" / "log.txt").read_text()
    # the command line's extraction is kept: the same inputs and options, nothing extracted again
    assert "extracting faces" not in log and "skipped (up to date)" in log
    assert (work / "cli.mp4").is_file()
