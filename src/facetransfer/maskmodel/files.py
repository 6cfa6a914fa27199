"""A mask model on disk: one safetensors file whose metadata carries the format, its version and the
architecture (resolution, channel widths), so that `load_mask_model` rebuilds the network it holds.

Metadata keys written: `format` ("facetransfer-mask-model"), `version` ("1"), `resolution` ("128"),
`widths` ("16,24,32,48"), and whatever the caller adds (its keys cannot replace these).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from facetransfer.errors import CheckpointError
from facetransfer.fsutil import atomic_path
from facetransfer.maskmodel.model import MaskModel

logger = logging.getLogger(__name__)

MASK_MODEL_FORMAT = "facetransfer-mask-model"
MASK_MODEL_VERSION = 1
_REFIT = "fit a new one (facetransfer mask FACESET --train)"


def mask_model_metadata(model: MaskModel) -> dict[str, str]:
    """The metadata that identifies the file and rebuilds `model`'s architecture."""
    return {
        "format": MASK_MODEL_FORMAT,
        "version": str(MASK_MODEL_VERSION),
        "resolution": str(model.resolution),
        "widths": ",".join(str(width) for width in model.widths),
    }


def save_mask_model(model: MaskModel, path: Path, metadata: dict[str, str]) -> None:
    """Write `model`'s weights (CPU, contiguous) and `metadata` (str to str: e.g. the faceset, the
    settings, the number of faces) to a safetensors file at `path`, atomically: a temporary file in
    the same folder, fsynced, renamed over `path`; a failure leaves `path` as it was."""
    if not all(isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()):
        raise TypeError("mask model metadata must map str to str")
    tensors = {
        name: tensor.detach().to("cpu").contiguous().clone() for name, tensor in model.state_dict().items()
    }
    with atomic_path(path) as temporary:
        save_file(tensors, str(temporary), metadata={**metadata, **mask_model_metadata(model)})
    logger.info("saved the mask model (%s) to %s", model.describe(), path)


def _refuse(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"{path}: {what}; {_REFIT}")


def read_mask_model_metadata(path: Path) -> dict[str, str]:
    """The metadata of a mask model file; `CheckpointError` when the file is unreadable or not one."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = dict(handle.metadata() or {})
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such mask model file; {_REFIT}") from None
    except (OSError, SafetensorError, ValueError) as error:
        raise _refuse(path, f"not a readable mask model ({error})") from None
    _check_identity(path, metadata)
    return metadata


def _check_identity(path: Path, metadata: dict[str, str]) -> None:
    found = metadata.get("format")
    if found != MASK_MODEL_FORMAT:
        raise _refuse(path, f"not a mask model (format {found!r}, expected {MASK_MODEL_FORMAT!r})")
    try:
        version = int(metadata.get("version", ""))
    except ValueError:
        raise _refuse(path, f"mask model of unknown version {metadata.get('version')!r}") from None
    if version > MASK_MODEL_VERSION:
        raise CheckpointError(
            f"{path}: a mask model of version {version}, newer than this facetransfer reads "
            f"({MASK_MODEL_VERSION}); update facetransfer or {_REFIT}"
        )


def load_mask_model(path: Path) -> MaskModel:
    """The `MaskModel` saved at `path` (by `save_mask_model`), on the CPU in eval mode.

    Raises `CheckpointError` (one line naming the file and what to do) when the file is missing, not
    safetensors, another kind of model, of a newer version, or its tensors do not fit the architecture
    its metadata names.
    """
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = dict(handle.metadata() or {})
            _check_identity(path, metadata)
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such mask model file; {_REFIT}") from None
    except (OSError, SafetensorError, ValueError) as error:
        raise _refuse(path, f"not a readable mask model ({error})") from None
    try:
        resolution = int(metadata["resolution"])
        widths = tuple(int(width) for width in metadata["widths"].split(","))
        model = MaskModel(resolution, widths)
    except (KeyError, ValueError) as error:
        raise _refuse(path, f"mask model with an unusable architecture in its metadata ({error})") from None
    expected = model.state_dict()
    if set(tensors) != set(expected) or any(tensors[key].shape != expected[key].shape for key in expected):
        raise _refuse(path, f"its tensors do not match the {model.describe()} its metadata names")
    if not all(torch.isfinite(tensor).all() for tensor in tensors.values() if tensor.is_floating_point()):
        raise _refuse(path, "mask model with non-finite weights (corrupt)")
    model.load_state_dict(tensors)
    return model.eval()
