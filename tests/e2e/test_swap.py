"""`swap` end to end on the two GRID clips with the `tiny` preset: output, resume, interruptions, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from facetransfer.cli import main
from facetransfer.extract.config import ExtractConfig
from facetransfer.media import VideoWriter, probe, read_frames
from facetransfer.modelfolder.checkpoints import latest_checkpoint, read_state, verify_checkpoint
from facetransfer.presets import TrainConfig, get_preset, with_options
from facetransfer.provenance import ProvenanceConfig
from facetransfer.swap.config import SwapConfig
from facetransfer.swap.pipeline import run_swap, write_comparison

pytestmark = pytest.mark.e2e


def _grid(shared_data: Path) -> tuple[Path, Path]:
    return shared_data / "video/grid/bbaf2n.mpg", shared_data / "video/grid/lbbc2a.mpg"


def _tiny_training(**changes: object) -> TrainConfig:
    return with_options(get_preset("tiny").train, **changes)  # type: ignore[no-any-return]


def _check_output(output: Path, target: Path) -> None:
    info, reference = probe(output), probe(target)
    assert info.frame_count == reference.frame_count == 75
    assert (info.width, info.height) == (reference.width, reference.height)
    assert info.fps == pytest.approx(reference.fps, abs=0.01)
    assert info.has_audio and info.codec == "h264"


def test_swap_then_resume(shared_data: Path, tmp_path: Path) -> None:
    source, target = _grid(shared_data)
    output = tmp_path / "result.mp4"
    config = SwapConfig(
        preset="tiny", compare=True, extract=ExtractConfig(crop_size=96), train=_tiny_training(iterations=12)
    )
    said: list[str] = []
    report = run_swap([source], target, output, config, progress=said.append)
    _check_output(output, target)
    assert report.comparison and probe(report.comparison).width == 2 * 360
    # a new model starts from the preset's shipped base, and the plan line says so
    plan = next(line for line in said if line.startswith("train:"))
    assert "from the pretrained base tiny (step" in plan, plan
    model_config = json.loads((tmp_path / "result.work" / "model" / "config.json").read_text())
    assert (
        model_config["data"]["base"]["path"] == "(shipped)" and model_config["data"]["base"]["kind"] == "base"
    )
    assert [stage.skipped for stage in report.stages] == [False] * 5
    saved = json.loads((tmp_path / "result.work" / "report.json").read_text())
    assert saved["preset"] == "tiny" and saved["versions"]["facetransfer"]

    again = run_swap([source], target, output, config)
    assert [stage.skipped for stage in again.stages] == [True] * 5

    more = run_swap(
        [source],
        target,
        output,
        SwapConfig(preset="tiny", extract=ExtractConfig(crop_size=96), train=_tiny_training(iterations=20)),
    )
    by_name = {stage.name: stage for stage in more.stages}
    assert by_name["extract_source"].skipped and by_name["extract_target"].skipped
    assert not by_name["train"].skipped and by_name["train"].details["start_step"] == 12
    assert by_name["train"].details["step"] == 20 and not by_name["convert"].skipped
    _check_output(output, target)


def _interrupt_when(command: list[str], marker: str, delay_s: float, env: dict[str, str]) -> int:
    """Start `command`, wait for `marker` on its stderr, send SIGINT `delay_s` later; its exit status."""
    # A test run started in the background inherits an ignored SIGINT, and Python keeps it ignored in
    # the child: restore the default so the child installs its Ctrl-C handler as in a terminal.
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 240
    for line in process.stderr:
        if marker in line:
            break
        assert time.monotonic() < deadline, f"{marker!r} never appeared"
    time.sleep(delay_s)
    process.send_signal(signal.SIGINT)
    process.stderr.read()
    return process.wait(timeout=120)


# An interrupted run exits with 130. A SIGINT that lands while the interpreter shuts down, after
# Python has put back the default handler, ends the process by the signal itself (-2); the checks
# below are what matters either way: nothing half-written, and the next run completes.
INTERRUPTED = (130, -signal.SIGINT)


def test_interrupted_at_each_stage_then_completes(shared_data: Path, tmp_path: Path) -> None:
    source, target = _grid(shared_data)
    output = tmp_path / "result.mp4"
    workdir = tmp_path / "work"
    config = tmp_path / "swap.toml"
    config.write_text("[extract]\ncrop-size = 96\n[train]\nsave-every-steps = 5\n")
    command = [sys.executable, "-m", "facetransfer", "swap", str(source), str(target), "-o", str(output)]
    command += ["--workdir", str(workdir), "--preset", "tiny", "--config", str(config)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    status = _interrupt_when([*command, "--iterations", "40"], "extract_source: extracting", 0.3, env)
    assert status in INTERRUPTED
    assert not (workdir / "source").exists()  # the faceset is renamed into place only when complete
    assert not output.exists()

    status = _interrupt_when([*command, "--iterations", "400"], "train:", 4.0, env)
    assert status in INTERRUPTED
    checkpoint = latest_checkpoint(workdir / "model")
    assert checkpoint is not None and verify_checkpoint(checkpoint).step > 0
    interrupted_step = read_state(checkpoint).step
    assert not output.exists()

    budget = str(interrupted_step + 5)
    status = _interrupt_when([*command, "--iterations", budget], "convert:", 0.5, env)
    assert status in INTERRUPTED
    assert not output.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".result")]

    finished = subprocess.run([*command, "--iterations", budget], capture_output=True, text=True, env=env)
    assert finished.returncode == 0, finished.stderr[-2000:]
    _check_output(output, target)
    assert read_state(latest_checkpoint(workdir / "model")).step == interrupted_step + 5  # type: ignore[arg-type]


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and "Traceback" not in "".join(lines)
    return lines[-1]


def test_errors_before_training(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = _grid(shared_data)
    noface = shared_data / "image/noface/apple.jpg"
    base = ["swap", "--preset", "tiny", "--iterations", "5"]

    assert main([*base, str(noface), str(target), "-o", str(tmp_path / "a.mp4")]) == 2
    assert str(noface) in _error_line(capsys)
    assert main([*base, str(source), str(noface), "-o", str(tmp_path / "b.mp4")]) == 2
    assert "the target is an image; name an image output" in _error_line(capsys)  # before any work
    assert not (tmp_path / "b.work").exists()
    assert main([*base, str(source), str(noface), "-o", str(tmp_path / "b.png")]) == 2
    assert str(noface) in _error_line(capsys)
    photo = shared_data / "image/faces/obama.jpg"
    assert main([*base, str(photo), str(target), "-o", str(tmp_path / "c.mp4")]) == 2
    assert "only 1 faces" in _error_line(capsys)
    assert main([*base, str(source), str(target), "-o", str(target)]) == 2
    assert "would overwrite the input" in _error_line(capsys)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert (
        main(
            [*base, str(source), str(target), "-o", str(tmp_path / "d.mp4"), "--workdir", str(blocker / "w")]
        )
        == 2
    )
    assert "cannot be written" in _error_line(capsys)
    for name in ("a", "b", "c", "d"):
        assert not (tmp_path / f"{name}.mp4").exists()
        assert not (tmp_path / f"{name}.work" / "model").exists()


def test_the_comparison_of_an_odd_sized_target_cuts_the_padded_result_back(
    odd_sized_target: Path, tmp_path: Path
) -> None:
    result = tmp_path / "result.mp4"  # written at 360x288, as conversion writes it
    with VideoWriter.like(result, odd_sized_target, preset="ultrafast") as writer:
        for frame in read_frames(odd_sized_target):
            writer.write(255 - frame.image, frame.timestamp_s)
    comparison = tmp_path / "compare.mp4"
    write_comparison(odd_sized_target, result, comparison, ProvenanceConfig(enabled=False))
    info = probe(comparison)
    assert (info.display_width, info.display_height, info.frame_count) == (718, 288, 25)
    first = next(iter(read_frames(comparison))).image
    target = next(iter(read_frames(odd_sized_target))).image
    assert np.abs(first[:287, :359].astype(int) - target).mean() < 4  # target on the left
    assert np.abs(first[:287, 359:].astype(int) - (255 - target)).mean() < 4  # result on the right


def test_a_printed_config_repeats_the_run(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--print-config > run.toml`, then the same swap with `--config run.toml` and no other options:
    the same stage fingerprints, so every stage of the second run is skipped as up to date."""
    source, target = _grid(shared_data)
    output = tmp_path / "result.mp4"
    command = ["swap", str(source), str(target), "-o", str(output)]
    options = [
        "--preset",
        "tiny",
        "--iterations",
        "6",
        "--crop-size",
        "96",
        "--color",
        "rct",
        "--no-provenance",
    ]
    capsys.readouterr()
    assert main(["-q", *command, *options, "--print-config"]) == 0
    printed = tmp_path / "run.toml"
    printed.write_text(capsys.readouterr().out)
    assert not output.exists()  # printing runs nothing
    assert main(["-q", *command, *options]) == 0
    state_path = tmp_path / "result.work" / "stages.json"
    first = json.loads(state_path.read_text())["stages"]
    assert main(["-q", *command, "--config", str(printed)]) == 0
    again = json.loads(state_path.read_text())["stages"]
    assert {name: stage["fingerprint"] for name, stage in again.items()} == {
        name: stage["fingerprint"] for name, stage in first.items()
    }
    report = json.loads((tmp_path / "result.work" / "report.json").read_text())
    assert all(stage["skipped"] for stage in report["stages"])
    assert (
        report["options"]["extract"]["crop_size"] == 96
        and report["options"]["convert"]["face"]["color"] == "rct"
    )
