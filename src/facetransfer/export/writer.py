"""`export_model`: a model folder's swap path as an ONNX file (the project's layout, or DeepFaceLab's
DFM layout), checked against PyTorch with onnxruntime before it is renamed into place.

PyTorch 2.13's default exporter (`dynamo=True`) needs `onnxscript`, whose `onnx` releases need
protobuf 5 or later while MediaPipe needs protobuf 4; the TorchScript exporter (`dynamo=False`) needs
only `onnx` (1.18 to 1.21 import with protobuf 4) and writes the same graph for these convolutional
models.
"""

from __future__ import annotations

import io
import logging
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from facetransfer import __version__
from facetransfer.errors import CheckpointError, ConfigError, OutputError
from facetransfer.export.config import TOLERANCE, ExportConfig
from facetransfer.export.runtime import EXPORT_FORMAT_NAME, EXPORT_VERSION, METADATA_PREFIX, open_session
from facetransfer.export.template import DFL_TEMPLATE_NAME, crop_map
from facetransfer.faces.align import COVERAGES, TEMPLATE_NAME, Coverage
from facetransfer.fsutil import atomic_path
from facetransfer.safety import check_output

logger = logging.getLogger(__name__)

# Opsets: DeepFaceLab wrote its DFM files with tf2onnx at opset 12, so DeepFaceLive's and
# FaceFusion's onnxruntime builds read that; the project's own layout uses a newer one.
OPSET = {"onnx": 17, "dfm": 12}


@dataclass
class ExportSummary:
    """What an export wrote, and how far its outputs are from PyTorch's on the check crops."""

    output: str
    format: str
    precision: str
    architecture: str
    resolution: int
    coverage: str
    step: int
    opset: int
    inputs: dict[str, list[Any]]
    outputs: dict[str, list[Any]]
    max_abs_difference: dict[str, float]
    tolerance: float
    size_bytes: int
    seconds: float
    crop_template: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def is_export_file(path: str | os.PathLike[str]) -> bool:
    """True for an ONNX file this tool exported (its metadata says so): the proof `--overwrite` needs."""
    try:
        session = open_session(path)
    except CheckpointError:
        return False
    props = session.get_modelmeta().custom_metadata_map
    return props.get(f"{METADATA_PREFIX}format_name") == EXPORT_FORMAT_NAME


def _checkpoint_step(model_dir: Path, which: str) -> int:
    from facetransfer.modelfolder.checkpoints import latest_checkpoint, read_state
    from facetransfer.modelfolder.config import BEST_DIR, CHECKPOINTS_DIR

    checkpoint = (
        latest_checkpoint(model_dir)
        if which == "latest"
        else model_dir / BEST_DIR
        if which == "best"
        else model_dir / CHECKPOINTS_DIR / which
    )
    if checkpoint is None:
        return 0
    try:
        return int(read_state(checkpoint).step)
    except (CheckpointError, OSError, ValueError):
        return 0


def _check_inputs(model_dir: Path, output: Path, config: ExportConfig) -> None:
    if not model_dir.is_dir():
        raise CheckpointError(
            f"{model_dir}: no such model folder; pass the folder `facetransfer train` wrote"
        )
    wanted = ".dfm" if config.format == "dfm" else ".onnx"
    if output.suffix.lower() != wanted:
        other = "dfm" if config.format == "onnx" else "onnx"
        hint = f"add --format {other}" if output.suffix.lower() == f".{other}" else "rename the output"
        raise ConfigError(
            f"{output}: the {config.format} format is written to a {wanted} file; {hint} "
            f"(or name it *{wanted})"
        )
    check_output(output, [model_dir], overwrite=config.overwrite, is_ours=is_export_file, what="export")
    parent = output.resolve().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"{output}: cannot write there ({parent} is not a writable folder); choose another path"
        )


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError as error:
        raise ConfigError(
            f"export needs the 'onnx' package ({error}); install it with `pip install 'onnx>=1.18,<1.22'`"
        ) from None
    return onnx


def _metadata(
    config: ExportConfig, architecture: str, resolution: int, coverage: Coverage, step: int, description: str
) -> dict[str, str]:
    common = {
        "format_name": EXPORT_FORMAT_NAME,
        "format_version": str(EXPORT_VERSION),
        "format": config.format,
        "precision": config.precision,
        "architecture": architecture,
        "description": description,
        "resolution": str(resolution),
        "step": str(step),
        "tool_version": __version__,
        "coverage": coverage,
        "alignment_template": TEMPLATE_NAME,
    }
    if config.format == "onnx":
        common.update(
            layout="NCHW",
            channels="RGB",
            value_range="0..1",
            input="face: float32 (N, 3, R, R), a target face aligned to alignment_template at coverage",
            outputs="swapped_face: float32 (N, 3, R, R); swapped_mask: float32 (N, 1, R, R)",
        )
    else:
        mapping = crop_map(resolution, coverage)
        shift_x, shift_y = mapping.shift
        common.update(
            layout="NHWC",
            channels="BGR",
            value_range="0..1",
            crop_template=DFL_TEMPLATE_NAME,
            crop_map=f"dfl = {mapping.scale:.6f} * ours + ({shift_x:.4f}, {shift_y:.4f}) px",
        )
    return {METADATA_PREFIX + key: value for key, value in common.items()}


