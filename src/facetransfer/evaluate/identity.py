"""Identity references for evaluation: the source person's mean embedding from source media, a
gallery of other people, and nearest-identity retrieval (dlib's 128-d embeddings, see
`facetransfer.faces.identity`)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facetransfer.errors import MediaError, NoFaceError
from facetransfer.faces.detectors import FaceDetector
from facetransfer.faces.identity import CHIP_PX, IdentityEmbedder, distance_matrix, face_box_for_dlib
from facetransfer.faces.landmarker import MeshLandmarker
from facetransfer.faces.verify import FaceVerifier
from facetransfer.faceset.io import is_faceset, open_faceset
from facetransfer.fsutil import write_json_atomic
from facetransfer.media import IMAGE_EXTENSIONS, list_images, probe, read_frames, read_image
from facetransfer.media.reader import natural_sort_key

logger = logging.getLogger(__name__)

CACHE_ENV = "FACETRANSFER_CACHE"
# Names the embedding model in cache keys: a different model must not reuse cached vectors.
EMBEDDER_ID = "dlib_face_recognition_resnet_model_v1"


@dataclass
class FaceTools:
    """The models evaluation runs: a detector, the mesh landmarker, the identity embedder, and the
    RetinaFace check that source and gallery faces are real (as in extraction)."""

    detector: FaceDetector
    landmarker: MeshLandmarker
    embedder: IdentityEmbedder | None
    verifier: FaceVerifier | None = None

    def close(self) -> None:
        self.detector.close()
        self.landmarker.close()


def largest_face(image_rgb: np.ndarray, tools: FaceTools) -> np.ndarray | None:
    """float32 (68, 2) landmarks of the largest detected face that passes the verifier, or None."""
    best: np.ndarray | None = None
    best_size = 0.0
    for detection in tools.detector.detect(image_rgb):
        landmarks = tools.landmarker.landmarks68(image_rgb, detection.bbox)
        if landmarks is None:
            continue
        if tools.verifier is not None and not tools.verifier.is_face(image_rgb, landmarks):
            continue
        size = float(np.ptp(landmarks[:, 0]) * np.ptp(landmarks[:, 1]))
        if size > best_size:
            best, best_size = landmarks, size
    return best


def face_chip(image_rgb: np.ndarray, tools: FaceTools) -> np.ndarray | None:
    """uint8 (150, 150, 3) dlib chip of the image's largest face. An image that is exactly 150 x 150
    and has no detectable face is taken to be an aligned chip already (dlib's own face sets, such as
    the `johns`, are stored that way)."""
    assert tools.embedder is not None
    landmarks = largest_face(image_rgb, tools)
    if landmarks is not None:
        return tools.embedder.chip(image_rgb, face_box_for_dlib(landmarks))
    if image_rgb.shape[:2] == (CHIP_PX, CHIP_PX):
        return image_rgb
    return None


def _media_count(path: Path) -> int:
    if is_faceset(path):
        return len(open_faceset(path))
    return max(1, probe(path).frame_count)


def _media_images(path: Path, wanted: set[int]) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """(image, landmarks or None) for the wanted item indices of one source."""
    if is_faceset(path):
        faceset = open_faceset(path)
        for index, record in enumerate(faceset.records):
            if index in wanted:
                yield faceset.read_crop(record), record.landmarks_crop
        return
    for index, frame in enumerate(read_frames(path)):
        if index in wanted:
            yield frame.image, None
        if index >= max(wanted, default=-1):
            return


def source_embedding(
    paths: Sequence[str | Path], tools: FaceTools, max_faces: int = 30
) -> tuple[np.ndarray, int]:
    """(float32 (128,) mean embedding, faces used) of the person in the source media: videos, images,
    image folders or facesets. Up to `max_faces` items are taken, evenly spaced over all inputs
    together; the largest face of each is embedded.

    Raises:
        NoFaceError: no face was found in any sampled item.
    """
    assert tools.embedder is not None
    counts = [_media_count(Path(path)) for path in paths]
    total = sum(counts)
    chosen = set(np.unique(np.linspace(0, total - 1, min(max_faces, total)).round().astype(int)).tolist())
    chips: list[np.ndarray] = []
    offset = 0
    for path, count in zip(paths, counts, strict=True):
        wanted = {index - offset for index in chosen if offset <= index < offset + count}
        offset += count
        for image, landmarks in _media_images(Path(path), wanted):
            if landmarks is not None:
                chips.append(tools.embedder.chip(image, face_box_for_dlib(landmarks)))
                continue
            chip = face_chip(image, tools)
            if chip is not None:
                chips.append(chip)
    if not chips:
        names = ", ".join(str(p) for p in paths)
        raise NoFaceError(
            f"{names}: no face found in the source media; pass videos or photos of the source person"
        )
    embeddings = tools.embedder.embed_chips(chips)
    return embeddings.mean(0).astype(np.float32), len(chips)


@dataclass
class GalleryPerson:
    """Someone who is neither the source nor the target, for the identity retrieval test."""

    name: str
    embedding: np.ndarray  # float32 (128,), mean over `faces`
    faces: int


def _gallery_groups(path: Path) -> list[tuple[str, list[Path]]]:
    """(person name, image files): a folder of person folders gives one person per subfolder, a
    folder of images one person, an image file one person."""
    if path.is_file():
        return [(path.stem, [path])]
    if not path.is_dir():
        raise MediaError(f"{path}: no such gallery file or folder; check --gallery")
    subfolders = sorted(
        (entry for entry in path.iterdir() if entry.is_dir() and not entry.name.startswith(".")),
        key=lambda entry: natural_sort_key(entry.name),
    )
    groups = [(folder.name, list_images(folder)) for folder in subfolders]
    groups = [(name, images) for name, images in groups if images]
    own = [entry for entry in list_images(path) if entry.suffix.lower() in IMAGE_EXTENSIONS]
    if own:
        groups.append((path.name, own))
    return groups


def cache_dir() -> Path:
    """$FACETRANSFER_CACHE, else $XDG_CACHE_HOME/facetransfer, else ~/.cache/facetransfer."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "facetransfer"


