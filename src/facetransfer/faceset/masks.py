"""Face masks stored in a faceset: the automatic ones, and masks a user painted.

Layout inside a faceset folder::

    masks/<face_id>.png       written by the tool (extraction or `facetransfer mask`): 8-bit grey, crop
                              size, white where the pixel is face; the manifest's `masks` entry says how
                              they were made
    user_masks/<name>.png     painted by a user in any image editor, named as the face's crop file
                              (`crops/00_000012_00.png` -> `user_masks/00_000012_00.png`): white (or any
                              value of 128 and up) is face; any square size. The tool never writes here.

A face's mask is its user mask, else its stored mask, else one computed now (`automatic_mask`).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facetransfer.errors import FacesetError
from facetransfer.faces.maskmethods import METHOD_VERSIONS, automatic_mask
from facetransfer.faceset.io import MASKS_DIR, USER_MASKS_DIR, Faceset, mask_file_name
from facetransfer.faceset.schema import FaceRecord


def read_mask_file(path: Path, size: int, painted: bool = False) -> np.ndarray:
    """float32 (size, size) in [0, 1] from a mask PNG. A painted mask is made binary (128 and up is
    face) from its grey values, or from its alpha channel when every pixel's colour is the same.
    Raises FacesetError naming the file when it cannot be read or is not square."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim not in (2, 3) or image.size == 0:
        raise FacesetError(f"{path}: not a readable image; save the mask as a PNG (white = face)")
    if image.shape[0] != image.shape[1]:
        raise FacesetError(
            f"{path}: the mask is {image.shape[1]}x{image.shape[0]}, not square like the crop; "
            "paint it over the crop image itself"
        )
    if image.ndim == 3:
        channels = image.shape[2]
        colour = image[..., :3] if channels >= 3 else image[..., :1]
        if channels == 4 and np.ptp(colour.reshape(-1, 3), axis=0).max() == 0:
            image = image[..., 3]
        else:
            image = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY) if colour.shape[2] == 3 else colour[..., 0]
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise FacesetError(f"{path}: a mask must be an 8- or 16-bit image, found {image.dtype}")
    if image.shape[0] != size:
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    values = image.astype(np.float32) / 255.0
    return (values >= 0.5).astype(np.float32) if painted else values


def user_mask_path(faceset: Faceset, record: FaceRecord) -> Path:
    return faceset.root / USER_MASKS_DIR / mask_file_name(record)


def stored_mask_path(faceset: Faceset, record: FaceRecord) -> Path:
    return faceset.root / MASKS_DIR / mask_file_name(record)


def painted_faces(faceset: Faceset) -> list[FaceRecord]:
    """The faces a user painted a mask for."""
    folder = faceset.root / USER_MASKS_DIR
    if not folder.is_dir():
        return []
    names = {entry.name for entry in folder.iterdir() if entry.is_file()}
    return [record for record in faceset.records if mask_file_name(record) in names]


def read_painted_masks(faceset: Faceset, size: int | None = None) -> dict[str, np.ndarray]:
    """face_id -> float32 (size, size) binary mask (default size: the crops') of every painted face.
    Raises FacesetError naming the first file that cannot be read, so a command can check them all
    before it starts writing."""
    side = size or int(faceset.manifest.crop_size)
    return {
        record.face_id: read_mask_file(user_mask_path(faceset, record), side, painted=True)
        for record in painted_faces(faceset)
    }


def stray_user_masks(faceset: Faceset) -> list[str]:
    """Files in `user_masks/` that match no face (a misnamed mask would otherwise be ignored)."""
    folder = faceset.root / USER_MASKS_DIR
    if not folder.is_dir():
        return []
    known = {mask_file_name(record) for record in faceset.records}
    return sorted(entry.name for entry in folder.iterdir() if entry.is_file() and entry.name not in known)


def stored_masks_usable(faceset: Faceset, method: str) -> bool:
    """Whether `masks/` holds what `method` would make now (the same method and version), or masks of
    a mask model fitted on this faceset (`facetransfer mask --train`), which stand for any method."""
    entry = faceset.manifest.masks
    made_by = entry.get("method")
    if made_by == "trained":
        return True
    return made_by == method and entry.get("version") == METHOD_VERSIONS.get(method)


def known_mask(faceset: Faceset, record: FaceRecord, method: str = "skin") -> np.ndarray | None:
    """float32 (crop size, crop size): the face's painted mask, else its stored one when usable for
    `method`; None when neither is there (the caller computes it)."""
    size = int(faceset.manifest.crop_size)
    painted = user_mask_path(faceset, record)
    if painted.is_file():
        return read_mask_file(painted, size, painted=True)
    stored = stored_mask_path(faceset, record)
    if stored_masks_usable(faceset, method) and stored.is_file():
        return read_mask_file(stored, size)
    return None


def face_mask(faceset: Faceset, record: FaceRecord, crop_rgb: np.ndarray, method: str = "skin") -> np.ndarray:
    """float32 (S, S) in [0, 1] at the crop's size: the face's user mask, else its stored mask (when
    the faceset's masks were made by `method`, or trained), else `method`'s mask computed now."""
    known = known_mask(faceset, record, method)
    if known is None:
        return automatic_mask(method, crop_rgb, record.landmarks_crop)
    size = crop_rgb.shape[0]
    return (
        known if known.shape[0] == size else cv2.resize(known, (size, size), interpolation=cv2.INTER_LINEAR)
    )
