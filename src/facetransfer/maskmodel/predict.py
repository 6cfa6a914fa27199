"""A fitted mask model applied to face crops (`predict_masks`)."""

from __future__ import annotations

import numpy as np
import torch

from facetransfer.maskmodel.arrays import check_crops, images_to_tensor, logits_to_masks, resize_crops
from facetransfer.maskmodel.model import MaskModel, fused_for_inference


def predict_masks(model: MaskModel, crops: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """The face masks of `crops` as the model sees them.

    Args:
        model: a fitted `MaskModel` (left in the mode it was in; the prediction runs on an eval-mode
            copy with the norms folded into the convolutions, without gradients).
        crops: uint8 (N, S, S, 3) RGB aligned face crops, any S; resized to the model's resolution.
        batch_size: faces per forward pass (memory against speed).

    Returns float32 (N, S, S) in [0, 1] (1: face), at the crops' own size (the network's half-size
    logits are upsampled bilinearly to S before the sigmoid).
    """
    check_crops(crops)
    if batch_size < 1:
        raise ValueError(f"expected a batch size of at least 1, found {batch_size}")
    side = crops.shape[1]
    network = fused_for_inference(model)
    device = next(network.parameters()).device
    result = np.empty((crops.shape[0], side, side), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, crops.shape[0], batch_size):
            chunk = resize_crops(crops[start : start + batch_size], model.resolution)
            logits = network.half_size_logits(images_to_tensor(chunk).to(device)).float().cpu()
            result[start : start + batch_size] = logits_to_masks(logits, side)
    return result
