"""The training recipe's pure pieces: the sharpening phase and yaw-balanced sampling."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from facetransfer.presets import TrainConfig
from facetransfer.train.data import FaceData, FaceSampler, yaw_bins
from facetransfer.train.loop import budget_progress, learning_rate, sharpening


def test_the_sharpening_phase_is_the_end_of_the_budget() -> None:
    config = TrainConfig(learning_rate=1e-3, iterations=1000, sharpen_fraction=0.2)
    assert budget_progress(config, 500, 0.0) == pytest.approx(0.5)
    assert sharpening(config, budget_progress(config, 700, 0.0)) == 0.0
    assert sharpening(config, budget_progress(config, 900, 0.0)) == pytest.approx(0.5)
    assert sharpening(config, budget_progress(config, 1000, 0.0)) == pytest.approx(1.0)
    assert learning_rate(config, 1000, sharpening=1.0) == pytest.approx(1e-4)
    # a total time budget counts too; the furthest of the two decides
    timed = replace(config, iterations=None, total_minutes=10.0)
    assert budget_progress(timed, 10, 540.0) == pytest.approx(0.9)
    assert sharpening(replace(config, sharpen_fraction=0.0), 0.99) == 0.0
    assert budget_progress(replace(config, iterations=None), 5, 60.0) is None


def test_yaw_balanced_batches_visit_every_bin_alike() -> None:
    yaw = np.concatenate([np.zeros(90), np.full(10, 60.0)]).astype(np.float32)  # 90 frontal, 10 turned
    bins = yaw_bins(yaw)
    assert [len(b) for b in bins] == [90, 10]
    count = len(yaw)
    data = FaceData(
        name="faces",
        root=Path("."),
        images=np.zeros((count, 8, 8, 3), np.uint8),
        masks=np.zeros((count, 8, 8, 3), np.uint8),
        face_ids=[str(i) for i in range(count)],
        train_indices=np.arange(count),
        holdout_indices=np.zeros(0, np.int64),
        coverage="face",
        crop_size=8,
        yaw_deg=yaw,
    )
    balanced = FaceSampler(data, data.train_indices, torch.device("cpu"), balance_yaw=True)
    picks = np.concatenate([balanced.batch_positions(step, 16, seed=3) for step in range(200)])
    turned = np.mean(picks >= 90)
    assert 0.42 < turned < 0.58  # half the draws from the 10% turned faces
    assert np.array_equal(balanced.batch_positions(7, 16, 3), balanced.batch_positions(7, 16, 3))
    plain = FaceSampler(data, data.train_indices, torch.device("cpu"))
    plain_picks = np.concatenate([plain.batch_positions(step, 16, seed=3) for step in range(200)])
    assert np.mean(plain_picks >= 90) == pytest.approx(0.1, abs=0.03)
