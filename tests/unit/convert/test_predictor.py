"""The model as conversion calls it: shapes, ranges, bf16 close to float32, one-line load errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facetransfer.convert.predictor import load_predictor, resolve_precision
from facetransfer.errors import CheckpointError, ConfigError


def test_predict_shapes_and_ranges(tiny_model_dir) -> None:
    predictor = load_predictor(tiny_model_dir, "cpu", precision="float32")
    assert (predictor.resolution, predictor.coverage, predictor.dtype) == (64, "full", torch.float32)
    crops = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    images, masks = predictor.predict(crops)
    assert images.shape == (5, 64, 64, 3) and masks.shape == (5, 64, 64)
    assert images.dtype == masks.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0 and masks.min() >= 0.0 and masks.max() <= 1.0
    with pytest.raises(ValueError, match="crops"):
        predictor.predict(crops[:, :32])


def test_bfloat16_renders_within_one_level_of_float32(tiny_model_dir) -> None:
    crops = np.random.default_rng(1).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    exact, _ = load_predictor(tiny_model_dir, "cpu", precision="float32").predict(crops)
    fast, _ = load_predictor(tiny_model_dir, "cpu", precision="bfloat16").predict(crops)
    assert np.abs(exact - fast).max() < 2.0 / 255.0


def test_precision_choice() -> None:
    assert resolve_precision("float32", torch.device("cpu")) == torch.float32
    assert resolve_precision("bfloat16", torch.device("cpu")) == torch.bfloat16
    assert resolve_precision("auto", torch.device("cuda")) == torch.bfloat16
    with pytest.raises(ConfigError):
        resolve_precision("fp8", torch.device("cpu"))


def test_missing_model_folder_is_a_checkpoint_error(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="no such model folder"):
        load_predictor(tmp_path / "absent", "cpu")
    with pytest.raises(CheckpointError):
        load_predictor(tmp_path, "cpu")  # a folder without config.json
