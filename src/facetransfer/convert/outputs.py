"""Everything a conversion writes, each under a temporary name until the whole conversion succeeded:
the output (video, image or image folder), and optionally the mask video and the PNG frames folder."""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facetransfer.convert.config import EncodeOptions
from facetransfer.errors import ConfigError, OutputError
from facetransfer.fsutil import atomic_dir, atomic_path, write_json_atomic
from facetransfer.media import IMAGE_EXTENSIONS, OUTPUT_FORMATS, Frame, MediaInfo, VideoWriter, list_images
from facetransfer.provenance import (
    LabelPainter,
    ProvenanceConfig,
    Watermarker,
    add_image_text,
    can_sign,
    container_metadata,
    new_payload,
    report_entry,
    resolve_credentials,
    sign_file,
    tag_image_file,
)
from facetransfer.safety import (
    OUTPUT_MARKER,
    check_output,
    is_output_folder,
    is_tool_file,
    output_marker,
    owner_tags,
)

# A mask video of an image folder (which has no frame rate) is written at this rate.
FOLDER_FPS = 25.0


logger = logging.getLogger(__name__)


def same_file(first: str | os.PathLike[str], second: str | os.PathLike[str]) -> bool:
    try:
        return Path(first).resolve() == Path(second).resolve()
    except OSError:
        return False


def check_output_path(
    path: Path, inputs: list[Path], overwrite: bool, what: str, folder: bool = False
) -> None:
    """Refuse an output that would replace an input or something this tool did not make (see
    `facetransfer.safety`), or that lies where nothing can be written."""
    check_output(
        path, inputs, overwrite=overwrite, is_ours=is_output_folder if folder else is_tool_file, what=what
    )
    parent = path.resolve().parent
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(
            f"{path}: cannot write the {what} there ({existing} is not a writable folder); "
            "choose another path"
        )


def check_signer(provenance: ProvenanceConfig, output: Path) -> None:
    """Before any work: the signing certificate and key load (a missing or broken one would otherwise
    fail only after the whole video was written)."""
    if provenance.enabled and can_sign(output):
        resolve_credentials(provenance)


def output_kind(info: MediaInfo, output: Path) -> str:
    suffix = output.suffix.lower()
    if info.kind == "video":
        if suffix not in OUTPUT_FORMATS:
            raise ConfigError(
                f"{output}: a video output must end in one of {', '.join(sorted(OUTPUT_FORMATS))}"
            )
        return "video"
    if info.kind == "image":
        if suffix not in IMAGE_EXTENSIONS:
            raise ConfigError(
                f"{output}: the target is an image; name an image output "
                f"({', '.join(sorted(IMAGE_EXTENSIONS))})"
            )
        return "image"
    if suffix:
        raise ConfigError(f"{output}: the target is an image folder; name an output folder (no file suffix)")
    return "folder"