def _gallery_cache_path(name: str, images: Sequence[Path], per_person: int) -> Path:
    """Cache file of one gallery person: keyed by the files (path, size, mtime) and the options."""
    files = [(str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns) for path in images]
    key = json.dumps([EMBEDDER_ID, name, per_person, files]).encode("utf-8")
    return cache_dir() / "gallery" / f"{hashlib.sha256(key).hexdigest()[:32]}.json"


def _read_cached(path: Path) -> GalleryPerson | None:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        embedding = np.asarray(payload["embedding"], dtype=np.float32)
        if payload.get("version") != 1 or embedding.shape != (128,):
            return None
        return GalleryPerson(str(payload["name"]), embedding, int(payload["faces"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _embed_person(
    name: str, images: Sequence[Path], tools: FaceTools, per_person: int
) -> GalleryPerson | None:
    assert tools.embedder is not None
    picks = np.unique(np.linspace(0, len(images) - 1, min(per_person, len(images))).round().astype(int))
    chips = [chip for chip in (face_chip(read_image(images[i]), tools) for i in picks) if chip is not None]
    if not chips:
        return None
    mean = tools.embedder.embed_chips(chips).mean(0).astype(np.float32)
    return GalleryPerson(name, mean, len(chips))


def load_gallery(
    paths: Sequence[str | Path], tools: FaceTools, per_person: int = 5, use_cache: bool = True
) -> list[GalleryPerson]:
    """Gallery people from image files and folders (see `_gallery_groups`), each embedded from up to
    `per_person` evenly spaced images. People with no usable face are left out (with a warning).
    Embeddings are cached on disk (`cache_dir()/gallery`), keyed by the files' paths, sizes and
    modification times, since a gallery is the same for every evaluation."""
    people: list[GalleryPerson] = []
    for path in paths:
        for name, images in _gallery_groups(Path(path)):
            cache_path = _gallery_cache_path(name, images, per_person) if use_cache else None
            person = _read_cached(cache_path) if cache_path is not None and cache_path.is_file() else None
            if person is None:
                person = _embed_person(name, images, tools, per_person)
                if person is None:
                    logger.warning("gallery %s: no face found in %s; left out", name, path)
                    continue
                if cache_path is not None:
                    try:
                        write_json_atomic(
                            cache_path,
                            {
                                "version": 1,
                                "name": person.name,
                                "faces": person.faces,
                                "embedding": [round(float(v), 7) for v in person.embedding],
                            },
                        )
                    except OSError as error:
                        logger.info("gallery cache not written (%s)", error)
            people.append(person)
    return people


def nearest_identity(
    embedding: np.ndarray, source: np.ndarray, target: np.ndarray, gallery: Sequence[GalleryPerson]
) -> str:
    """ "source", "target" or "gallery:<name>": whose reference embedding is nearest (ties go to the
    earlier one in that order)."""
    names = ["source", "target", *(f"gallery:{person.name}" for person in gallery)]
    references = np.stack([source, target, *(person.embedding for person in gallery)])
    distances = distance_matrix(embedding[None].astype(np.float32), references.astype(np.float32))[0]
    return names[int(np.argmin(distances))]
