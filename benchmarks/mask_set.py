"""A small hand-labelled set of face masks, for measuring automatic face masks against.

`benchmarks/mask_labels.json` names faces in the shared test media (`../shared/data`) and, for each,
polygons traced by hand in the pixels of its aligned crop: 256 px, coverage "full", as
`facetransfer extract --crop-size 256` writes it. The truth mask of a face is the face hull of its
landmarks (`face_hull_mask`) AND the traced "face" outline (skin, eyes, brows, lips, mouth) minus the
traced "exclude" polygons (hair over the face, beards, glasses frames, hands, microphones, objects).

Each face is found again here as extraction finds it: the frame is decoded, the detector (with the
RetinaFace check) and the face mesh run on that frame alone, and the face is aligned to the template.
Tight photos (UTKFace) are padded by half their size with edge pixels first, as the pretrain pool
does. The crop, and so the labels, depend on the detector and landmarker: if those change, check the
overlays again (`--sheet`).

Usage: python benchmarks/mask_set.py [--data ../shared/data] [--labels benchmarks/mask_labels.json]
    [--sheet mask_labels_sheet.jpg]
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facetransfer.faces.align import Coverage, alignment_matrices, apply_affine, warp_to_crop
from facetransfer.faces.detectors import create_detector
from facetransfer.faces.finder import FaceFinder, FaceObservation
from facetransfer.faces.landmarker import MeshLandmarker, landmarks_bbox
from facetransfer.faces.masks import face_hull_mask
from facetransfer.faces.verify import FaceVerifier
from facetransfer.media import IMAGE_EXTENSIONS, read_frames, read_image
from facetransfer.pretrain.pool import pad_photo

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO / "benchmarks" / "mask_labels.json"
FORMAT = "facetransfer-mask-labels"
CROP_SIZE = 256
COVERAGE: Coverage = "full"
TAGS: tuple[str, ...] = (
    "fringe",
    "hair",
    "glasses",
    "sunglasses",
    "hand",
    "microphone",
    "object",
    "beard",
    "moustache",
    "dark-skin",
    "light-skin",
    "profile",
    "frontal",
    "bald",
    "child",
    "old",
    "low-light",
    "open-mouth",
)

Polygon = Sequence[Sequence[float]]


@dataclass(frozen=True)
class LabelledFace:
    """One face of the set: its aligned crop, landmarks in the crop, and the truth mask."""

    id: str
    media: str
    tags: tuple[str, ...]
    crop_rgb: np.ndarray  # uint8 (256, 256, 3)
    landmarks_crop: np.ndarray  # float32 (68, 2)
    truth: np.ndarray  # bool (256, 256)


def _polygon_points(polygon: Polygon) -> np.ndarray:
    """int32 (N, 1, 2) polygon points in 1/16 pixel (cv2's `shift=4`)."""
    points = np.asarray(polygon, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
        raise ValueError(f"a polygon needs at least 3 (x, y) points, found shape {points.shape}")
    return np.round(points * 16).astype(np.int32).reshape(-1, 1, 2)


def polygon_mask(polygon: Polygon, size: int = CROP_SIZE) -> np.ndarray:
    """bool (size, size): the pixels whose centres lie inside `polygon` (crop pixel coordinates)."""
    mask = np.zeros((size, size), dtype=np.uint8)
    cv2.fillPoly(mask, [_polygon_points(polygon)], 1, lineType=cv2.LINE_8, shift=4)
    return mask > 0


def truth_mask(
    landmarks_crop: np.ndarray,
    face_polygon: Polygon,
    exclude_polygons: Sequence[Polygon],
    size: int = CROP_SIZE,
) -> np.ndarray:
    """bool (size, size): inside the landmarks' face hull, inside `face_polygon`, and outside every
    one of `exclude_polygons` (all in crop pixels)."""
    truth = face_hull_mask(landmarks_crop, size, size) > 0.5
    truth &= polygon_mask(face_polygon, size)
    for polygon in exclude_polygons:
        truth &= ~polygon_mask(polygon, size)
    return truth


def read_frame(path: Path, frame_index: int) -> np.ndarray:
    """uint8 (H, W, 3) RGB: a still image, or the frame `frame_index` (0-based) of a video."""
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        if frame_index != 0:
            raise ValueError(f"{path}: a still image has only frame 0, not {frame_index}")
        return read_image(path)
    for frame in read_frames(path):
        if frame.index == frame_index:
            return frame.image
    raise ValueError(f"{path}: it has no frame {frame_index}")


class FaceCropper:
    """Finds a face in one frame as extraction does and aligns it to a 256 px "full" crop."""

    def __init__(self) -> None:
        self._detector = create_detector("mediapipe", min_score=0.5)
        self._landmarker = MeshLandmarker()
        self._finder = FaceFinder(self._detector, self._landmarker, 1, FaceVerifier(0.5))

    def close(self) -> None:
        self._detector.close()
        self._landmarker.close()

    def __enter__(self) -> FaceCropper:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def faces(self, image_rgb: np.ndarray) -> list[FaceObservation]:
        """The faces found in `image_rgb` alone (no tracking from earlier frames)."""
        self._finder.reset()
        faces, _ids = self._finder.find(image_rgb)
        return faces

    def crop(
        self, image_rgb: np.ndarray, pick: Sequence[float] | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(crop uint8 (256, 256, 3), landmarks_crop float32 (68, 2)) of the face whose landmark box
        centre is nearest `pick` (frame pixels), or of the largest face; None when none is found."""
        faces = self.faces(image_rgb)
        if not faces:
            return None

        def centre(face: FaceObservation) -> tuple[float, float]:
            x0, y0, x1, y1 = landmarks_bbox(face.landmarks)
            return (x0 + x1) / 2.0, (y0 + y1) / 2.0

        def size(face: FaceObservation) -> float:
            x0, y0, x1, y1 = landmarks_bbox(face.landmarks)
            return max(x1 - x0, y1 - y0)

        if pick is not None:
            face = min(faces, key=lambda f: math.dist(centre(f), (float(pick[0]), float(pick[1]))))
        else:
            face = max(faces, key=size)
        frame_to_crop, _ = alignment_matrices(face.landmarks, CROP_SIZE, COVERAGE)
        return warp_to_crop(image_rgb, frame_to_crop, CROP_SIZE), apply_affine(face.landmarks, frame_to_crop)


def read_labels(labels: Path) -> list[dict[str, Any]]:
    """The face entries of a labels file, after checking its header and tags."""
    payload = json.loads(labels.read_text(encoding="utf-8"))
    if payload.get("format") != FORMAT or payload.get("version") != 1:
        raise ValueError(f"{labels}: not a {FORMAT} file of version 1")
    if payload.get("crop_size") != CROP_SIZE or payload.get("coverage") != COVERAGE:
        raise ValueError(f"{labels}: expected crop_size {CROP_SIZE} and coverage {COVERAGE!r}")
    entries: list[dict[str, Any]] = payload["faces"]
    seen: set[str] = set()
    for entry in entries:
        unknown = set(entry["tags"]) - set(TAGS)
        if unknown:
            raise ValueError(f"{labels}: face {entry['id']!r} has unknown tags {sorted(unknown)}")
        if entry["id"] in seen:
            raise ValueError(f"{labels}: face id {entry['id']!r} appears twice")
        seen.add(entry["id"])
    return entries


def load_label_set(data_root: Path, labels: Path = LABELS) -> list[LabelledFace]:
    """Every labelled face of `labels`, found in the media under `data_root`. Raises `LookupError`
    naming the media when a face is not found."""
    faces: list[LabelledFace] = []
    with FaceCropper() as cropper:
        for entry in read_labels(labels):
            media = str(entry["media"])
            image = read_frame(data_root / media, int(entry.get("frame_index", 0)))
            image, pad = pad_photo(image, float(entry.get("pad", 0)))
            pick = entry.get("pick")
            found = cropper.crop(image, None if pick is None else (pick[0] + pad, pick[1] + pad))
            if found is None:
                raise LookupError(
                    f"{media} (frame {entry.get('frame_index', 0)}): no face found for label {entry['id']!r}"
                )
            crop, landmarks = found
            faces.append(
                LabelledFace(
                    id=str(entry["id"]),
                    media=media,
                    tags=tuple(entry["tags"]),
                    crop_rgb=crop,
                    landmarks_crop=landmarks,
                    truth=truth_mask(landmarks, entry["face"], entry.get("exclude", [])),
                )
            )
    return faces


def overlay(face: LabelledFace) -> np.ndarray:
    """uint8 (S, S, 3) RGB: the crop with the truth tinted green, what the exclude polygons and the
    face outline remove from the hull tinted red, and the hull's outline in yellow."""
    size = face.crop_rgb.shape[0]
    hull = face_hull_mask(face.landmarks_crop, size, size) > 0.5
    image = face.crop_rgb.astype(np.float32)
    green = np.array([0, 255, 0], dtype=np.float32)
    red = np.array([255, 0, 0], dtype=np.float32)
    image[face.truth] = 0.6 * image[face.truth] + 0.4 * green
    removed = hull & ~face.truth
    image[removed] = 0.5 * image[removed] + 0.5 * red
    result = np.ascontiguousarray(image.clip(0, 255).astype(np.uint8))
    contours, _ = cv2.findContours(hull.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(result, contours, -1, (255, 255, 0), 1)
    return result


def label_sheet(faces: Sequence[LabelledFace], path: Path, columns: int = 8) -> None:
    """Write a contact sheet (JPEG or PNG by the suffix of `path`): per face the crop and its overlay
    side by side, with the id and tags written under them."""
    if not faces:
        raise ValueError("no faces to draw")
    size = faces[0].crop_rgb.shape[0]
    caption = 30
    cell_w, cell_h = 2 * size + 8, size + caption + 8
    rows = math.ceil(len(faces) / columns)
    sheet = np.full((rows * cell_h, min(columns, len(faces)) * cell_w, 3), 255, dtype=np.uint8)
    for number, face in enumerate(faces):
        y, x = (number // columns) * cell_h, (number % columns) * cell_w
        sheet[y : y + size, x : x + size] = face.crop_rgb
        sheet[y : y + size, x + size : x + 2 * size] = overlay(face)
        for line, text in enumerate((face.id, " ".join(face.tags))):
            cv2.putText(
                sheet,
                text,
                (x + 2, y + size + 12 + 13 * line),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.38,
                (0, 0, 0),
                1,
                cv2.LINE_AA,
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write the sheet")


def hull_coverage(face: LabelledFace) -> float:
    """The fraction of the face hull that the truth keeps."""
    hull = face_hull_mask(face.landmarks_crop, CROP_SIZE, CROP_SIZE) > 0.5
    return float(face.truth.sum() / max(1, int(hull.sum())))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load the hand-labelled face masks and draw them.")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="shared data root")
    parser.add_argument("--labels", type=Path, default=LABELS, help="the labels file")
    parser.add_argument("--sheet", type=Path, default=None, help="write a contact sheet of the overlays here")
    args = parser.parse_args(argv)
    faces = load_label_set(args.data, args.labels)
    counts = Counter(tag for face in faces for tag in face.tags)
    print(f"{len(faces)} faces")
    for tag in TAGS:
        print(f"  {tag:<12} {counts[tag]}")
    coverage = [hull_coverage(face) for face in faces]
    print(
        f"the truth keeps {np.mean(coverage):.0%} of the face hull on average ({min(coverage):.0%} at least)"
    )
    if args.sheet is not None:
        label_sheet(faces, args.sheet)
        print(f"sheet: {args.sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
