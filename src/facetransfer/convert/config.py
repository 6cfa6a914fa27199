"""The options of conversion (`[convert]`, with `[provenance]` nested), declared once (see
`facetransfer.options`): how each face is rendered back (`FaceSettings`), how videos are encoded
(`EncodeOptions`), and the run (`ConvertConfig`, which holds both)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from facetransfer.convert.blend import BlendMode, MaskKind
from facetransfer.convert.color import DEFAULT_COLOR_MODE, ColorMode
from facetransfer.faces.cuts import DEFAULT_CUT_THRESHOLD
from facetransfer.faces.detectors import DetectorName
from facetransfer.media.writer import VideoCodec
from facetransfer.options import check_options, option
from facetransfer.provenance.config import ProvenanceConfig

AUTO_ERODE_FRACTION = 0.03
AUTO_BLUR_FRACTION = 0.10
MAX_SHAPING_PX = 1000
"""Largest erode/blur: more than any face on a 4K frame needs, and far from a 40 GB kernel."""

EncoderPreset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]


@dataclass(frozen=True)
class FaceSettings:
    """How each face is rendered back. `erode_px` / `blur_px` are output pixels; None picks them from
    the face's size (`AUTO_ERODE_FRACTION`, `AUTO_BLUR_FRACTION`), so small and large faces look alike."""

    mask: MaskKind = option(
        "skin*learned",
        "blend mask: the target's face pixels (skin: its hair, glasses and hands stay in front; or the "
        "landmark hull), times the model's learned mask",
    )
    color: ColorMode = option(DEFAULT_COLOR_MODE, "colour transfer inside the mask")
    blend: BlendMode = option("alpha", "alpha, or poisson (seamless clone)")
    erode_px: int | None = option(
        None,
        "shrink the mask (negative grows); not set: 3% of the face",
        unit="px",
        minimum=-MAX_SHAPING_PX,
        maximum=MAX_SHAPING_PX,
    )
    blur_px: int | None = option(
        None, "feather the mask edge; not set: 10% of the face", unit="px", minimum=0, maximum=MAX_SHAPING_PX
    )
    face_scale: float = option(1.0, "scale the swapped face about its centre", minimum=0.5, maximum=2.0)
    sharpen: float = option(0.0, "unsharp-mask amount for the face (0: off)", minimum=0.0, maximum=5.0)

    def __post_init__(self) -> None:
        check_options(self)

    def shaping_px(self, face_size: float) -> tuple[int, int]:
        """(erode, blur) in output pixels for a face of `face_size` pixels."""
        erode = self.erode_px if self.erode_px is not None else round(AUTO_ERODE_FRACTION * face_size)
        blur = self.blur_px if self.blur_px is not None else max(1, round(AUTO_BLUR_FRACTION * face_size))
        return erode, blur


@dataclass(frozen=True)
class EncodeOptions:
    """How videos are encoded (the output and the mask video)."""

    codec: VideoCodec = option("h264", "video codec")
    crf: int = option(
        18, "constant rate factor (18: visually lossless; lower is larger)", minimum=0, maximum=51
    )
    encoder_preset: EncoderPreset = option("medium", "x264/x265 speed preset (slower: smaller files)")

    def __post_init__(self) -> None:
        check_options(self)


@dataclass(frozen=True)
class ConvertConfig:
    """Options of `convert_video`."""

    SECTION: ClassVar[str] = "convert"

    faceset: str | None = option(
        None, "the target's faceset (landmarks and tracks); not set: extract now", metavar="DIR"
    )
    all_faces: bool = option(False, "swap every face, not only the target person's")
    detector: DetectorName = option("mediapipe", "detector for extraction on the fly")
    smooth: float = option(0.5, "temporal smoothing of landmarks (0: off)", minimum=0.0, maximum=1.0)
    cut_threshold: float = option(
        DEFAULT_CUT_THRESHOLD, "colour-histogram jump that counts as a scene cut", minimum=0.0, maximum=1.0
    )
    face: FaceSettings = field(default_factory=FaceSettings)
    batch_size: int = option(16, "faces per model call", minimum=1, maximum=4096)
    device: str = option("auto", "auto, cpu, cuda, cuda:1 ...", metavar="DEVICE")
    threads: int = option(0, "CPU threads for the model (0: half the cores)", minimum=0, maximum=1024)
    checkpoint: str = option("latest", "latest, best, or a checkpoint folder name", metavar="NAME")
    queue_frames: int = option(32, "frames buffered between the stages", minimum=2, maximum=4096)
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    frames_dir: str | None = option(None, "also write every output frame as PNG here", metavar="DIR")
    mask_video: str | None = option(
        None, "also write the blend mask as a video (for compositing)", metavar="PATH"
    )
    overwrite: bool = option(False, "replace outputs this tool made")
    provenance: ProvenanceConfig = field(default_factory=ProvenanceConfig)

    def __post_init__(self) -> None:
        check_options(self)
