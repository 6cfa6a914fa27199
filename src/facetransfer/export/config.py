"""The options of `export` (`[export]`), declared once (see `facetransfer.options`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

from facetransfer.options import check_options, option

ExportFormat = Literal["onnx", "dfm"]
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)
Precision = Literal["fp32", "fp16"]

# The largest difference from PyTorch that an export may show on the check crops (values in [0, 1]).
TOLERANCE = {"fp32": 1e-3, "fp16": 1e-2}


@dataclass(frozen=True)
class ExportConfig:
    """Options of `export_model`."""

    SECTION: ClassVar[str] = "export"

    format: ExportFormat = option(
        "onnx", "onnx (the project's layout) or dfm (DeepFaceLive / FaceFusion deep_swapper)"
    )
    precision: Precision = option(
        "fp32", "weights and arithmetic: fp32, or fp16 (half the size; inputs and outputs stay float32)"
    )
    checkpoint: str = option("latest", "latest, best, or a checkpoint folder name", metavar="NAME")
    check_crops: int = option(
        8, "random crops on which the export is compared with PyTorch", minimum=1, maximum=256
    )
    overwrite: bool = option(False, "replace an export this tool made")

    def __post_init__(self) -> None:
        check_options(self)
