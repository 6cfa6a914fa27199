"""A small face-mask network that a user fits on one faceset (like DeepFaceLab's XSeg).

Crops are uint8 (N, S, S, 3) RGB; masks float32 (N, S, S) in [0, 1] (1: face: skin, eyes, brows, lips;
0: hair, glasses frames, hands, objects, background). Most training masks are automatic
(`facetransfer.faces.skin.skin_mask`), a few painted by hand and weighted more.

- `model.py`: `MaskModel`, the U-Net (3-channel crop in, 1-channel logits out);
- `settings.py`: `MaskFitSettings`, the fitting options (`[mask]`);
- `augment.py`: random geometry and colour variations of (crop, mask) batches;
- `fit.py`: `fit_mask_model` and its weighted BCE + soft Dice loss;
- `predict.py`: `predict_masks`;
- `files.py`: `save_mask_model` / `load_mask_model` (safetensors, atomic, versioned);
- `arrays.py`: checks and conversions between the arrays and the network's tensors.

Importing the package loads nothing heavy: each name below is imported from its module when first
used, so a command can declare its flags from `MaskFitSettings` without loading PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facetransfer.maskmodel.files import (
        MASK_MODEL_FORMAT,
        MASK_MODEL_VERSION,
        load_mask_model,
        read_mask_model_metadata,
        save_mask_model,
    )
    from facetransfer.maskmodel.fit import ProgressCallback, fit_mask_model, weighted_mask_loss
    from facetransfer.maskmodel.model import DEFAULT_RESOLUTION, DEFAULT_WIDTHS, MaskModel
    from facetransfer.maskmodel.predict import predict_masks
    from facetransfer.maskmodel.settings import MaskFitSettings

_MODULE_OF = {
    "DEFAULT_RESOLUTION": "model",
    "DEFAULT_WIDTHS": "model",
    "MASK_MODEL_FORMAT": "files",
    "MASK_MODEL_VERSION": "files",
    "MaskFitSettings": "settings",
    "MaskModel": "model",
    "ProgressCallback": "fit",
    "fit_mask_model": "fit",
    "load_mask_model": "files",
    "predict_masks": "predict",
    "read_mask_model_metadata": "files",
    "save_mask_model": "files",
    "weighted_mask_loss": "fit",
}
__all__ = [
    "DEFAULT_RESOLUTION",
    "DEFAULT_WIDTHS",
    "MASK_MODEL_FORMAT",
    "MASK_MODEL_VERSION",
    "MaskFitSettings",
    "MaskModel",
    "ProgressCallback",
    "fit_mask_model",
    "load_mask_model",
    "predict_masks",
    "read_mask_model_metadata",
    "save_mask_model",
    "weighted_mask_loss",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once: later lookups do not come here
    return value
