"""What an evaluation holds: its options, the per-frame metrics, the worst-frame thumbnails, and the
`metrics.json` payload (documented in docs/EVALUATE.md)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from facetransfer import __version__
from facetransfer.evaluate.config import EvaluateConfig
from facetransfer.evaluate.stats import share, summarize
from facetransfer.faces.identity import SAME_PERSON_DISTANCE

EVALUATION_FORMAT = "facetransfer-evaluation"
EVALUATION_VERSION = 1
THUMB_PX = 192
# With `identity_every` unset, at most about this many frames are embedded.
IDENTITY_FRAMES = 150

# Per-frame metric keys that get a summary (mean, median, p90), in report order.
SUMMARY_KEYS: tuple[str, ...] = (
    "identity_to_source",
    "identity_to_target",
    "pose_error_deg",
    "yaw_error_deg",
    "pitch_error_deg",
    "roll_error_deg",
    "expression_error",
    "detail_ratio",
    "flicker_warp_output",
    "flicker_warp_target",
    "flicker_warp_excess",
    "flicker_mad_output",
    "flicker_mad_target",
    "flicker_mad_excess",
    "seam_color",
    "seam_gradient_output",
    "seam_gradient_target",
    "seam_gradient_excess",
    "forehead_color",
)


@dataclass
class FrameMetrics:
    """Measures of one frame. Every metric is None when it could not be measured on this frame
    (no target face, no output face, first frame or a scene cut for flicker, identity skipped)."""

    frame: int
    target_face: bool = False
    output_face: bool | None = None  # None when the target had no (detectable) face
    identity_to_source: float | None = None
    identity_to_target: float | None = None
    identity_nearest: str | None = None
    yaw_error_deg: float | None = None
    pitch_error_deg: float | None = None
    roll_error_deg: float | None = None
    pose_error_deg: float | None = None
    expression_error: float | None = None
    detail_ratio: float | None = None  # fine detail of the output's inner face over the target's
    flicker_mad_output: float | None = None
    flicker_mad_target: float | None = None
    flicker_mad_excess: float | None = None
    flicker_warp_output: float | None = None
    flicker_warp_target: float | None = None
    flicker_warp_excess: float | None = None
    seam_color: float | None = None
    seam_gradient_output: float | None = None
    seam_gradient_target: float | None = None
    seam_gradient_excess: float | None = None
    forehead_color: float | None = None  # Delta-E of the lower forehead, output against target

    def to_json(self) -> dict[str, Any]:
        payload = asdict(self)
        for key, value in payload.items():
            if isinstance(value, float):
                payload[key] = round(value, 5) if math.isfinite(value) else None
        return payload


@dataclass(order=True)
class WorstFrame:
    """A thumbnail of a bad frame for the report: the output's face with the target's inset."""

    value: float
    frame: int
    image: np.ndarray = field(compare=False)


def retrieval_references(gallery_people: int) -> str:
    """What identity retrieval compared each output face with, in words for the report."""
    if gallery_people == 0:
        return "source and target only (no --gallery)"
    return f"source, target and {gallery_people} gallery {'person' if gallery_people == 1 else 'people'}"


@dataclass
class Evaluation:
    """What `evaluate_swap` measured. `to_json()` is the `metrics.json` payload (documented in
    docs/EVALUATE.md); `worst_identity` / `worst_flicker` / `worst_detail` are thumbnails, worst first."""

    output: str
    target: str
    sources: list[str]
    gallery: list[str]
    config: EvaluateConfig
    frames: list[FrameMetrics]
    frame_count: int
    source_faces: int
    seconds: float
    worst_identity: list[WorstFrame] = field(default_factory=list)
    worst_flicker: list[WorstFrame] = field(default_factory=list)
    worst_detail: list[WorstFrame] = field(default_factory=list)  # value: minus the detail ratio

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        return {key: summarize(getattr(frame, key) for frame in self.frames) for key in SUMMARY_KEYS}

    def retrieval(self) -> dict[str, Any]:
        """Shares of the embedded output faces whose nearest reference is the source, the target or
        any gallery person, and what they were compared with."""
        nearest = [frame.identity_nearest for frame in self.frames if frame.identity_nearest is not None]
        return {
            "faces": len(nearest),
            "source": share(name == "source" for name in nearest),
            "target": share(name == "target" for name in nearest),
            "gallery": share(name.startswith("gallery:") for name in nearest),
            "gallery_people": len(self.gallery),
            "compared_with": retrieval_references(len(self.gallery)),
        }

    def faces(self) -> dict[str, Any]:
        with_target = [frame for frame in self.frames if frame.target_face]
        missing = [frame.frame for frame in with_target if frame.output_face is False]
        return {
            "frames_evaluated": len(self.frames),
            "target_faces": len(with_target),
            "output_faces": sum(1 for frame in with_target if frame.output_face),
            "output_missing": len(missing),
            "output_missing_share": share(frame.output_face is False for frame in with_target),
            "missing_frames": missing,
        }

    def to_json(self) -> dict[str, Any]:
        to_source = [f.identity_to_source for f in self.frames if f.identity_to_source is not None]
        return {
            "format": EVALUATION_FORMAT,
            "version": EVALUATION_VERSION,
            "output": self.output,
            "target": self.target,
            "sources": self.sources,
            "gallery": self.gallery,
            "options": asdict(self.config),
            "frame_count": self.frame_count,
            "source_faces": self.source_faces,
            "faces": self.faces(),
            "retrieval": self.retrieval(),
            "identity_same_person_share": share(d < SAME_PERSON_DISTANCE for d in to_source),
            "summary": self.summary(),
            "per_frame": [frame.to_json() for frame in self.frames],
            "tool_version": __version__,
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(self.seconds, 3),
        }
