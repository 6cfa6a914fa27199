"""Preemption drill without a cloud: what a spot machine's loss does to a training job.

The same `facetransfer train` command a cloud job runs (deploy/train.yaml) writes its model folder
into a separate folder standing in for the bucket. It is killed with SIGKILL at random moments (no
chance to save, as when a spot machine vanishes), then started again unchanged, as the orchestrator
does on a new machine; after the last kill it runs to the end. Each kill comes at a random moment of
the training the run still has to do (timed from the uninterrupted run). An uninterrupted run of the same
command with the same seed writes a reference model. The drill reports whether both stop at the same
step and how far apart their weights are (0.0: bit-identical).

    .venv/bin/python tools/preemption_drill.py [--kills 3] [--iterations 160] [--seed 0] [--json OUT]

Uses the GRID pair of the shared test media (`FACETRANSFER_TEST_DATA`, default ../shared/data),
extracted once into the drill folder, and the `tiny` preset. Exit status 0 when the interrupted model
matches the reference (same step, weights within --tolerance), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACETRANSFER_TEST_DATA") or ROOT.parent / "shared" / "data")


def train_command(facesets: Path, model: Path, iterations: int, seed: int, save_every: int) -> list[str]:
    """The cloud job's training command (deploy/train.yaml), on the tiny preset and a step budget."""
    return [
        sys.executable, "-m", "facetransfer", "--quiet", "train",
        str(facesets / "source"), str(facesets / "target"), "-o", str(model),
        "--preset", "tiny", "--iterations", str(iterations), "--seed", str(seed),
        "--save-every-steps", str(save_every), "--preview-every", "0", "--threads", "1",
    ]  # fmt: skip


def prepare_facesets(folder: Path) -> Path:
    """Facesets of the GRID pair (bbaf2n -> lbbc2a) at the tiny preset's 64 px, made once."""
    from facetransfer.extract import ExtractConfig, extract_faceset
    from facetransfer.faceset.io import is_faceset

    for side, clip in (("source", "bbaf2n"), ("target", "lbbc2a")):
        if not is_faceset(folder / side):
            extract_faceset(
                [DATA / "video" / "grid" / f"{clip}.mpg"], folder / side, ExtractConfig(crop_size=64)
            )
    return folder


def model_state(model: Path) -> tuple[int, dict[str, Any]]:
    """(step, weights) of the model folder's latest checkpoint."""
    from safetensors.numpy import load_file

    from facetransfer.modelfolder.checkpoints import latest_checkpoint, read_state
    from facetransfer.modelfolder.config import WEIGHTS_NAME

    checkpoint = latest_checkpoint(model)
    if checkpoint is None:
        raise SystemExit(f"{model}: no checkpoint")
    return read_state(checkpoint).step, load_file(str(checkpoint / WEIGHTS_NAME))


def weights_difference(first: dict[str, Any], second: dict[str, Any]) -> float:
    """Largest absolute difference between two sets of weights (inf when their tensors differ)."""
    import numpy as np

    if first.keys() != second.keys():
        return float("inf")
    largest = 0.0
    for name, tensor in first.items():
        if tensor.shape != second[name].shape:
            return float("inf")
        largest = max(largest, float(np.max(np.abs(tensor.astype(np.float64) - second[name]))))
    return largest


def run_to_end(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _saved_step(model: Path) -> int | None:
    from facetransfer.modelfolder.checkpoints import latest_checkpoint, read_state

    checkpoint = latest_checkpoint(model) if model.exists() else None
    return read_state(checkpoint).step if checkpoint else None


def run_with_kills(
    command: list[str], kills: int, startup_s: float, training_s: float, iterations: int, rng: random.Random
) -> list[dict[str, Any]]:
    """Start `command` and SIGKILL it at a random moment, `kills` times, starting it again each time;
    then let the last run finish. A run needs `startup_s` before its first step and about
    `training_s` for all `iterations` steps (the uninterrupted run's times); each kill comes at a
    random moment of the training still left to do, so it lands mid-run (usually between saves, and
    the steps since the last save are lost). Returns what each killed run had saved when it died."""
    model = Path(command[command.index("-o") + 1])
    events: list[dict[str, Any]] = []
    for _ in range(kills):
        before = _saved_step(model)
        left = (iterations - (before or 0)) / iterations
        delay_s = startup_s + rng.uniform(0.1, 0.9) * training_s * left
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            process.wait(timeout=delay_s)
            finished = True  # it reached the budget before the kill
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            finished = False
        events.append(
            {
                "killed_after_s": round(delay_s, 2),
                "finished_first": finished,
                "saved_step_before": before,
                "saved_step": _saved_step(model),
            }
        )
    run_to_end(command)
    return events


def startup_seconds() -> float:
    """Time a new process takes to load what training needs (PyTorch, the package)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import facetransfer.train.loop"], check=True)
    return time.perf_counter() - started


def drill(
    workdir: Path, kills: int, iterations: int, seed: int, save_every: int, rng_seed: int
) -> dict[str, Any]:
    facesets = prepare_facesets(workdir / "facesets")
    reference = workdir / "reference" / "model"
    bucket = workdir / "bucket" / "model"  # the bucket's stand-in: another folder
    from facetransfer.modelfolder.config import is_model_dir

    for model in (reference, bucket):  # both runs start afresh; only a model folder is removed
        if is_model_dir(model):
            shutil.rmtree(model)
        elif model.exists():
            raise SystemExit(f"{model}: not a model folder; choose another --workdir")
        model.parent.mkdir(parents=True, exist_ok=True)
    duration_s = run_to_end(train_command(facesets, reference, iterations, seed, save_every))
    startup_s = startup_seconds()
    training_s = max(0.1 * duration_s, duration_s - startup_s)
    events = run_with_kills(
        train_command(facesets, bucket, iterations, seed, save_every),
        kills,
        startup_s,
        training_s,
        iterations,
        random.Random(rng_seed),
    )
    reference_step, reference_weights = model_state(reference)
    step, weights = model_state(bucket)
    difference = weights_difference(reference_weights, weights)
    return {
        "iterations": iterations,
        "save_every_steps": save_every,
        "seed": seed,
        "reference_seconds": round(duration_s, 1),
        "startup_seconds": round(startup_s, 1),
        "kills": events,
        "reference_step": reference_step,
        "step": step,
        "max_weight_difference": difference,
        "bit_identical": difference == 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs before the run that finishes")
    parser.add_argument("--iterations", type=int, default=160, help="training steps of the job")
    parser.add_argument("--save-every-steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="the training seed (both runs)")
    parser.add_argument(
        "--rng-seed", type=int, default=None, help="seed of the kill moments (default: random)"
    )
    parser.add_argument("--tolerance", type=float, default=0.0, help="largest weight difference that passes")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the drill's folders here")
    parser.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    rng_seed = args.rng_seed if args.rng_seed is not None else random.SystemRandom().randrange(2**32)
    with tempfile.TemporaryDirectory(prefix="facetransfer-preemption-") as temporary:
        workdir = args.workdir or Path(temporary)
        result = drill(workdir, args.kills, args.iterations, args.seed, args.save_every_steps, rng_seed)
    result["rng_seed"] = rng_seed
    result["passed"] = (
        result["step"] == result["reference_step"] and result["max_weight_difference"] <= args.tolerance
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
