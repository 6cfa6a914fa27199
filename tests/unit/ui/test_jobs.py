"""What a work folder says about its swap: stages, training progress, the one-line state."""

from __future__ import annotations

import json
import time
from pathlib import Path

from facetransfer.ui.jobs import (
    Status,
    find_work_folders,
    loss_series,
    stage_rows,
    state_line,
    training_progress,
    write_status,
)


def _work_folder(root: Path, name: str, stages: dict[str, dict[str, object]], steps: int) -> Path:
    folder = root / f"{name}.work"
    (folder / "model" / "checkpoints" / "step_00000020").mkdir(parents=True)
    (folder / "stages.json").write_text(
        json.dumps({"format": "facetransfer-work", "version": 1, "stages": stages})
    )
    lines = [
        json.dumps({"step": step, "loss_source": 1 / step, "loss_target": 2 / step, "seconds_per_step": 0.25})
        for step in range(1, steps + 1)
    ]
    (folder / "model" / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 9')  # a cut last line
    (folder / "model" / "checkpoints" / "step_00000020" / "state.json").write_text(
        json.dumps({"step": 20, "holdout_loss": 0.5})
    )
    return folder


def test_a_folder_from_the_command_line_is_read_from_the_disk(tmp_path: Path) -> None:
    done = _work_folder(
        tmp_path,
        "done",
        {
            "extract_source": {"faces": 75},
            "extract_target": {"faces": 70},
            "train": {"step": 40},
            "convert": {"output": "x.mp4"},
        },
        40,
    )
    training = _work_folder(tmp_path, "half", {"extract_source": {"faces": 75}}, 30)
    (tmp_path / "not-a-swap").mkdir()
    assert set(find_work_folders(tmp_path)) == {done, training}
    status = Status()
    assert state_line(done, status, training_progress(done, status)) == "done"
    assert (
        state_line(training, status, training_progress(training, status))
        == "trained at step 30; not converted"
    )
    rows = stage_rows(done, status)
    assert [row["state"] for row in rows] == ["done", "done", "done", "done", "waiting"]
    assert rows[0]["detail"] == "75 faces" and rows[2]["detail"] == "step 40"


def test_a_running_training_has_its_speed_and_time_left(tmp_path: Path) -> None:
    folder = _work_folder(
        tmp_path, "run", {"extract_source": {"faces": 75}, "extract_target": {"faces": 70}}, 30
    )
    status = Status(state="running", stage="train", stage_started=time.time() - 10, target_step=100)
    write_status(folder, status)
    progress = training_progress(folder, status)
    assert progress is not None
    assert progress["step"] == 30 and progress["iterations_per_s"] == 4.0
    assert progress["seconds_left"] == 70 * 0.25 and progress["fraction"] == 0.3
    assert state_line(folder, status, progress) == "running: training at step 30"
    assert [row["state"] for row in stage_rows(folder, status)][:3] == ["done", "done", "running"]
    failed = Status(state="failed", stage="train", error="a.mp4: not a video; pick another file")
    assert state_line(folder, failed, progress) == "failed: a.mp4: not a video; pick another file"
    assert stage_rows(folder, failed)[2]["state"] == "failed"


def test_the_loss_series_is_thinned_and_has_the_held_out_losses(tmp_path: Path) -> None:
    folder = _work_folder(tmp_path, "long", {}, 1500)
    series = loss_series(folder)
    assert series["count"] == 1500
    assert len(series["steps"]) <= 601 and series["steps"][0] == 1 and series["steps"][-1] == 1500
    assert series["source"][-1] == 1 / 1500 and series["target"][-1] == 2 / 1500
    assert series["holdout"] == [[20, 0.5]]
