"""Recipe options of training: learning-rate dropout and the patch-GAN loss. Both change what a
step does, must resume exactly, and the GAN's discriminator is saved with each checkpoint."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch

from facetransfer.modelfolder.metrics import read_metrics
from facetransfer.presets import get_preset, with_options
from facetransfer.train import RunConfig, train
from facetransfer.train.adversarial import Adversary
from facetransfer.train.loop import optimizer_step

TINY = get_preset("tiny")


def run_config(**train_options: Any) -> RunConfig:
    options = {"threads": 1, "preview_every": 0, "save_every_min": 60.0, "log_every": 1, **train_options}
    return RunConfig(TINY.model, with_options(TINY.train, **options))


def _step(keep: float, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 64)
    before = layer.weight.detach().clone()
    optimizer = torch.optim.AdamW(layer.parameters(), lr=0.1)
    layer(torch.randn(8, 64)).square().sum().backward()
    optimizer_step(optimizer, keep, torch.Generator().manual_seed(seed))
    return before, layer.weight.detach().clone()


def test_learning_rate_dropout_keeps_that_share_of_the_updates() -> None:
    before, after = _step(1.0)
    assert (after != before).float().mean() == 1.0
    before, dropped = _step(0.3)
    changed = dropped != before
    assert 0.25 < changed.float().mean() < 0.35
    assert torch.equal(dropped[changed], after[changed])  # the kept updates are the optimizer's own
    assert torch.equal(_step(0.3)[1], dropped) and not torch.equal(_step(0.3, seed=2)[1], dropped)


@pytest.mark.parametrize("options", [{"lr_dropout": 0.3}, {"gan_weight": 0.1}], ids=["lr_dropout", "gan"])
def test_a_recipe_resumes_exactly(
    face_pair: tuple[Path, Path], tmp_path: Path, options: dict[str, Any]
) -> None:
    source, target = face_pair
    plain = train(source, target, tmp_path / "plain", run_config(iterations=3))
    straight = train(source, target, tmp_path / "straight", run_config(iterations=3, **options))
    assert straight.weights_sha256 != plain.weights_sha256  # the option changes the updates
    train(source, target, tmp_path / "resumed", run_config(iterations=1, **options))
    resumed = train(source, target, tmp_path / "resumed", run_config(iterations=3, **options))
    assert resumed.start_step == 1 and resumed.weights_sha256 == straight.weights_sha256


def test_the_gan_saves_its_discriminator_and_reports_both_losses(
    face_pair: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, target = face_pair
    model_dir = tmp_path / "model"
    train(source, target, model_dir, run_config(iterations=2, gan_weight=0.1))
    checkpoint = model_dir / "checkpoints" / (model_dir / "latest").read_text().strip()
    state = json.loads((checkpoint / "state.json").read_text())
    assert "extra_state.pt" in state["files"]
    saved = torch.load(checkpoint / "extra_state.pt", weights_only=True)
    assert set(saved["adversary"]) == {"discriminator", "optimizer"}
    last = read_metrics(model_dir)[-1]
    assert last["source_gan"] > 0 and last["source_discriminator"] > 0 and "target_gan" not in last
    # a changed file is caught like the weights are: training goes on from the save before it
    (checkpoint / "extra_state.pt").write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING):
        again = train(source, target, model_dir, run_config(iterations=3, gan_weight=0.1))
    assert again.start_step == 0 and "extra_state.pt: contents do not match the checksum" in caplog.text


def test_the_discriminator_learns_to_tell_sharp_faces_from_blurred_ones() -> None:
    torch.manual_seed(0)
    real = torch.rand(8, 3, 32, 32)
    blurred = torch.nn.functional.avg_pool2d(real, 5, stride=1, padding=2)
    face = torch.ones(8, 1, 32, 32)
    adversary = Adversary(0.1, 2e-3, torch.device("cpu"), seed=0)
    first = float(adversary.discriminator_step(real, blurred, face, 2e-3))
    for _ in range(60):
        last = float(adversary.discriminator_step(real, blurred, face, 2e-3))
    assert last < 0.5 * first
    # the model's term is large for blurred faces, small for real ones, and moves only the input
    fake = blurred.clone().requires_grad_(True)
    adversary.optimizer.zero_grad(set_to_none=True)
    adversary.model_loss(fake, face).backward()
    assert fake.grad is not None and all(p.grad is None for p in adversary.net.parameters())
    assert float(adversary.model_loss(blurred, face)) > float(adversary.model_loss(real, face))
