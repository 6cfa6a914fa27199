"""The trained model as conversion uses it: numpy crops in, source renderings and masks out, batched."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facetransfer.errors import CheckpointError, ConfigError
from facetransfer.faces.align import COVERAGES, Coverage
from facetransfer.models.base import FaceSwapModel

logger = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """ "auto" -> CUDA when available, else CPU; anything else is passed to torch.device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ConfigError(f"unknown device {device!r}; use auto, cpu or cuda[:N]") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but CUDA is not available here; use --device cpu")
    return resolved


@dataclass
class Predictor:
    """A loaded model: `resolution` (crop side in pixels) and `coverage` of the faces it was trained on."""

    model: FaceSwapModel
    resolution: int
    coverage: Coverage
    device: torch.device
    description: str = ""

    def predict(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Render target crops as the source person.

        `crops`: uint8 (N, R, R, 3) RGB. Returns float32 (N, R, R, 3) RGB in [0, 1] and float32 (N, R, R)
        masks in [0, 1].
        """
        if crops.ndim != 4 or crops.shape[1:] != (self.resolution, self.resolution, 3):
            raise ValueError(
                f"expected crops (N, {self.resolution}, {self.resolution}, 3), found {crops.shape}"
            )
        batch = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device, non_blocking=True)
        batch = batch.permute(0, 3, 1, 2).float().div_(255.0)
        autocast: Any = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if self.device.type == "cuda"
            else contextlib.nullcontext()
        )
        with torch.inference_mode():
            with autocast:
                image, mask = self.model.swap(batch)
            image_np = image.float().clamp(0, 1).permute(0, 2, 3, 1).contiguous().cpu().numpy()
            mask_np = mask.float().clamp(0, 1)[:, 0].contiguous().cpu().numpy()
        return image_np, mask_np


def load_predictor(
    model_dir: str | os.PathLike[str], device: str = "auto", which: str = "latest"
) -> Predictor:
    """Load the model of a model folder for conversion. On CUDA it runs under bfloat16 autocast; on
    the CPU in float32 (bfloat16 is emulated, and slower, on CPUs without native support).

    Raises `CheckpointError` (one line) when the folder is not a model folder or has no usable
    checkpoint, and `ConfigError` when its coverage is unknown.
    """
    # Imported here: the training package is heavy and conversion of a bad path should fail fast.
    from facetransfer.modelfolder.config import describe_architecture
    from facetransfer.modelfolder.weights import load_model

    folder = Path(model_dir)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such model folder; pass the folder `facetransfer train` wrote")
    torch_device = resolve_device(device)
    model, config = load_model(folder, torch_device, which)
    coverage: Coverage = "full"
    recorded = config.data.get("coverage")
    if recorded is None:
        logger.warning("%s: the model does not record its coverage; assuming 'full'", folder)
    elif recorded in COVERAGES:
        coverage = recorded
    else:
        raise ConfigError(f"{folder}: model coverage {recorded!r} is not one of {', '.join(COVERAGES)}")
    resolution = int(config.model.resolution)
    description = describe_architecture(config.model.name, config.model.options())
    return Predictor(model, resolution, coverage, torch_device, description)