def _encode_image(path: Path, image_rgb: np.ndarray) -> bytes:
    suffix = path.suffix.lower()
    # PNG at compression 1: several times faster than the default 3, a few per cent larger.
    params = (
        [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix in (".jpg", ".jpeg") else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    )
    ok, encoded = cv2.imencode(suffix, cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise OutputError(f"{path}: OpenCV cannot encode '{suffix}' images; use .png or .jpg")
    data = encoded.tobytes()
    return add_image_text(data, owner_tags()) or data


class Outputs:
    """Every file the conversion writes, each under a temporary name until `commit` renames them all
    into place; `abort` removes them all.

    `kind`: "video", "image" or "folder" (see `output_kind`); `mask_video`: also write the blend weight
    as a grey video; `frames_dir`: also write every output frame as a PNG.
    """

    def __init__(
        self,
        target: Path,
        info: MediaInfo,
        output: Path,
        kind: str,
        encode: EncodeOptions,
        mask_video: str | None = None,
        frames_dir: str | None = None,
        overwrite: bool = False,
        provenance: ProvenanceConfig | None = None,
    ) -> None:
        self.kind = kind
        self.output = output
        self.target = target
        self.provenance = provenance or ProvenanceConfig()
        self.payload: int | None = None
        self.signing: dict[str, Any] | None = None
        self.marker: Watermarker | None = None
        self.label: LabelPainter | None = None
        width, height = info.display_width, info.display_height
        metadata: dict[str, str] | None = None
        if self.provenance.enabled:
            # every output frame carries the watermark (the face region alone is too small to read)
            self.payload = new_payload()
            self.marker = Watermarker(width, height, self.payload, self.provenance.watermark_strength)
            metadata = container_metadata(self.payload)
        if self.provenance.label:
            self.label = LabelPainter(
                width,
                height,
                self.provenance.label,
                self.provenance.label_corner,
                self.provenance.label_opacity,
            )
        self.stack = ExitStack()
        self.video: VideoWriter | None = None
        self.mask_writer: VideoWriter | None = None
        self.image_path: Path | None = None
        self.folder: Path | None = None
        self.frames_dir: Path | None = None
        self.folder_names = [path.name for path in list_images(target)] if kind == "folder" else []
        codec: dict[str, Any] = {"codec": encode.codec, "crf": encode.crf, "preset": encode.encoder_preset}
        try:
            if kind == "video":
                self.video = VideoWriter.like(output, info, metadata=metadata, **codec)
            elif kind == "image":
                self.image_path = self.stack.enter_context(atomic_path(output, suffix=output.suffix))
            else:
                self.folder = self.stack.enter_context(atomic_dir(output, overwrite=overwrite))
                write_json_atomic(self.folder / OUTPUT_MARKER, output_marker())
            if mask_video and info.kind == "video":
                self.mask_writer = VideoWriter.like(mask_video, info, audio_from=None, **codec)
            elif mask_video:
                self.mask_writer = VideoWriter(
                    mask_video, width=info.display_width, height=info.display_height, fps=FOLDER_FPS, **codec
                )
            if frames_dir:
                self.frames_dir = self.stack.enter_context(atomic_dir(frames_dir, overwrite=overwrite))
                write_json_atomic(self.frames_dir / OUTPUT_MARKER, output_marker())
        except BaseException as error:
            self.abort(error)
            raise

    def mark(self, image: np.ndarray) -> np.ndarray:
        """The frame with the invisible watermark and the visible label, when they are on. Called
        from the blend stage, so the mark's cost overlaps the encoder (the bottleneck at 1080p)."""
        if self.marker is not None:
            image = self.marker.embed(image)
        if self.label is not None:
            image = self.label.apply(image)  # on top of the mark
        return image

    def write(self, frame: Frame, image: np.ndarray, alpha: np.ndarray | None) -> None:
        """Write one finished frame (already marked by `mark`) to every output."""
        if self.video is not None:
            self.video.write(image, frame.timestamp_s)
        elif self.image_path is not None:
            self.image_path.write_bytes(_encode_image(self.output, image))
        elif self.folder is not None:
            name = (
                self.folder_names[frame.index]
                if frame.index < len(self.folder_names)
                else f"{frame.index:06d}.png"
            )
            (self.folder / name).write_bytes(_encode_image(Path(name), image))
        if self.mask_writer is not None:
            grey = (
                np.zeros(image.shape[:2], np.uint8)
                if alpha is None
                else (alpha * 255.0 + 0.5).astype(np.uint8)
            )
            timestamp = frame.timestamp_s if self.video is not None else None
            self.mask_writer.write(cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB), timestamp)
        if self.frames_dir is not None:
            (self.frames_dir / f"frame_{frame.index:06d}.png").write_bytes(
                _encode_image(Path("f.png"), image)
            )

    def commit(self) -> None:
        if self.video is not None:
            self.video.close()
        if self.mask_writer is not None:
            self.mask_writer.close()
        self.stack.close()  # renames the image, the folder and the frames folder into place
        if self.provenance.enabled and self.kind in ("video", "image"):
            if self.kind == "image":
                tag_image_file(self.output, self.payload)
            if can_sign(self.output):
                self.signing = sign_file(self.output, self.target, self.provenance, payload=self.payload)
            else:
                logger.warning(
                    "%s: C2PA cannot sign this format; the watermark and tags are there", self.output
                )

    def provenance_report(self) -> dict[str, Any]:
        return report_entry(self.provenance, self.payload, self.signing)

    def abort(self, error: BaseException) -> None:
        for writer in (self.video, self.mask_writer):
            if writer is not None:
                writer.abort()
        self.stack.__exit__(type(error), error, error.__traceback__)
