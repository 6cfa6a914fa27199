"""The training loop, in-process: it learns, it resumes exactly, and it survives NaNs, out-of-memory
and signals. Everything runs the `tiny` preset on one CPU thread (robust on a busy machine)."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from train_fixtures import write_test_faceset

from facetransfer.errors import ConfigError, DivergenceError, FacetransferError, TrainingOutOfMemoryError
from facetransfer.modelfolder.metrics import read_metrics
from facetransfer.models import MODELS, register_model
from facetransfer.models.df import DFModel
from facetransfer.presets import ModelConfig, get_preset, with_options
from facetransfer.train import RunConfig, load_model, resolve_config, train
from facetransfer.train.data import load_faces
from facetransfer.train.loop import learning_rate

TINY = get_preset("tiny")
QUIET = with_options(
    TINY.train,
    threads=1,
    preview_every=0,
    save_every_min=60.0,
    log_every=1,
    random_warp=False,
    rotation_deg=0.0,
    scale_range=0.0,
    shift_range=0.0,
    color_jitter=0.0,
    sharpen_fraction=0.0,
)


def run_config(model: ModelConfig | None = None, **train_options: Any) -> RunConfig:
    return RunConfig(model or TINY.model, with_options(QUIET, **train_options))


def saved_state(model_dir: Path) -> dict[str, Any]:
    name = (model_dir / "latest").read_text().strip()
    return json.loads((model_dir / "checkpoints" / name / "state.json").read_text())


def face_tensors(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_faces(path, 64, holdout_fraction=0.0)
    images = torch.from_numpy(data.images).permute(0, 3, 1, 2).float() / 255
    return images, torch.from_numpy(data.masks[..., 0]).float()[:, None] / 255


def test_a_tiny_model_overfits_eight_real_faces(face_pair: tuple[Path, Path], tmp_path: Path) -> None:
    source, target = face_pair
    result = train(
        source, target, tmp_path / "model", run_config(iterations=400, preview_every=400, log_every=10)
    )
    assert result.step == 400 and result.stopped_by == "iterations"
    metrics = read_metrics(tmp_path / "model")
    first, last = metrics[0], metrics[-1]
    assert (
        last["loss_source"] < 0.3 * first["loss_source"] and last["loss_target"] < 0.3 * first["loss_target"]
    )
    model, _config = load_model(tmp_path / "model")
    for faces_path, forward in ((source, model.forward_source), (target, model.forward_target)):
        faces, hull = face_tensors(faces_path)
        with torch.no_grad():
            rebuilt, _mask = forward(faces)
        error = ((rebuilt - faces).abs() * hull).sum()
        # A model that learned only the average face (or nothing) scores >= 1 here.
        mean_face_error = ((faces.mean(0, keepdim=True) - faces).abs() * hull).sum()
        assert error / mean_face_error < 0.5, f"{faces_path.name}: {float(error / mean_face_error):.2f}"
    assert (tmp_path / "model" / "previews" / "step_00000400.png").is_file()
    assert (tmp_path / "model" / "best" / "model.safetensors").is_file()


def test_a_resumed_run_makes_the_same_updates_as_an_uninterrupted_one(
    face_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    source, target = face_pair
    augmenting = {"random_warp": True, "rotation_deg": 10.0, "color_jitter": 0.05, "flip": True}
    straight = train(source, target, tmp_path / "straight", run_config(iterations=4, **augmenting))
    first = train(source, target, tmp_path / "resumed", run_config(iterations=2, **augmenting))
    assert first.step == 2
    second = train(source, target, tmp_path / "resumed", run_config(iterations=4, **augmenting))
    assert second.start_step == 2 and second.step == 4
    assert second.weights_sha256 == straight.weights_sha256
    assert [m["step"] for m in read_metrics(tmp_path / "resumed")] == [1, 2, 3, 4]
    again = train(source, target, tmp_path / "resumed", run_config(iterations=4))
    assert again.stopped_by == "already_done" and again.step == 4


def test_resolve_config_takes_the_architecture_from_the_folder(
    face_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    fresh = resolve_config(tmp_path / "new", "tiny", {"resolution": 96}, {"batch_size": 3, "minutes": 5.0})
    assert fresh.model.resolution == 96 and fresh.train.batch_size == 3 and fresh.train.learning_rate == 3e-3
    source, target = face_pair
    train(source, target, tmp_path / "model", run_config(iterations=1))
    resumed = resolve_config(tmp_path / "model", None, {"resolution": 64}, {"batch_size": 2})
    assert resumed.model == TINY.model and resumed.train.batch_size == 2 and resumed.train.minutes is None
    assert resolve_config(tmp_path / "model", "tiny", {}, {}).model == TINY.model
    with pytest.raises(ConfigError, match=r"sets resolution to 128 but the saved model has 64 \(df 64 px"):
        resolve_config(tmp_path / "model", None, {"resolution": 128}, {})
    with pytest.raises(ConfigError, match="preset 'gpu128' sets name to 'liae'"):
        resolve_config(tmp_path / "model", "gpu128", {}, {})
    with pytest.raises(ConfigError, match="holds a df 64 px"):
        train(source, target, tmp_path / "model", RunConfig(replace(TINY.model, decoder_width=12), QUIET))


def test_a_folder_that_is_not_a_model_is_refused(face_pair: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty and is not a model folder"):
        train(*face_pair, tmp_path, run_config(iterations=1))


def test_facesets_of_different_coverage_are_refused(face_pair: tuple[Path, Path], tmp_path: Path) -> None:
    photos = sorted(p for p in face_pair[1].glob("crops/*.png"))
    full = write_test_faceset(tmp_path / "full", photos, 64, coverage="full")
    with pytest.raises(ConfigError, match="extract both with the same --coverage"):
        train(face_pair[0], full, tmp_path / "model", run_config(iterations=1))


@pytest.fixture
def test_model() -> Iterator[type[DFModel]]:
    """A df model registered as `test_model` whose forward can misbehave on chosen calls."""

    @register_model("test_model")
    class MisbehavingModel(DFModel):
        calls: ClassVar[int] = 0
        nan_calls: ClassVar[set[int]] = set()
        sigterm_calls: ClassVar[set[int]] = set()
        max_batch: ClassVar[int] = 1_000

        def forward(self, x_source: torch.Tensor, x_target: torch.Tensor) -> Any:
            type(self).calls += 1
            if x_source.shape[0] > self.max_batch:
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
            if type(self).calls in self.sigterm_calls:
                os.kill(os.getpid(), signal.SIGTERM)
            outputs = super().forward(x_source, x_target)
            if type(self).calls in self.nan_calls:
                outputs = tuple(output * float("nan") for output in outputs)
            return outputs

    yield MisbehavingModel
    MODELS.pop("test_model")


def test_repeated_nans_roll_back_to_the_last_save_with_a_lower_learning_rate(
    face_pair: tuple[Path, Path], tmp_path: Path, test_model: type[DFModel], caplog: pytest.LogCaptureFixture
) -> None:
    test_model.nan_calls = {5, 6, 7}  # steps 1-4 fine (saved at 2 and 4), then three NaN steps
    config = run_config(
        replace(TINY.model, name="test_model"), iterations=8, save_every_steps=2, nan_patience=3
    )
    with caplog.at_level(logging.WARNING):
        result = train(*face_pair, tmp_path / "model", config)
    assert result.step == 8 and result.rollbacks == 1
    assert sum("not finite; step skipped" in record.message for record in caplog.records) == 3
    assert any("rolled back to step_00000004" in record.message for record in caplog.records)
    state = saved_state(tmp_path / "model")
    assert state["lr_scale"] == 0.5 and state["step"] == 8
    metrics = read_metrics(tmp_path / "model")
    assert metrics[-1]["learning_rate"] == pytest.approx(QUIET.learning_rate / 2)
    model, _ = load_model(tmp_path / "model")
    assert all(torch.isfinite(value).all() for value in model.state_dict().values())


def test_out_of_memory_halves_the_batch_and_training_goes_on(
    face_pair: tuple[Path, Path], tmp_path: Path, test_model: type[DFModel], caplog: pytest.LogCaptureFixture
) -> None:
    test_model.max_batch = 2
    config = run_config(replace(TINY.model, name="test_model"), iterations=2, batch_size=8)
    with caplog.at_level(logging.WARNING):
        result = train(*face_pair, tmp_path / "model", config)
    assert result.step == 2 and result.batch_size == 2
    lowered = [r.message for r in caplog.records if "out of GPU memory" in r.message]
    assert lowered == [
        "out of GPU memory: batch size lowered to 4 per person",
        "out of GPU memory: batch size lowered to 2 per person",
    ]
    assert saved_state(tmp_path / "model")["batch_size"] == 2
    resumed = train(
        *face_pair, tmp_path / "model", replace(config, train=replace(config.train, iterations=3))
    )
    assert resumed.batch_size == 2  # the lowered size sticks while the same size is asked for


def test_out_of_memory_at_one_face_per_batch_is_its_own_error(
    face_pair: tuple[Path, Path], tmp_path: Path, test_model: type[DFModel]
) -> None:
    test_model.max_batch = 0
    config = run_config(replace(TINY.model, name="test_model"), iterations=2, batch_size=2)
    with pytest.raises(TrainingOutOfMemoryError, match="out of CPU memory at batch size 1;") as raised:
        train(*face_pair, tmp_path / "model", config)
    assert isinstance(raised.value, FacetransferError) and raised.value.__cause__ is None
    assert saved_state(tmp_path / "model")["step"] == 0  # the first save is kept


def test_nans_that_do_not_stop_end_in_a_divergence_error(
    face_pair: tuple[Path, Path], tmp_path: Path, test_model: type[DFModel], caplog: pytest.LogCaptureFixture
) -> None:
    test_model.nan_calls = set(range(1, 100))
    config = run_config(replace(TINY.model, name="test_model"), iterations=20, nan_patience=1)
    with caplog.at_level(logging.WARNING), pytest.raises(DivergenceError, match="after 6 roll-backs"):
        train(*face_pair, tmp_path / "model", config)
    rolled = [record.message for record in caplog.records if "rolled back to step_00000000" in record.message]
    assert len(rolled) == 6 and rolled[-1].endswith(f"(to {QUIET.learning_rate / 64:.3g})")


def test_training_puts_back_the_torch_thread_count(face_pair: tuple[Path, Path], tmp_path: Path) -> None:
    before = torch.get_num_threads()
    matmul_precision = torch.get_float32_matmul_precision()
    torch.set_num_threads(3)  # QUIET trains on one thread
    try:
        train(*face_pair, tmp_path / "model", run_config(iterations=1))
        assert torch.get_num_threads() == 3
        assert torch.get_float32_matmul_precision() == matmul_precision
    finally:
        torch.set_num_threads(before)


def test_sigterm_stops_after_the_step_and_saves(
    face_pair: tuple[Path, Path], tmp_path: Path, test_model: type[DFModel]
) -> None:
    test_model.sigterm_calls = {3}
    config = run_config(replace(TINY.model, name="test_model"), iterations=50)
    handler_before = signal.getsignal(signal.SIGTERM)
    result = train(*face_pair, tmp_path / "model", config)
    assert result.stopped_by == "signal" and result.step == 3
    assert saved_state(tmp_path / "model")["step"] == 3
    assert signal.getsignal(signal.SIGTERM) == handler_before


def test_the_time_limit_stops_and_saves(face_pair: tuple[Path, Path], tmp_path: Path) -> None:
    result = train(*face_pair, tmp_path / "model", run_config(minutes=0.0005))
    assert result.stopped_by == "minutes" and result.step >= 1
    assert saved_state(tmp_path / "model")["step"] == result.step


def test_without_a_terminal_progress_goes_to_the_log_and_quiet_silences_it(
    face_pair: tuple[Path, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("facetransfer.train.loop.PROGRESS_LINE_EVERY_S", 0.0)
    with caplog.at_level(logging.INFO, logger="facetransfer"):
        train(*face_pair, tmp_path / "a", run_config(iterations=3))
    lines = [record.message for record in caplog.records if record.message.startswith("step ")]
    assert [line.split(",")[0] for line in lines] == ["step 1", "step 2", "step 3"]
    assert "s/step: src " in lines[0] and " left " in lines[0]
    assert "it/s" not in capsys.readouterr().err  # captured stderr is not a terminal: no bar
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="facetransfer"):  # what -q sets
        train(*face_pair, tmp_path / "b", run_config(iterations=3))
    assert not [record for record in caplog.records if record.message.startswith("step ")]


def test_learning_rate_warms_up_linearly_and_follows_the_rollback_scale() -> None:
    config = replace(QUIET, learning_rate=1e-3, warmup_steps=10)
    assert learning_rate(config, 0) == pytest.approx(1e-4)
    assert learning_rate(config, 9) == pytest.approx(1e-3)
    assert learning_rate(config, 500, scale=0.25) == pytest.approx(2.5e-4)
    assert learning_rate(replace(config, warmup_steps=0), 0) == pytest.approx(1e-3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_training_on_cuda_with_bf16_and_channels_last(face_pair: tuple[Path, Path], tmp_path: Path) -> None:
    result = train(*face_pair, tmp_path / "model", run_config(iterations=6, device="cuda", preview_every=3))
    assert result.step == 6 and all(math.isfinite(value) for value in result.losses.values())
    model, _ = load_model(tmp_path / "model", device="cuda")
    faces, _hull = face_tensors(face_pair[1])
    with torch.no_grad():
        image, mask = model.swap(faces.cuda())
    assert image.shape == (8, 3, 64, 64) and mask.shape == (8, 1, 64, 64) and torch.isfinite(image).all()


@pytest.mark.slow
def test_compiled_training_runs(face_pair: tuple[Path, Path], tmp_path: Path) -> None:
    result = train(*face_pair, tmp_path / "model", run_config(iterations=3, compile=True))
    assert result.step == 3 and all(math.isfinite(value) for value in result.losses.values())
