"""The model folder: checkpoint round trip, atomic layout, pruning, best copy, crash recovery,
rejection of damaged or foreign checkpoints, metrics repair, describe_model without PyTorch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from facetransfer.errors import CheckpointError
from facetransfer.modelfolder.checkpoints import (
    TrainingState,
    latest_checkpoint,
    list_checkpoints,
    recover,
    update_best,
)
from facetransfer.modelfolder.config import CHECKPOINTS_DIR, RunConfig, read_config, write_config
from facetransfer.modelfolder.describe import describe_model
from facetransfer.modelfolder.metrics import append_metrics, read_metrics, truncate_metrics
from facetransfer.modelfolder.weights import load_checkpoint, load_model, save_checkpoint
from facetransfer.models import build_model
from facetransfer.presets import ModelConfig, TrainConfig

MODEL = ModelConfig("df", 64, bottleneck_width=16, encoder_width=8, decoder_width=8, mask_width=4)


def make_folder(tmp_path: Path) -> tuple[Path, torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = build_model(MODEL)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))[0].mean().backward()
    optimizer.step()
    folder = tmp_path / "model"
    folder.mkdir()
    write_config(folder, RunConfig(MODEL, TrainConfig(), {"coverage": "face"}, model.parameter_count()))
    return folder, model, optimizer


def test_round_trip_restores_weights_optimizer_and_state(tmp_path: Path) -> None:
    folder, model, optimizer = make_folder(tmp_path)
    path = save_checkpoint(folder, model, optimizer, TrainingState(step=7, batch_size=4, lr_scale=0.5))
    assert path.name == "step_00000007" and (folder / "latest").read_text().strip() == path.name
    restored = build_model(MODEL)
    restored_optimizer = torch.optim.AdamW(restored.parameters(), lr=1e-3)
    state = load_checkpoint(path, restored, restored_optimizer)
    assert state.step == 7 and state.batch_size == 4 and state.lr_scale == 0.5 and state.saved_utc
    for key, value in model.state_dict().items():
        assert torch.equal(value, restored.state_dict()[key])
    saved_moments = optimizer.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(restored_optimizer.state_dict()["state"][0]["exp_avg"], saved_moments)
    loaded, config = load_model(folder)
    assert not loaded.training and config.model == MODEL and config.data["coverage"] == "face"


def test_optimizer_state_is_plain_tensors_loadable_without_pickle(tmp_path: Path) -> None:
    folder, model, optimizer = make_folder(tmp_path)
    path = save_checkpoint(folder, model, optimizer, TrainingState(step=1, batch_size=2))
    payload = torch.load(path / "optimizer.pt", weights_only=True)
    assert set(payload) == {"state", "param_groups"}


def test_only_the_newest_saves_are_kept_and_best_survives_pruning(tmp_path: Path) -> None:
    folder, model, optimizer = make_folder(tmp_path)
    for step in range(1, 6):
        path = save_checkpoint(folder, model, optimizer, TrainingState(step=step, batch_size=2), keep=2)
        if step == 2:
            update_best(folder, path)
    assert [p.name for p in list_checkpoints(folder)] == ["step_00000004", "step_00000005"]
    assert [p.name for p in (folder / CHECKPOINTS_DIR).iterdir() if p.name.startswith(".")] == []
    best_state = load_checkpoint(folder / "best", build_model(MODEL))
    assert best_state.step == 2
    best, config = load_model(folder, which="best")
    assert config.model == MODEL and best.parameter_count() == model.parameter_count()
    assert not best.training  # ready for conversion


def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(tmp_path: Path) -> None:
    folder, model, optimizer = make_folder(tmp_path)
    save_checkpoint(folder, model, optimizer, TrainingState(step=1, batch_size=2))
    newest = save_checkpoint(folder, model, optimizer, TrainingState(step=2, batch_size=2))
    weights = newest / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(newest, build_model(MODEL))
    fallback = latest_checkpoint(folder)
    assert fallback is not None and fallback.name == "step_00000001"


def test_recover_removes_unfinished_saves_and_restores_best(tmp_path: Path) -> None:
    folder, model, optimizer = make_folder(tmp_path)
    path = save_checkpoint(folder, model, optimizer, TrainingState(step=1, batch_size=2))
    update_best(folder, path)
    half_written = folder / CHECKPOINTS_DIR / ".step_00000002.abc.tmp"
    half_written.mkdir()
    (half_written / "model.safetensors").write_bytes(b"partial")
    (folder / ".latest.xyz.tmp").write_text("step_00000002")
    half_pruned = folder / CHECKPOINTS_DIR / ".step_00000000.123.pruned.tmp"  # killed while pruning
    half_pruned.mkdir()
    (half_pruned / "optimizer.pt").write_bytes(b"left over")
    (folder / "best").rename(folder / ".best.old")  # a crash between the two renames of update_best
    actions = recover(folder)
    assert not half_written.exists() and not (folder / ".latest.xyz.tmp").exists()
    assert not half_pruned.exists()
    assert (folder / "best" / "model.safetensors").is_file() and "restored best/" in actions
    assert latest_checkpoint(folder) == path


def test_metrics_are_whole_lines_and_truncate_to_a_resumed_step(tmp_path: Path) -> None:
    append_metrics(tmp_path, [{"step": step, "loss_source": 1.0 / step} for step in range(1, 6)])
    with (tmp_path / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 6, "loss_so')  # a torn last line
    truncate_metrics(tmp_path, 3)
    assert [record["step"] for record in read_metrics(tmp_path)] == [1, 2, 3]
    assert (tmp_path / "metrics.jsonl").read_bytes().endswith(b"\n")


def test_describe_model_reports_kind_step_model_and_resolution(tmp_path: Path) -> None:
    folder, model, optimizer = make_folder(tmp_path)
    save_checkpoint(folder, model, optimizer, TrainingState(step=12, batch_size=2, losses={"source": 0.5}))
    info = describe_model(folder)
    assert (
        info["kind"] == "model" and info["step"] == 12 and info["model"] == "df" and info["resolution"] == 64
    )
    assert info["coverage"] == "face" and info["latest_checkpoint"] == "step_00000012"
    json.dumps(info)  # plain JSON


def test_folders_that_are_not_models_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not a model folder"):
        describe_model(tmp_path)
    folder, _model, _optimizer = make_folder(tmp_path)
    with pytest.raises(CheckpointError, match="no usable latest checkpoint"):
        load_model(folder)
    payload = json.loads((folder / "config.json").read_text())
    payload["version"] = 99
    (folder / "config.json").write_text(json.dumps(payload))
    with pytest.raises(CheckpointError, match="upgrade facetransfer"):
        read_config(folder)


def test_reading_a_model_folder_needs_no_pytorch() -> None:
    # `info` describes a model folder from its JSON files; only the weights need PyTorch
    code = (
        "import sys\n"
        "import facetransfer.modelfolder.checkpoints, facetransfer.modelfolder.config\n"
        "import facetransfer.modelfolder.describe, facetransfer.modelfolder.metrics\n"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
