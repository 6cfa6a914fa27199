"""The preemption drill (tools/preemption_drill.py): the cloud job's training command, its model
folder in a stand-in for the bucket, killed with SIGKILL at three random moments and rerun each
time, ends at the step and with the weights of an uninterrupted run with the same seed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_three_kills_end_where_an_uninterrupted_run_ends(shared_data: Path, tmp_path: Path) -> None:
    result_path = tmp_path / "drill.json"
    drill = [sys.executable, str(ROOT / "tools" / "preemption_drill.py"), "--kills", "3"]
    completed = subprocess.run(
        [*drill, "--json", str(result_path), "--workdir", str(tmp_path / "drill")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result_path.is_file(), completed.stderr[-2000:]
    result = json.loads(result_path.read_text())
    assert len(result["kills"]) == 3
    # every kill hit a run mid-way, or the drill tested less than it says
    assert all(not kill["finished_first"] for kill in result["kills"]), result
    assert result["step"] == result["reference_step"] == result["iterations"], result
    assert result["bit_identical"], (
        f"weights differ by {result['max_weight_difference']} (rng seed {result['rng_seed']})"
    )
    assert completed.returncode == 0
