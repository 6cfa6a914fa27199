"""Extraction: media -> detected, landmarked, tracked, aligned faces of one person -> a faceset.

One pass over the frames detects and tracks faces, writes each aligned crop into a temporary folder
and samples identity chips per track; at the end the tracks are grouped into people, the faces of
the chosen person (reference, main person, or everyone) are kept, and the folder is renamed into
place. Memory holds the face records and a few chips per track, never frames.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facetransfer import __version__
from facetransfer.errors import ConfigError, MediaError, NoFaceError
from facetransfer.extract.config import ExtractConfig
from facetransfer.faces.align import TEMPLATE_NAME, Coverage, alignment_matrices, warp_to_crop
from facetransfer.faces.detectors import DetectorName, FaceDetector, create_detector
from facetransfer.faces.finder import FaceFinder, FaceObservation
from facetransfer.faces.identity import (
    IdentityEmbedder,
    cluster,
    distance_matrix,
    face_box_for_dlib,
)
from facetransfer.faces.landmarker import MeshLandmarker, landmarks_bbox
from facetransfer.faces.pose import blur_score, head_pose
from facetransfer.faces.verify import FaceVerifier
from facetransfer.faceset.io import FacesetWriter, check_faceset_output
from facetransfer.faceset.schema import FaceRecord, FacesetManifest
from facetransfer.fsutil import atomic_dir
from facetransfer.media import probe, read_frames, read_image

logger = logging.getLogger(__name__)


@dataclass
class ExtractSummary:
    output: str
    frames: int
    faces_found: int
    faces_kept: int
    tracks: int
    identities: int
    dropped: dict[str, int]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _face_size(landmarks: np.ndarray) -> float:
    x0, y0, x1, y1 = landmarks_bbox(landmarks)
    return float(max(x1 - x0, y1 - y0))


def aligned_face(
    image: np.ndarray, face: FaceObservation, config: ExtractConfig
) -> tuple[FaceRecord, np.ndarray] | str:
    """The face's record (without its identifiers) and aligned crop, or the name of the quality filter
    that drops it."""
    size = _face_size(face.landmarks)
    if size < config.min_size:
        return "min_size"
    if face.score < config.min_score:
        return "min_score"
    frame_to_crop, crop_to_frame = alignment_matrices(face.landmarks, config.crop_size, config.coverage)
    crop = warp_to_crop(image, frame_to_crop, config.crop_size)
    blur = blur_score(crop)
    if blur > config.max_blur:
        return "max_blur"
    yaw, pitch, roll = head_pose(face.landmarks, image.shape[1], image.shape[0])
    record = FaceRecord(
        face_id="",
        source_index=-1,
        source_path="",
        frame_index=-1,
        timestamp_s=0.0,
        bbox_frame=[round(v, 2) for v in landmarks_bbox(face.landmarks)],
        score=round(face.score, 4),
        landmarks_frame=face.landmarks,
        frame_to_crop=frame_to_crop,
        crop_to_frame=crop_to_frame,
        track_id=-1,
        size_px=round(size, 2),
        blur=round(blur, 4),
        yaw_deg=round(yaw, 2),
        pitch_deg=round(pitch, 2),
        roll_deg=round(roll, 2),
    )
    return record, crop


def _draw_debug(image_rgb: np.ndarray, faces: list[FaceObservation], track_ids: list[int]) -> np.ndarray:
    canvas = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    for face, track_id in zip(faces, track_ids, strict=True):
        x0, y0, x1, y1 = (round(v) for v in landmarks_bbox(face.landmarks))
        cv2.rectangle(canvas, (x0, y0), (x1, y1), (0, 255, 0), 1)
        for x, y in face.landmarks:
            cv2.circle(canvas, (round(float(x)), round(float(y))), 1, (0, 0, 255), -1)
        cv2.putText(
            canvas, f"track {track_id} {face.score:.2f}", (x0, max(10, y0 - 4)), 0, 0.4, (0, 255, 255), 1
        )
    return canvas


@dataclass
class _TrackChips:
    chips: list[np.ndarray] = field(default_factory=list)
    faces: int = 0


def _sample_this_face(faces_in_track: int) -> bool:
    # first face, then one every 25 faces, at most 5 per track
    return faces_in_track % 25 == 0 and faces_in_track < 125


def embed_reference(
    paths: Sequence[str], detector: FaceDetector, landmarker: MeshLandmarker, embedder: IdentityEmbedder
) -> np.ndarray:
    """float32 (R, 128): one embedding per reference image (its largest face)."""
    embeddings = []
    for path in paths:
        image = read_image(path)
        best: np.ndarray | None = None
        for detection in detector.detect(image):
            landmarks = landmarker.landmarks68(image, detection.bbox)
            if landmarks is not None and (best is None or _face_size(landmarks) > _face_size(best)):
                best = landmarks
        if best is None:
            raise NoFaceError(
                f"{path}: no face found in the reference image; pass a clear photo of the person"
            )
        embeddings.append(embedder.embed_chips([embedder.chip(image, face_box_for_dlib(best))])[0])
    return np.stack(embeddings)


def _select_person(
    records: list[FaceRecord],
    track_embeddings: dict[int, np.ndarray],
    reference: np.ndarray | None,
    config: ExtractConfig,
) -> list[FaceRecord]:
    """Set identity ids and distances on `records` and return the faces of the chosen person."""
    track_ids = sorted(track_embeddings)
    if not track_ids:
        return records if config.all_faces else []
    embeddings = np.stack([track_embeddings[t] for t in track_ids])
    frames_per_track = Counter(record.track_id for record in records)
    labels = cluster(embeddings, np.array([frames_per_track[t] for t in track_ids], dtype=np.float64))
    label_of = dict(zip(track_ids, labels.tolist(), strict=True))
    if reference is not None:
        distance_of = dict(
            zip(track_ids, distance_matrix(embeddings, reference).min(1).tolist(), strict=True)
        )
    else:
        main = embeddings[labels == 0]
        weights = np.array(
            [frames_per_track[t] for t, label in zip(track_ids, labels, strict=True) if label == 0]
        )
        centre = (main * weights[:, None]).sum(0) / weights.sum()
        distance_of = dict(
            zip(track_ids, distance_matrix(embeddings, centre[None])[:, 0].tolist(), strict=True)
        )
    yaw_of = {
        track: float(np.median([abs(r.yaw_deg) for r in records if r.track_id == track]))
        for track in track_ids
    }
    base = (
        config.identity_threshold
        if reference is not None
        else min(config.identity_threshold, MAIN_PERSON_DISTANCE)
    )
    kept = []
    for record in records:
        record.identity_id = int(label_of.get(record.track_id, -1))
        distance = distance_of.get(record.track_id)
        record.identity_distance = None if distance is None else round(float(distance), 4)
        same_person = distance is not None and distance < pose_aware_threshold(base, yaw_of[record.track_id])
        if config.all_faces or same_person:
            kept.append(record)
    return kept


# A track belongs to the main person when its embedding is this close to the person's mean: tighter
# than the 0.6 that separates photos of different people, because the tracks of one video share light
# and camera (the GRID and Hamilton performer tracks measure 0.1-0.35 from their person, audience
# members 0.46-0.54).
MAIN_PERSON_DISTANCE = 0.5


def pose_aware_threshold(base: float, median_abs_yaw_deg: float) -> float:
    """The distance under which a track counts as the person. Embeddings of turned faces are less
    reliable (the ResNet was trained on near-frontal chips), so the threshold tightens by up to 0.15
    between 30 and 45 degrees of yaw."""
    return base - 0.15 * min(1.0, max(0.0, (median_abs_yaw_deg - 30.0) / 15.0))


def recorded_source_path(source: Path, faceset: Path, anonymous: bool) -> str:
    """How a faceset names one of its sources: relative to the faceset folder (no home folder or user
    name in a shared faceset, and still found when media and faceset move together), or only the
    file name when `anonymous`; absolute only where no relative path exists (another drive)."""
    if anonymous:
        return source.name
    try:
        return os.path.relpath(source.resolve(), faceset.resolve())
    except ValueError:
        return str(source.resolve())


def extract_faceset(
    inputs: Sequence[str | Path],
    output: str | Path,
    config: ExtractConfig | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> ExtractSummary:
    """Extract the faces of one person from `inputs` (videos, images, image folders) into a faceset
    folder at `output`. Raises `MediaError` for unreadable inputs and `NoFaceError` when no face is
    kept; on any error nothing is left at `output`. `progress(frames_done, faces_found, frames_total)`
    is called after every frame."""
    config = config or ExtractConfig()
    started = time.perf_counter()
    output = Path(output)
    input_paths = [Path(p) for p in inputs]
    check_faceset_output(output, [*input_paths, *config.reference], config.overwrite)
    probes = [probe(path) for path in input_paths]  # fail fast on bad inputs, before any work
    recorded = [recorded_source_path(path, output, config.anonymous) for path in input_paths]
    for info in probes:
        if config.start_s is not None and info.kind == "video" and config.start_s >= info.duration_s:
            raise ConfigError(
                f"{info.path}: --start-s {config.start_s:g} is past the end of the video "
                f"({info.duration_s:.2f} s); choose an earlier start"
            )
    frames_total = sum(max(1, info.frame_count // max(1, config.every_n)) for info in probes)

    detector = create_detector(config.detector, min_score=min(config.min_score, 0.5))
    landmarker = MeshLandmarker()
    embedder = IdentityEmbedder() if not (config.all_faces and not config.reference) else None
    reference = (
        embed_reference(config.reference, detector, landmarker, embedder)
        if config.reference and embedder
        else None
    )
    verifier = FaceVerifier(config.min_verify_score) if config.min_verify_score > 0 else None
    finder = FaceFinder(detector, landmarker, config.redetect_every, verifier)
    debug_dir = Path(config.debug_dir) if config.debug_dir else None
    if debug_dir:
        debug_dir.mkdir(parents=True, exist_ok=True)

    dropped: Counter[str] = Counter()
    frames = faces_found = 0
    try:
        with (
            atomic_dir(output, overwrite=config.overwrite) as folder,
            FacesetWriter(folder, config.image_format, "skin" if config.masks else None) as writer,
        ):
            records: list[FaceRecord] = []
            chips: dict[int, _TrackChips] = {}
            for source_index, (path, info) in enumerate(zip(input_paths, probes, strict=True)):
                finder.reset()
                found_here = 0
                for frame in read_frames(
                    path, every_n=config.every_n, start_s=config.start_s, end_s=config.end_s
                ):
                    frames += 1
                    image = frame.image
                    faces, track_ids = finder.find(image)
                    if debug_dir:
                        name = f"{source_index:02d}_{frame.index:06d}.jpg"
                        cv2.imwrite(str(debug_dir / name), _draw_debug(image, faces, track_ids))
                    for face_number, (face, track_id) in enumerate(zip(faces, track_ids, strict=True)):
                        faces_found += 1
                        found_here += 1
                        measured = aligned_face(image, face, config)
                        if isinstance(measured, str):
                            dropped[measured] += 1
                            continue
                        record, crop = measured
                        record.face_id = f"{source_index:02d}_{frame.index:06d}_{face_number:02d}"
                        record.source_index, record.source_path = source_index, recorded[source_index]
                        record.frame_index, record.timestamp_s = frame.index, round(frame.timestamp_s, 6)
                        record.track_id = track_id
                        writer.write_crop(record, crop)
                        records.append(record)
                        if embedder is not None:
                            track = chips.setdefault(track_id, _TrackChips())
                            if _sample_this_face(track.faces):
                                track.chips.append(embedder.chip(image, face_box_for_dlib(face.landmarks)))
                            track.faces += 1
                    if progress:
                        progress(frames, faces_found, frames_total)
                if found_here == 0:
                    logger.warning("%s: no face found in %d frames", path, info.frame_count)

            if not records:
                names = ", ".join(str(p) for p in input_paths)
                reason = (
                    ""
                    if not dropped
                    else f" ({sum(dropped.values())} faces dropped by --min-size/--min-score/--max-blur)"
                )
                raise NoFaceError(
                    f"{names}: no usable face found in {frames} frames{reason}; "
                    "use media where a face is visible"
                )
            track_embeddings: dict[int, np.ndarray] = {}
            if embedder is not None:
                for track_id, track in chips.items():
                    track_embeddings[track_id] = embedder.embed_chips(track.chips).mean(0)
            kept = _select_person(records, track_embeddings, reference, config)
            kept_ids = {id(record) for record in kept}
            for record in records:
                if id(record) not in kept_ids:
                    writer.remove_crop(record)
            if len(records) > len(kept):
                dropped["other_person"] += len(records) - len(kept)
            if not kept:
                named = config.reference[0] if config.reference else input_paths[0]
                raise NoFaceError(
                    f"{named}: none of the {len(records)} faces found matches the reference person "
                    f"(distance >= {config.identity_threshold}); "
                    "check the reference image or raise --identity-threshold"
                )
            identities = len({record.identity_id for record in records if record.identity_id >= 0})
            manifest = FacesetManifest(
                crop_size=config.crop_size,
                coverage=config.coverage,
                template=TEMPLATE_NAME,
                detector=config.detector,
                landmarker=landmarker.name,
                sources=[{**info.to_json(), "path": recorded[index]} for index, info in enumerate(probes)],
                counts={
                    "faces": len(kept),
                    "frames": len({(r.source_index, r.frame_index) for r in kept}),
                    "frames_searched": frames,
                    "faces_found": faces_found,
                    "tracks": len({r.track_id for r in kept}),
                    "identities_seen": identities,
                    **{f"dropped_{reason}": count for reason, count in dropped.items()},
                },
                options={
                    **{
                        key: value
                        for key, value in asdict(config).items()
                        if key not in ("overwrite", "debug_dir")
                    },
                    # the reference photos are named as the sources are
                    "reference": [
                        recorded_source_path(Path(photo), output, config.anonymous)
                        for photo in config.reference
                    ],
                },
                tool_version=__version__,
                created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            writer.finish(manifest, kept)
    finally:
        detector.close()
        landmarker.close()
    summary = ExtractSummary(
        output=str(output),
        frames=frames,
        faces_found=faces_found,
        faces_kept=len(kept),
        tracks=len({r.track_id for r in kept}),
        identities=identities,
        dropped=dict(dropped),
        seconds=round(time.perf_counter() - started, 3),
    )
    logger.info("extracted %d faces from %d frames into %s", len(kept), frames, output)
    return summary


def extract_for_model(
    target: str | Path,
    output: str | Path,
    *,
    crop_size: int,
    coverage: Coverage,
    detector: DetectorName,
    all_faces: bool,
) -> None:
    """Extract the faces of `target` into the faceset folder `output` as a model expects them
    (`crop_size` pixels, `coverage`), with JPEG crops: every face when `all_faces`, else the main
    person's. What `convert` runs when no target faceset is given (`convert_video(...,
    extract_target=extract_for_model)`)."""
    config = ExtractConfig(  # the conversion computes the masks in its own crops: none stored
        crop_size=crop_size,
        coverage=coverage,
        detector=detector,
        all_faces=all_faces,
        image_format="jpg",
        masks=False,
    )
    extract_faceset([target], output, config)


__all__ = ["ExtractConfig", "ExtractSummary", "MediaError", "extract_faceset", "extract_for_model"]
