"""Which faces to swap in each frame, and where: the target's face records, smoothed in time.

The records (from the target's faceset, or from extraction on the fly) are known before conversion
starts; the `FaceScheduler` hands out each frame's faces as the frames stream by, because two things
can only be decided with the frame in hand:

- a scene cut (`faces.cuts.CutDetector`) restarts the smoothing of every track;
- a track that continues across a cut is checked with an identity embedding, when only one person is
  swapped: if the face after the cut is not the face before it, the tracker linked two people, and the
  track is not swapped from the cut on.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facetransfer.convert.recipe import FaceCrop, crop_face, mask_into_crop
from facetransfer.convert.smoothing import TrackSmoother, jitter, track_corners
from facetransfer.errors import ConfigError
from facetransfer.faces.align import Coverage
from facetransfer.faces.cuts import DEFAULT_CUT_THRESHOLD, CutDetector
from facetransfer.faceset import FaceRecord, Faceset
from facetransfer.media import Frame

logger = logging.getLogger(__name__)

# Image folders have no clock; their frames are smoothed as if they were this many per second.
FOLDER_FPS = 25.0


def _same_file(first: str | Path, second: str | Path) -> bool:
    try:
        return Path(first).resolve() == Path(second).resolve()
    except OSError:
        return False


def records_for_target(faceset: Faceset, target: Path, all_faces: bool) -> list[FaceRecord]:
    """The faceset's records of the faces to swap in `target`.

    Records are those of the faceset source that is `target` (by path; by file name when the faceset
    was made elsewhere; the only source when there is one). Unless `all_faces`, only the main person is
    kept: the most frequent identity when the faceset holds several, else all of its faces (a faceset
    made by `facetransfer extract` holds one person unless it was made with --all-faces)."""
    sources = faceset.manifest.sources
    # paths are recorded relative to the faceset folder (older facesets: as given)
    source_indices = [
        i for i, source in enumerate(sources) if _same_file(faceset.root / source.get("path", ""), target)
    ]
    if not source_indices:
        source_indices = [
            i for i, source in enumerate(sources) if Path(source.get("path", "")).name == target.name
        ]
    if not source_indices and len(sources) == 1:
        source_indices = [0]
    if not source_indices:
        names = ", ".join(str(source.get("path")) for source in sources)
        raise ConfigError(
            f"{faceset.root}: this faceset was extracted from {names}, not from {target}; "
            "pass the target's own faceset, or leave out --faceset to extract on the fly"
        )
    records = [record for record in faceset.records if record.source_index in source_indices]
    if all_faces:
        return records
    identities = [record.identity_id for record in records if record.identity_id >= 0]
    if len(set(identities)) > 1:
        main = max(set(identities), key=identities.count)
        records = [record for record in records if record.identity_id == main]
    return records


@dataclass
class _Track:
    """One track's landmarks as seen so far (for the jitter report)."""

    raw: list[np.ndarray] = field(default_factory=list)
    smoothed: list[np.ndarray] = field(default_factory=list)


class _IdentityCheck:
    """Compares the face of a track before and after a cut (dlib embeddings, loaded on first use)."""

    def __init__(self) -> None:
        self._embedder: Any = None
        self.available = True

    def same_person(
        self, before: tuple[np.ndarray, np.ndarray], after: tuple[np.ndarray, np.ndarray]
    ) -> bool:
        """`before` and `after`: (frame image, 68 landmarks). True when unsure (no embedder)."""
        from facetransfer.faces.identity import SAME_PERSON_DISTANCE, IdentityEmbedder, face_box_for_dlib

        if self._embedder is None and self.available:
            try:
                self._embedder = IdentityEmbedder()
            except (ImportError, RuntimeError) as error:  # pragma: no cover - dlib is a dependency
                logger.warning("identity check across cuts unavailable (%s)", error)
                self.available = False
        if self._embedder is None:
            return True
        chips = [
            self._embedder.chip(image, face_box_for_dlib(landmarks)) for image, landmarks in (before, after)
        ]
        first, second = self._embedder.embed_chips(chips)
        return float(np.linalg.norm(first - second)) < SAME_PERSON_DISTANCE


