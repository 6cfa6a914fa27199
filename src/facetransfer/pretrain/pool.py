"""The pool of generic faces a base model is pretrained on: every face of many people, from any mix
of photo folders (searched recursively), single photos, videos and facesets, in one faceset.

Photos are unrelated to each other, so each one is searched on its own (no tracking across them),
after padding by `pad_fraction` of its size with its edge pixels (0.5: 99% of UTKFace crops
found, 97% with 0.3): tightly cropped datasets such as
UTKFace's fill the frame with the face, and the detectors miss a face that touches the border. The
landmarks and the affine matrices are stored in the photo's own pixels. Videos are read every
`video_every_n` frames with tracking, as `extract` reads them. Facesets are taken as they are (crops
resized to the pool's size when they differ). No identity filter: every face is kept.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from facetransfer import __version__
from facetransfer.errors import ConfigError, MediaError, NoFaceError
from facetransfer.extract.config import ExtractConfig
from facetransfer.extract.pipeline import aligned_face, recorded_source_path
from facetransfer.faces.align import TEMPLATE_NAME
from facetransfer.faces.detectors import create_detector
from facetransfer.faces.finder import FaceFinder
from facetransfer.faces.landmarker import MeshLandmarker
from facetransfer.faces.verify import FaceVerifier
from facetransfer.faceset.io import FacesetWriter, check_faceset_output, is_faceset, open_faceset
from facetransfer.faceset.schema import FaceRecord, FacesetManifest
from facetransfer.fsutil import atomic_dir
from facetransfer.media import IMAGE_EXTENSIONS, probe, read_frames, read_image
from facetransfer.media.reader import natural_sort_key

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""progress(items_done, faces_kept)"""


@dataclass(frozen=True)
class PoolSummary:
    output: str
    faces: int
    photos: int
    frames: int
    facesets: int
    dropped: dict[str, int]
    seconds: float


def photos_under(folder: Path) -> list[Path]:
    """Image files in `folder` and its subfolders (no hidden ones), in natural order of their path."""
    found = [
        path
        for path in folder.rglob("*")
        if path.is_file()
        and path.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    return sorted(found, key=lambda path: natural_sort_key(str(path.relative_to(folder))))


def pad_photo(image: np.ndarray, pad_fraction: float) -> tuple[np.ndarray, int]:
    """The photo padded on every side by `pad_fraction` of its larger side (edge pixels repeated),
    and the padding in pixels."""
    pad = round(pad_fraction * max(image.shape[:2]))
    if pad == 0:
        return image, 0
    return cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE), pad


def unpad_record(record: FaceRecord, pad: int) -> None:
    """Move a record found in a photo padded by `pad` pixels back to the photo's own pixels."""
    if pad == 0:
        return
    shift = np.array([pad, pad], dtype=np.float64)
    record.landmarks_frame = (record.landmarks_frame.astype(np.float64) - shift).astype(np.float32)
    frame_to_crop = record.frame_to_crop.astype(np.float64).copy()
    frame_to_crop[:, 2] += frame_to_crop[:, :2] @ shift  # crop = M (x + pad) = M x + M pad
    record.frame_to_crop = frame_to_crop.astype(np.float32)
    crop_to_frame = record.crop_to_frame.astype(np.float64).copy()
    crop_to_frame[:, 2] -= shift
    record.crop_to_frame = crop_to_frame.astype(np.float32)
    record.bbox_frame = [round(value - pad, 2) for value in record.bbox_frame]


def _resized_record(record: FaceRecord, scale: float) -> FaceRecord:
    """`record` for a crop `scale` times the size (the frame side of the affines unchanged)."""
    frame_to_crop = record.frame_to_crop.astype(np.float64) * scale
    crop_to_frame = record.crop_to_frame.astype(np.float64).copy()
    crop_to_frame[:, :2] /= scale
    record.frame_to_crop = frame_to_crop.astype(np.float32)
    record.crop_to_frame = crop_to_frame.astype(np.float32)
    return record


