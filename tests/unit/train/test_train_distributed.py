"""Data-parallel training with PyTorch's own engine: two gloo processes on the CPU."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from facetransfer.train import load_model
from facetransfer.train.distributed import weights_digest


def test_two_gloo_processes_train_and_end_with_identical_weights(
    face_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    source, target = face_pair
    model_dir = tmp_path / "model"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "facetransfer", "train", str(source), str(target), "-o", str(model_dir), "--preset", "tiny",
        "--iterations", "3", "--device", "cpu", "--threads", "1", "--preview-every", "0",
    ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    log = result.stdout + result.stderr
    assert "rank 0 of 2 joined the gloo process group" in log and "rank 1 of 2 joined" in log
    digests = dict(re.findall(r"rank (\d): weights sha256 ([0-9a-f]{64}) at step 3", log))
    assert set(digests) == {"0", "1"}, log[-4000:]
    assert digests["0"] == digests["1"]
    assert "weights identical on all 2 ranks" in log
    model, _config = load_model(model_dir)  # only rank 0 wrote, and it wrote the trained weights
    assert weights_digest(model) == digests["0"]
    assert (model_dir / "latest").read_text().strip() == "step_00000003"
