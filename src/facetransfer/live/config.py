"""The options of `live` (`[live]`, with `[provenance]` nested), declared once (see
`facetransfer.options`). The per-face rendering options are conversion's (`FaceSettings`) and the
file encoding options too (`EncodeOptions`, x264 `ultrafast` by default here); the visible label is on
by default (`--label none` turns it off)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from facetransfer.convert.config import EncodeOptions, FaceSettings
from facetransfer.faces.detectors import DetectorName
from facetransfer.options import check_options, option
from facetransfer.provenance.config import ProvenanceConfig

LIVE_LABEL = "DEEPFAKE - AI-generated face"
"""The visible label of live output unless the user sets another (or `--label none`)."""

Runtime = Literal["onnxruntime", "pytorch"]


def _live_provenance() -> ProvenanceConfig:
    return ProvenanceConfig(label=LIVE_LABEL)


def _live_encoding() -> EncodeOptions:
    # the file sink must keep up live: at 720p on 2 cores x264 "ultrafast" took 20 ms a frame where
    # "veryfast" took 38 (and the swap ran at 20 fps against 16.5, p95 latency 87 ms against 140-150)
    return EncodeOptions(crf=20, encoder_preset="ultrafast")


@dataclass(frozen=True)
class LiveConfig:
    """Options of `run_live`."""

    SECTION: ClassVar[str] = "live"

    input: str = option(
        "0", "camera index (0, 1 ...), video file, or stream URL (rtsp://, http://, ...)", metavar="SOURCE"
    )
    output: str = option("window", "window, virtual-camera, or a video file (.mp4/.mkv/.mov)", metavar="SINK")
    benchmark: bool = option(
        False, "read a video as fast as the swap goes (every frame, none dropped) instead of in real time"
    )
    seconds: float | None = option(
        None,
        "stop after this many seconds (not set: at the end of a video, or Ctrl-C)",
        unit="s",
        minimum=0.1,
    )
    runtime: Runtime = option(
        "onnxruntime", "run a model folder with onnxruntime (exported on the fly) or PyTorch"
    )
    checkpoint: str = option("latest", "latest, best, or a checkpoint folder name", metavar="NAME")
    threads: int = option(1, "CPU threads for the model (0: the runtime's default)", minimum=0, maximum=1024)
    detector: DetectorName = option("mediapipe", "face detector backend")
    redetect_every: int = option(
        5, "run the detector every N frames (the mesh tracks the face between)", minimum=1, maximum=10_000
    )
    all_faces: bool = option(False, "swap every face found, not only the largest")
    smooth: float = option(0.5, "temporal smoothing of landmarks (0: off)", minimum=0.0, maximum=1.0)
    face: FaceSettings = field(default_factory=FaceSettings)
    encode: EncodeOptions = field(default_factory=_live_encoding)
    stats_every_s: float = option(
        1.0, "print the fps and latency line this often", unit="s", minimum=0.1, maximum=3600.0
    )
    overwrite: bool = option(False, "replace an output file this tool made")
    provenance: ProvenanceConfig = field(default_factory=_live_provenance)

    def __post_init__(self) -> None:
        check_options(self)