class FaceScheduler:
    """Hands out, frame by frame, the faces to swap as `FaceCrop`s at the model's resolution and coverage.

    Call `faces_for(frame)` for every frame in order; `jitter_report()` at the end. `mask_of(record)`
    gives a face's own mask in its record's crop (see `faceset.masks.known_mask`), or None.
    """

    def __init__(
        self,
        records: list[FaceRecord],
        resolution: int,
        coverage: Coverage,
        smooth: float,
        verify_identity: bool,
        cut_threshold: float = DEFAULT_CUT_THRESHOLD,
        mask_of: Callable[[FaceRecord], np.ndarray | None] | None = None,
    ) -> None:
        self.resolution = resolution
        self.mask_of = mask_of
        self.coverage = coverage
        self.by_frame: dict[int, list[FaceRecord]] = defaultdict(list)
        for record in records:
            self.by_frame[record.frame_index].append(record)
        timestamps = [record.timestamp_s for record in records]
        self._use_index_clock = len(records) > 1 and max(timestamps) == 0.0  # image folders
        self.smoother = TrackSmoother(smooth)
        self.cuts = CutDetector(cut_threshold)
        self.identity = _IdentityCheck() if verify_identity else None
        self.tracks: dict[int, _Track] = defaultdict(_Track)
        self.dropped_tracks: set[int] = set()
        self.cut_frames: list[int] = []
        self._previous: tuple[np.ndarray, dict[int, np.ndarray]] | None = None

    def faces_for(self, frame: Frame) -> list[FaceCrop]:
        records = self.by_frame.get(frame.index, [])
        if self.cuts.is_cut(frame.image):
            self.cut_frames.append(frame.index)
            self.smoother.reset()
            self._check_tracks_across_cut(frame, records)
        faces = []
        seen: dict[int, np.ndarray] = {}
        for record in records:
            if record.track_id in self.dropped_tracks:
                continue
            time_s = record.frame_index / FOLDER_FPS if self._use_index_clock else record.timestamp_s
            smoothed = self.smoother(record.track_id, record.frame_index, time_s, record.landmarks_frame)
            track = self.tracks[record.track_id]
            track.raw.append(record.landmarks_frame)
            track.smoothed.append(smoothed)
            seen[record.track_id] = record.landmarks_frame
            face = crop_face(frame.image, smoothed, self.resolution, self.coverage, record.track_id)
            known = self.mask_of(record) if self.mask_of else None
            if known is not None:
                face.face_mask = mask_into_crop(known, record.crop_to_frame, face)
            faces.append(face)
        self._previous = (frame.image, seen)
        return faces

    def _check_tracks_across_cut(self, frame: Frame, records: list[FaceRecord]) -> None:
        if self.identity is None or self._previous is None:
            return
        previous_image, previous_faces = self._previous
        for record in records:
            before = previous_faces.get(record.track_id)
            if before is None or record.track_id in self.dropped_tracks:
                continue
            if not self.identity.same_person((previous_image, before), (frame.image, record.landmarks_frame)):
                self.dropped_tracks.add(record.track_id)
                logger.warning(
                    "frame %d: track %d continues across a scene cut with another person's face; "
                    "not swapping it from here on",
                    frame.index,
                    record.track_id,
                )

    def jitter_report(self) -> dict[str, float]:
        """Crop-corner jitter (fraction of the crop size per frame) of the raw and the smoothed tracks:
        frame-to-frame motion (`*_motion`) and second difference (`*_shiver`); means over tracks of at
        least three faces, weighted by their length."""
        sums: dict[str, float] = defaultdict(float)
        weight = 0
        for track in self.tracks.values():
            count = len(track.raw)
            if count < 3:
                continue
            raw_corners, raw_sides = track_corners(np.stack(track.raw), self.resolution, self.coverage)
            smooth_corners, smooth_sides = track_corners(
                np.stack(track.smoothed), self.resolution, self.coverage
            )
            for order, name in ((1, "motion"), (2, "shiver")):
                sums[f"raw_{name}"] += count * jitter(raw_corners, raw_sides, order)
                sums[f"smoothed_{name}"] += count * jitter(smooth_corners, smooth_sides, order)
            weight += count
        return {key: round(value / weight, 5) for key, value in sorted(sums.items())} if weight else {}
