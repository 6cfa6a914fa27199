"""The model as conversion calls it: shapes, ranges, the model's own swap, one-line load errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facetransfer.convert.predictor import load_predictor
from facetransfer.errors import CheckpointError


def test_predict_shapes_and_ranges(tiny_model_dir) -> None:
    predictor = load_predictor(tiny_model_dir, "cpu")
    assert (predictor.resolution, predictor.coverage) == (64, "full")
    crops = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    images, masks = predictor.predict(crops)
    assert images.shape == (5, 64, 64, 3) and masks.shape == (5, 64, 64)
    assert images.dtype == masks.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0 and masks.min() >= 0.0 and masks.max() <= 1.0
    with pytest.raises(ValueError, match="crops"):
        predictor.predict(crops[:, :32])


def test_predict_is_the_models_swap_of_the_crops(tiny_model_dir) -> None:
    """On the CPU the predictor is exactly the model's source rendering of the target crops."""
    predictor = load_predictor(tiny_model_dir, "cpu")
    crops = np.random.default_rng(1).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    images, masks = predictor.predict(crops)
    batch = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
    with torch.inference_mode():
        expected_image, expected_mask = predictor.model.swap(batch)
    assert np.array_equal(images, expected_image.clamp(0, 1).permute(0, 2, 3, 1).numpy())
    assert np.array_equal(masks, expected_mask.clamp(0, 1)[:, 0].numpy())


def test_missing_model_folder_is_a_checkpoint_error(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="no such model folder"):
        load_predictor(tmp_path / "absent", "cpu")
    with pytest.raises(CheckpointError):
        load_predictor(tmp_path, "cpu")  # a folder without config.json
