"""The options of `evaluate` (`[evaluate]`), declared once (see `facetransfer.options`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from facetransfer.faces.detectors import DetectorName
from facetransfer.options import check_options, option


@dataclass(frozen=True)
class EvaluateConfig:
    """Options of `evaluate_swap`. Without a gallery, identity retrieval compares the source and the
    target only (the report says so)."""

    SECTION: ClassVar[str] = "evaluate"

    max_frames: int | None = option(
        None, "evaluate at most the first N frames", minimum=1, maximum=10_000_000
    )
    every_n: int = option(
        1, "evaluate one frame in N (flicker is then measured across N frames)", minimum=1, maximum=10_000
    )
    detector: DetectorName = option("mediapipe", "face detector backend")
    identity: bool = option(True, "measure identity (the slowest part: 0.1-0.2 s per face on a CPU)")
    identity_every: int | None = option(
        None,
        "embed the faces of one evaluated frame in N (not set: all, thinned to ~150)",
        minimum=1,
        maximum=10_000,
    )
    source_faces: int = option(
        30, "source faces averaged into the source identity", minimum=1, maximum=100_000
    )
    gallery: list[str] = option(
        [],
        "people who are neither source nor target, for identity retrieval: images, folders, or "
        "folders of person folders",
        metavar="PATH",
    )
    gallery_per_person: int = option(5, "images embedded per gallery person", minimum=1, maximum=1000)
    gallery_cache: bool = option(True, "keep gallery embeddings in the user's cache folder")
    worst_frames: int = option(8, "worst frames shown per metric in the report", minimum=1, maximum=100)

    def __post_init__(self) -> None:
        check_options(self)
