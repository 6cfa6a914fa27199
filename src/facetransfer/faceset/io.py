"""Reading and writing facesets. Writing goes to a temporary folder that is renamed at the end;
reading tolerates crop files deleted by hand (those records are dropped, with a log line)."""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facetransfer.errors import FacesetError, OutputExistsError
from facetransfer.faces.maskmethods import automatic_mask, encode_mask, masks_entry
from facetransfer.faceset.schema import FACESET_FORMAT, FACESET_VERSION, FaceRecord, FacesetManifest
from facetransfer.formats import read_versioned_json
from facetransfer.fsutil import fsync_dir, write_json_atomic
from facetransfer.safety import check_output, has_json_format

logger = logging.getLogger(__name__)

MANIFEST_NAME = "faceset.json"
RECORDS_NAME = "faces.jsonl"
CROPS_DIR = "crops"
MASKS_DIR = "masks"
USER_MASKS_DIR = "user_masks"


def is_faceset(path: str | os.PathLike[str]) -> bool:
    """A folder with a faceset manifest (the marker that lets `--overwrite` replace it)."""
    return has_json_format(Path(path) / MANIFEST_NAME, FACESET_FORMAT)


def check_faceset_output(
    output: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str]],
    overwrite: bool,
    what: str = "faceset",
) -> None:
    """`safety.check_output` for a faceset, which also refuses to replace one that holds masks a user
    painted (`--overwrite` replaces only what the tool made). Raises OutputExistsError."""
    check_output(output, inputs, overwrite=overwrite, is_ours=is_faceset, what=what)
    folder = Path(output) / USER_MASKS_DIR
    if folder.is_dir() and any(folder.iterdir()):
        raise OutputExistsError(
            f"{output}: holds masks painted by hand in {USER_MASKS_DIR}/, which are never replaced; "
            f"move them out first or choose another path for the {what}"
        )


def mask_file_name(record: FaceRecord) -> str:
    """The file name of a face's mask, in `masks/` and in `user_masks/`: its crop's name as PNG."""
    return f"{Path(record.crop_file).stem}.png"