def pool_faces(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | Path,
    config: ExtractConfig | None = None,
    *,
    pad_fraction: float = 0.5,
    video_every_n: int = 5,
    progress: Progress | None = None,
) -> PoolSummary:
    """Every face in `inputs` (photo folders, photos, videos, facesets) into one faceset at `output`,
    with `config`'s crop size, coverage and quality filters (its identity options are ignored).
    Raises `MediaError` for a missing or unreadable input before any work, `NoFaceError` when no
    face is found; on any error nothing is left at `output`."""
    config = config or ExtractConfig(image_format="jpg")
    started = time.perf_counter()
    output = Path(output)
    paths = [Path(path) for path in inputs]
    if not paths:
        raise ConfigError("no inputs: name photo folders, videos or facesets of many people")
    check_faceset_output(output, paths, config.overwrite)
    plan = [_plan_input(path) for path in paths]  # every input checked before any work
    for path, (kind, _items) in zip(paths, plan, strict=True):
        if kind == "faceset":
            coverage = open_faceset(path).manifest.coverage
            if coverage != config.coverage:
                raise ConfigError(
                    f"{path}: its crops cover {coverage!r}, the pool {config.coverage!r}; "
                    f"pass --coverage {coverage} or re-extract it"
                )

    detector = create_detector(config.detector, min_score=min(config.min_score, 0.5))
    landmarker = MeshLandmarker()
    verifier = FaceVerifier(config.min_verify_score) if config.min_verify_score > 0 else None
    finder = FaceFinder(detector, landmarker, 1, verifier)
    dropped: Counter[str] = Counter()
    counts = Counter[str]()
    done = 0
    records: list[FaceRecord] = []
    try:
        with (
            atomic_dir(output, overwrite=config.overwrite) as folder,
            FacesetWriter(folder, config.image_format, "skin" if config.masks else None) as writer,
        ):

            def keep(record: FaceRecord, crop: np.ndarray) -> None:
                writer.write_crop(record, crop)
                records.append(record)

            for source_index, (path, (kind, items)) in enumerate(zip(paths, plan, strict=True)):
                recorded = recorded_source_path(path, output, config.anonymous)
                finder.reset()
                for item_index, image, pad, label in _images_of(
                    kind, path, items, video_every_n, pad_fraction
                ):
                    done += 1
                    counts["photos" if kind != "video" else "frames"] += 1
                    if kind == "video":
                        faces, track_ids = finder.find(image)
                    else:
                        finder.reset()
                        faces, track_ids = finder.find(image)
                    for face_number, (face, track_id) in enumerate(zip(faces, track_ids, strict=True)):
                        measured = aligned_face(image, face, config)
                        if isinstance(measured, str):
                            dropped[measured] += 1
                            continue
                        record, crop = measured
                        unpad_record(record, pad)
                        record.face_id = f"{source_index:02d}_{item_index:06d}_{face_number:02d}"
                        record.source_index, record.source_path = source_index, recorded
                        record.frame_index, record.track_id = item_index, track_id
                        if label:
                            record.extra["item"] = label
                        keep(record, crop)
                    if progress:
                        progress(done, len(records))
                if kind == "faceset":
                    counts["facesets"] += 1
                    for record, crop in _faceset_faces(path, config.crop_size, source_index, recorded):
                        keep(record, crop)
                    if progress:
                        progress(done, len(records))
            if not records:
                raise NoFaceError(
                    f"{', '.join(map(str, paths))}: no usable face found; use photos or videos of faces"
                )
            manifest = FacesetManifest(
                crop_size=config.crop_size,
                coverage=config.coverage,
                template=TEMPLATE_NAME,
                detector=config.detector,
                landmarker=landmarker.name,
                sources=[
                    {
                        "path": recorded_source_path(path, output, config.anonymous),
                        "kind": kind,
                        "items": len(items),
                        # a pooled faceset's own inputs, so that a base names the media it learned
                        "sources": _origins(path) if kind == "faceset" else [],
                    }
                    for path, (kind, items) in zip(paths, plan, strict=True)
                ],
                counts={
                    "faces": len(records),
                    "photos": counts["photos"],
                    "frames": counts["frames"],
                    "facesets": counts["facesets"],
                    **{f"dropped_{reason}": count for reason, count in dropped.items()},
                },
                options={
                    "pool": True,
                    "pad_fraction": pad_fraction,
                    "video_every_n": video_every_n,
                    "crop_size": config.crop_size,
                    "coverage": config.coverage,
                    "min_size": config.min_size,
                    "min_score": config.min_score,
                    "max_blur": config.max_blur,
                    "min_verify_score": config.min_verify_score,
                },
                tool_version=__version__,
                created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            writer.finish(manifest, records)
    finally:
        detector.close()
        landmarker.close()
    summary = PoolSummary(
        output=str(output),
        faces=len(records),
        photos=counts["photos"],
        frames=counts["frames"],
        facesets=counts["facesets"],
        dropped=dict(dropped),
        seconds=round(time.perf_counter() - started, 3),
    )
    logger.info(
        "pooled %d faces from %d photos, %d frames, %d facesets into %s",
        summary.faces,
        summary.photos,
        summary.frames,
        summary.facesets,
        output,
    )
    return summary


def _origins(faceset: Path) -> list[str]:
    """The media a faceset was made from (for a pool: what its inputs were made from), by name."""
    found: list[str] = []
    for source in open_faceset(faceset).manifest.sources:
        found.extend(source.get("sources") or [Path(str(source.get("path", ""))).name])
    return found


def _plan_input(path: Path) -> tuple[str, list[Path]]:
    """(kind, photos): what an input is and, for a photo folder, its photos. Checks it is readable."""
    if not path.exists():
        raise MediaError(f"{path}: no such file or folder; check the path")
    if path.is_dir():
        if is_faceset(path):
            return "faceset", []
        photos = photos_under(path)
        if not photos:
            raise MediaError(f"{path}: no image files in it or its subfolders; name a folder of photos")
        return "photos", photos
    info = probe(path)
    if info.kind == "image":
        return "photos", [path]
    return "video", [path]


def _images_of(
    kind: str, path: Path, items: list[Path], every_n: int, pad_fraction: float
) -> Iterator[tuple[int, np.ndarray, int, str]]:
    """(index, image, padding, label) of each photo or sampled frame of one input. A photo that
    cannot be read is skipped with a warning (one bad file among thousands)."""
    if kind == "video":
        for frame in read_frames(path, every_n=every_n):
            yield frame.index, frame.image, 0, ""
        return
    if kind != "photos":
        return
    base = path if path.is_dir() else path.parent
    for index, photo in enumerate(items):
        try:
            image = read_image(photo)
        except MediaError as error:
            logger.warning("%s; skipped", error)
            continue
        padded, pad = pad_photo(image, pad_fraction)
        yield index, padded, pad, str(photo.relative_to(base))


def _faceset_faces(
    path: Path, crop_size: int, source_index: int, recorded: str
) -> Iterator[tuple[FaceRecord, np.ndarray]]:
    """The faces of a faceset, resized to the pool's crop size, renumbered for the pool."""
    faceset = open_faceset(path)
    for number, (record, crop) in enumerate(faceset.iter_crops()):
        size = crop.shape[0]
        if size != crop_size:
            interpolation = cv2.INTER_AREA if size > crop_size else cv2.INTER_CUBIC
            crop = cv2.resize(crop, (crop_size, crop_size), interpolation=interpolation)
            record = _resized_record(record, crop_size / size)
        record.extra["item"] = f"{record.source_path}#{record.face_id}"
        record.face_id = f"{source_index:02d}_{number:06d}_00"
        record.source_index, record.source_path = source_index, recorded
        yield record, crop


__all__ = ["PoolSummary", "pad_photo", "photos_under", "pool_faces", "unpad_record"]
