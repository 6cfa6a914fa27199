"""The options of `swap` (`[swap]`), declared once (see `facetransfer.options`); the stages' own
configs are nested in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from facetransfer.convert.config import ConvertConfig
from facetransfer.extract.config import ExtractConfig
from facetransfer.options import check_options, option
from facetransfer.presets import ModelConfig, PresetName, TrainConfig

MIN_SOURCE_FACES = 50


@dataclass(frozen=True)
class SwapConfig:
    """Options of `run_swap` (`[swap]`), with the stages' own configs nested. `model` and `train`
    left as None are the preset's; the command line always fills them (preset, file, flags)."""

    SECTION: ClassVar[str] = "swap"

    workdir: str | None = option(None, "work folder (not set: OUTPUT's name + .work)", metavar="DIR")
    preset: PresetName | None = option(None, "preset of a new model (not set: gpu128 with CUDA, else cpu)")
    reference: list[str] = option([], "photos of the source person", metavar="IMAGE")
    target_reference: list[str] = option([], "photos of the target person", metavar="IMAGE")
    compare: bool = option(False, "also write OUTPUT.compare.mp4 (target | result)")
    fresh: bool = option(False, "start over (the previous model is kept as model.previous)")
    overwrite: bool = option(False, "replace an OUTPUT that this tool made, but not in this work folder")
    min_source_faces: int = option(
        MIN_SOURCE_FACES, "refuse to train on fewer source faces", minimum=1, maximum=10_000_000
    )
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    model: ModelConfig | None = None
    train: TrainConfig | None = None
    convert: ConvertConfig = field(default_factory=ConvertConfig)

    def __post_init__(self) -> None:
        check_options(self)
