"""The options of `facetransfer mask` (`[mask]`), declared once (see `facetransfer.options`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from facetransfer.maskmodel.settings import MaskFitSettings
from facetransfer.options import check_options, option
from facetransfer.presets import MaskMethod


@dataclass(frozen=True)
class MaskConfig:
    """Options of `mask_faceset` (`[mask]`)."""

    SECTION: ClassVar[str] = "mask"

    method: MaskMethod = option("skin", "automatic mask of the faces nobody painted")
    train: bool = option(
        False, "fit a mask model on the painted masks (and the automatic ones) and apply it to every face"
    )
    fit: MaskFitSettings = field(default_factory=MaskFitSettings)

    def __post_init__(self) -> None:
        check_options(self)
