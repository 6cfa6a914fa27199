"""The options of extraction (`[extract]`), declared once (see `facetransfer.options`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from facetransfer.errors import ConfigError
from facetransfer.faces.align import Coverage
from facetransfer.faces.detectors import DetectorName
from facetransfer.faces.identity import SAME_PERSON_DISTANCE
from facetransfer.options import check_options, option

ImageFormat = Literal["png", "jpg"]


@dataclass(frozen=True)
class ExtractConfig:
    """Options of `extract_faceset`. Sizes in pixels, times in seconds."""

    SECTION: ClassVar[str] = "extract"

    crop_size: int = option(256, "side of the square aligned face crops", unit="px", minimum=32, maximum=2048)
    coverage: Coverage = option("full", "how much of the head a crop holds")
    detector: DetectorName = option("mediapipe", "face detector backend")
    every_n: int = option(1, "use every N-th frame", minimum=1, maximum=100_000)
    start_s: float | None = option(None, "start time in the video", unit="s", minimum=0.0)
    end_s: float | None = option(None, "end time in the video", unit="s", minimum=0.0)
    reference: list[str] = option(
        [], "photos of the person to keep (default: the main person)", metavar="IMAGE"
    )
    all_faces: bool = option(False, "keep every face, not only one person's")
    min_size: float = option(24.0, "drop faces smaller than this", unit="px", minimum=0.0, maximum=100_000.0)
    min_score: float = option(0.5, "drop detections scored below this", minimum=0.0, maximum=1.0)
    max_blur: float = option(
        1.0, "drop faces blurrier than this (0 sharp .. 1 any)", minimum=0.0, maximum=1.0
    )
    redetect_every: int = option(
        5, "run the detector every N frames (tracking between)", minimum=1, maximum=10_000
    )
    min_verify_score: float = option(
        0.5, "RetinaFace score that confirms a new face (0 turns the check off)", minimum=0.0, maximum=1.0
    )
    identity_threshold: float = option(
        SAME_PERSON_DISTANCE, "largest embedding distance to the reference photos", minimum=0.0, maximum=2.0
    )
    image_format: ImageFormat = option("png", "file format of the crops")
    masks: bool = option(True, "store a skin mask of every face (masks/, see `facetransfer mask`)")
    anonymous: bool = option(False, "record only the file names of the sources, not their paths")
    debug_dir: str | None = option(None, "write frames with boxes and landmarks here", metavar="DIR")
    overwrite: bool = option(False, "replace a faceset this tool made at the output")

    def __post_init__(self) -> None:
        check_options(self)
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ConfigError(f"--end-s ({self.end_s}) must come after --start-s ({self.start_s})")