def export_model(
    model_dir: str | os.PathLike[str], output: str | os.PathLike[str], config: ExportConfig | None = None
) -> ExportSummary:
    """Export the swap path of the model in `model_dir` to `output` (`.onnx`, or `.dfm` for
    `config.format == "dfm"`), check it against PyTorch with onnxruntime on `config.check_crops`
    random crops, and rename it into place. Raises a `FacetransferError` (one line) for a missing
    model, a bad output path, or an export further from PyTorch than the tolerance (1e-3 fp32,
    1e-2 fp16); nothing is left at `output` then."""
    import torch

    from facetransfer.export.graphs import (
        DFM_INPUT,
        DFM_OUTPUTS,
        ONNX_INPUT,
        ONNX_OUTPUTS,
        DfmGraph,
        SwapGraph,
    )
    from facetransfer.modelfolder.config import describe_architecture
    from facetransfer.modelfolder.weights import load_model

    config = config or ExportConfig()
    started = time.perf_counter()
    model_path, output_path = Path(model_dir), Path(output)
    _check_inputs(model_path, output_path, config)
    onnx = _import_onnx()
    model, run_config = load_model(model_path, "cpu", config.checkpoint)
    coverage = run_config.data.get("coverage", "full")
    if coverage not in COVERAGES:
        raise CheckpointError(
            f"{model_path}: model coverage {coverage!r} is not one of {', '.join(COVERAGES)}"
        )
    resolution = int(run_config.model.resolution)
    half = config.precision == "fp16"
    step = _checkpoint_step(model_path, config.checkpoint)

    generator = torch.Generator().manual_seed(0)
    output_names: tuple[str, ...]
    if config.format == "onnx":
        reference_graph: torch.nn.Module = SwapGraph(model).eval()
        shape: tuple[int, ...] = (config.check_crops, 3, resolution, resolution)
        input_name, output_names = ONNX_INPUT, ONNX_OUTPUTS
    else:
        reference_graph = DfmGraph(model, coverage).eval()
        shape = (config.check_crops, resolution, resolution, 3)
        input_name, output_names = DFM_INPUT, DFM_OUTPUTS
    crops = torch.rand(shape, generator=generator)
    with torch.inference_mode():
        expected = [tensor.numpy().copy() for tensor in reference_graph(crops)]

    # the exported copy: float16 when asked (the reference above stays float32)
    exported_model, _ = load_model(model_path, "cpu", config.checkpoint)
    graph = (
        SwapGraph(exported_model, half)
        if config.format == "onnx"
        else DfmGraph(exported_model, coverage, half)
    ).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            graph,
            (crops[:1],),
            cast(Any, buffer),  # typed as a path; a binary stream is documented too
            dynamo=False,
            input_names=[input_name],
            output_names=list(output_names),
            dynamic_axes={name: {0: "batch"} for name in (input_name, *output_names)},
            opset_version=OPSET[config.format],
            do_constant_folding=True,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    proto.producer_name = "facetransfer"
    proto.producer_version = __version__
    description = describe_architecture(run_config.model.name, run_config.model.options())
    for key, value in _metadata(
        config, run_config.model.name, resolution, coverage, step, description
    ).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)

    with atomic_path(output_path, suffix=output_path.suffix) as temporary:
        temporary.write_bytes(proto.SerializeToString())
        session = open_session(temporary)
        actual = session.run(None, {input_name: crops.numpy()})
        differences = {
            name: float(np.abs(found - wanted).max())
            for name, found, wanted in zip(output_names, actual, expected, strict=True)
        }
        tolerance = TOLERANCE[config.precision]
        worst = max(differences.values())
        if not np.isfinite(worst) or worst > tolerance:
            raise CheckpointError(
                f"{output_path}: the exported model differs from PyTorch by {worst:.2e} (more than "
                f"{tolerance:g}); nothing was written. Try --precision fp32"
            )
        inputs = {item.name: list(item.shape) for item in session.get_inputs()}
        outputs = {item.name: list(item.shape) for item in session.get_outputs()}
        size = temporary.stat().st_size

    summary = ExportSummary(
        output=str(output_path),
        format=config.format,
        precision=config.precision,
        architecture=run_config.model.name,
        resolution=resolution,
        coverage=coverage,
        step=step,
        opset=OPSET[config.format],
        inputs=inputs,
        outputs=outputs,
        max_abs_difference={name: float(f"{value:.3g}") for name, value in differences.items()},
        tolerance=tolerance,
        size_bytes=size,
        seconds=round(time.perf_counter() - started, 2),
        crop_template=DFL_TEMPLATE_NAME if config.format == "dfm" else f"{TEMPLATE_NAME} ({coverage})",
    )
    logger.info("exported %s (%s, %s) to %s", model_path, config.format, config.precision, output_path)
    return summary