def read_crop(path: Path) -> np.ndarray:
    """Read a crop file as uint8 HWC RGB."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FacesetError(f"{path}: crop image cannot be read; delete it or re-extract the faceset")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@dataclass
class Faceset:
    """An opened faceset: its manifest and the records whose crop file exists."""

    root: Path
    manifest: FacesetManifest
    records: list[FaceRecord]
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.records)

    def crop_path(self, record: FaceRecord) -> Path:
        return self.root / CROPS_DIR / record.crop_file

    def read_crop(self, record: FaceRecord) -> np.ndarray:
        """uint8 (S, S, 3) RGB crop of `record`."""
        return read_crop(self.crop_path(record))

    def iter_crops(self) -> Iterator[tuple[FaceRecord, np.ndarray]]:
        for record in self.records:
            yield record, self.read_crop(record)

    @property
    def frames(self) -> int:
        return len({(record.source_index, record.frame_index) for record in self.records})


def open_faceset(path: str | os.PathLike[str]) -> Faceset:
    """Open a faceset folder. Raises `FacesetError` with a one-line message when it is not one."""
    root = Path(path)
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.is_file():
        raise FacesetError(
            f"{root}: not a faceset (no {MANIFEST_NAME}); create one with `facetransfer extract`"
        )
    payload = read_versioned_json(
        manifest_path, FACESET_FORMAT, FACESET_VERSION, FacesetError, "re-extract the faceset"
    )
    try:
        manifest = FacesetManifest.from_json(payload)
    except ValueError as error:
        raise FacesetError(f"{manifest_path}: malformed manifest ({error}); re-extract the faceset") from None
    records: list[FaceRecord] = []
    dropped = 0
    crops = root / CROPS_DIR
    try:
        present = {entry.name for entry in os.scandir(crops) if entry.is_file()} if crops.is_dir() else set()
    except OSError as error:
        raise FacesetError(f"{crops}: cannot be listed ({error.strerror}); check its permissions") from None
    records_path = root / RECORDS_NAME
    if records_path.is_file():
        with records_path.open(encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = FaceRecord.from_json(json.loads(line))
                except (json.JSONDecodeError, TypeError, ValueError, KeyError) as error:
                    raise FacesetError(
                        f"{records_path}:{line_number}: malformed face record ({error})"
                    ) from error
                if record.crop_file in present:
                    records.append(record)
                else:
                    dropped += 1
    if dropped:
        logger.info("%s: %d face records left out: their crop files were deleted", root, dropped)
    return Faceset(root=root, manifest=manifest, records=records, dropped=dropped)


class FacesetWriter:
    """Writes crops and records into a folder (normally a temporary one, see `fsutil.atomic_dir`).

    `add` writes a crop and keeps its record; `write_crop` / `remove_crop` let a caller decide later
    which faces to keep (extraction filters by identity at the end). `finish` writes the records and
    then the manifest, last, so a folder without `faceset.json` is never taken as complete.
    """

    def __init__(self, root: Path, image_format: str = "png", mask_method: str | None = None) -> None:
        if image_format not in ("png", "jpg"):
            raise ValueError(f"image_format must be 'png' or 'jpg', not {image_format!r}")
        self.root = root
        self.image_format = image_format
        self.mask_method = mask_method
        (root / CROPS_DIR).mkdir(parents=True, exist_ok=True)
        if mask_method:
            (root / MASKS_DIR).mkdir(exist_ok=True)
        self.records: list[FaceRecord] = []
        # Encoding a 256 px PNG takes about as long as finding the face: do it on a worker thread
        # (OpenCV releases the GIL), with a bounded backlog so memory stays flat.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crop-writer")
        self._pending: deque[Future[None]] = deque()

    def _encode(self, path: Path, crop_rgb: np.ndarray, mask_for: tuple[Path, np.ndarray] | None) -> None:
        if self.mask_method and mask_for is not None:
            mask_path, landmarks_crop = mask_for
            mask_path.write_bytes(encode_mask(automatic_mask(self.mask_method, crop_rgb, landmarks_crop)))
        if self.image_format == "png":
            params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
        else:
            params = [cv2.IMWRITE_JPEG_QUALITY, 95]
        ok, encoded = cv2.imencode(f".{self.image_format}", cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise FacesetError(f"cannot encode crop {path.name}")
        path.write_bytes(encoded.tobytes())

    def write_crop(self, record: FaceRecord, crop_rgb: np.ndarray) -> None:
        """Encode `crop_rgb` (uint8 (S, S, 3) RGB) as the crop file of `record` (sets `crop_file`)."""
        record.crop_file = f"{record.face_id}.{self.image_format}"
        while self._pending and (self._pending[0].done() or len(self._pending) >= 16):
            self._pending.popleft().result()
        path = self.root / CROPS_DIR / record.crop_file
        mask_for = (
            (self.root / MASKS_DIR / mask_file_name(record), record.landmarks_crop)
            if self.mask_method
            else None
        )
        self._pending.append(self._pool.submit(self._encode, path, crop_rgb.copy(), mask_for))

    def flush(self) -> None:
        """Wait until every crop handed to `write_crop` is on disk (re-raises encoding errors)."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._pool.shutdown(wait=True)

    def abort(self) -> None:
        """Stop after the crop being encoded, without raising: the caller's error is the one to report."""
        for pending in self._pending:
            pending.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> FacesetWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        # the encoder thread is joined here, before the folder around the writer is removed
        if kind is None:
            self.close()
        else:
            self.abort()

    def remove_crop(self, record: FaceRecord) -> None:
        self.flush()
        (self.root / CROPS_DIR / record.crop_file).unlink(missing_ok=True)
        (self.root / MASKS_DIR / mask_file_name(record)).unlink(missing_ok=True)

    def add(self, record: FaceRecord, crop_rgb: np.ndarray) -> None:
        self.write_crop(record, crop_rgb)
        self.records.append(record)

    @property
    def count(self) -> int:
        return len(self.records)

    def finish(self, manifest: FacesetManifest, records: list[FaceRecord] | None = None) -> None:
        """Write `records` (default: those added) and the manifest."""
        self.close()
        if records is not None:
            self.records = list(records)
        records_path = self.root / RECORDS_NAME
        with records_path.open("w", encoding="utf-8") as handle:
            for record in self.records:
                handle.write(json.dumps(record.to_json()) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        fsync_dir(self.root / CROPS_DIR)
        if self.mask_method:
            fsync_dir(self.root / MASKS_DIR)
            manifest.masks = masks_entry(self.mask_method, len(self.records))
        write_json_atomic(self.root / MANIFEST_NAME, manifest.to_json())
