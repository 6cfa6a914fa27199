"""Between the faceset's arrays and the network's tensors: checking, resizing, converting.

Crops are uint8 (N, S, S, 3) RGB; masks float32 (N, S, S) in [0, 1]; the network sees float32
(N, 3, R, R) and (N, 1, R, R) in [0, 1], R its resolution.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch


def check_crops(crops: np.ndarray) -> None:
    """Raise ValueError unless `crops` is uint8 (N, S, S, 3) with N >= 1."""
    if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[3] != 3 or crops.shape[1] != crops.shape[2]:
        raise ValueError(f"expected uint8 crops of shape (N, S, S, 3), found {crops.dtype} {crops.shape}")
    if crops.shape[0] == 0:
        raise ValueError("expected at least one crop, found none")


def check_training_arrays(crops: np.ndarray, masks: np.ndarray, weights: np.ndarray) -> None:
    """Raise ValueError unless crops, masks and weights describe the same faces (see the module)."""
    check_crops(crops)
    count, size = crops.shape[0], crops.shape[1]
    if masks.shape != (count, size, size):
        raise ValueError(f"expected masks of shape {(count, size, size)} for the crops, found {masks.shape}")
    if not np.issubdtype(masks.dtype, np.floating) or not np.all((masks >= 0.0) & (masks <= 1.0)):
        raise ValueError("expected float masks in [0, 1] (NaN is not allowed)")
    if weights.shape != (count,):
        raise ValueError(f"expected one weight per face, shape {(count,)}, found {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or float(weights.sum()) <= 0.0:
        raise ValueError("expected finite weights >= 0 with a positive sum")


def _resize(image: np.ndarray, side: int) -> np.ndarray:
    if image.shape[0] == side:
        return image
    # area averaging when shrinking keeps thin things (a strand of hair) from aliasing away
    interpolation = cv2.INTER_AREA if image.shape[0] > side else cv2.INTER_LINEAR
    return cv2.resize(image, (side, side), interpolation=interpolation)


def resize_crops(crops: np.ndarray, side: int) -> np.ndarray:
    """uint8 (N, S, S, 3) -> uint8 (N, side, side, 3)."""
    return np.stack([_resize(crop, side) for crop in crops])


def resize_masks(masks: np.ndarray, side: int) -> np.ndarray:
    """float (N, S, S) in [0, 1] -> float32 (N, side, side) in [0, 1]."""
    return np.stack([np.clip(_resize(mask.astype(np.float32), side), 0.0, 1.0) for mask in masks])


def images_to_tensor(crops: np.ndarray) -> torch.Tensor:
    """uint8 (N, R, R, 3) -> float32 (N, 3, R, R) in [0, 1], channels-last in memory (faster CPU
    convolutions)."""
    tensor = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255.0)
    return tensor.contiguous(memory_format=torch.channels_last)


def logits_to_masks(logits: torch.Tensor, side: int) -> np.ndarray:
    """float32 logits (N, 1, R, R) -> float32 numpy masks (N, side, side) in [0, 1]. The logits are
    upsampled (bilinear) before the sigmoid, which keeps the mask's edge sharp at the crop's size."""
    if logits.shape[-1] != side:
        logits = torch.nn.functional.interpolate(
            logits, size=(side, side), mode="bilinear", align_corners=False
        )
    return torch.sigmoid(logits[:, 0]).contiguous().numpy().astype(np.float32, copy=False)
