"""Masks stored in a faceset: written at extraction, painted masks win, bad files are named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from facetransfer.errors import FacesetError
from facetransfer.faces.masks import face_hull_mask
from facetransfer.faces.skin import skin_mask
from facetransfer.faceset import open_faceset
from facetransfer.faceset.io import MASKS_DIR, mask_file_name
from facetransfer.faceset.masks import USER_MASKS_DIR, face_mask, known_mask, read_mask_file
from facetransfer.faceset.remask import MaskConfig, mask_faceset
from facetransfer.train.data import load_faces

SIZE = 96


@pytest.fixture(scope="module")
def extracted(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from facetransfer.extract import ExtractConfig, extract_faceset

    folder = tmp_path_factory.mktemp("masks") / "faceset"
    images = [shared_data / "image/faces" / name for name in ("obama.jpg", "obama2.jpg", "biden.jpg")]
    extract_faceset(images, folder, ExtractConfig(crop_size=SIZE, all_faces=True))
    return folder


@pytest.fixture
def faceset_copy(extracted: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(extracted, tmp_path / "faceset"))


def _paint(folder: Path, name: str, image: np.ndarray) -> Path:
    (folder / USER_MASKS_DIR).mkdir(exist_ok=True)
    path = folder / USER_MASKS_DIR / name
    cv2.imwrite(str(path), image)
    return path


def test_extraction_stores_the_skin_mask_of_every_face(extracted: Path) -> None:
    faceset = open_faceset(extracted)
    assert faceset.manifest.masks == {"method": "skin", "version": 1, "faces": len(faceset)}
    for record in faceset.records:
        stored = read_mask_file(extracted / MASKS_DIR / mask_file_name(record), SIZE)
        computed = skin_mask(faceset.read_crop(record), record.landmarks_crop)
        assert np.abs(stored - computed).max() <= 1.0 / 255 + 1e-6
        assert known_mask(faceset, record) is not None


def test_a_painted_mask_wins_and_training_learns_it(faceset_copy: Path) -> None:
    faceset = open_faceset(faceset_copy)
    record = faceset.records[0]
    painted = np.zeros((2 * SIZE, 2 * SIZE), np.uint8)  # any square size
    painted[:SIZE] = 255  # only the top half is face
    _paint(faceset_copy, mask_file_name(record), painted)
    mask = face_mask(faceset, record, faceset.read_crop(record))
    assert set(np.unique(mask)) == {0.0, 1.0}
    assert mask[: SIZE // 2 - 1].min() == 1.0 and mask[SIZE // 2 + 1 :].max() == 0.0
    data = load_faces(faceset_copy, 64, holdout_fraction=0.0, mask_method="skin")
    region = data.masks[data.face_ids.index(record.face_id), ..., 0]
    hull = face_hull_mask(record.landmarks_crop * (64 / SIZE), 64, 64)
    assert region[34:].max() == 0 and region[:30].max() == 255
    assert np.abs(region[:30].astype(np.float32) - 255 * hull[:30]).max() <= 1.0
    hull_only = load_faces(faceset_copy, 64, holdout_fraction=0.0, mask_method="hull")
    assert hull_only.masks[data.face_ids.index(record.face_id), 40:, :, 0].max() == 255


def test_masks_made_again_keep_the_painted_ones(faceset_copy: Path) -> None:
    faceset = open_faceset(faceset_copy)
    first = faceset.records[0]
    painted = np.full((SIZE, SIZE), 255, np.uint8)
    _paint(faceset_copy, mask_file_name(first), painted)
    user_bytes = (faceset_copy / USER_MASKS_DIR / mask_file_name(first)).read_bytes()
    summary = mask_faceset(faceset_copy, MaskConfig(method="hull"))
    assert summary.faces == len(faceset) and summary.painted == 1 and summary.method == "hull"
    again = open_faceset(faceset_copy)
    assert again.manifest.masks["method"] == "hull" and again.manifest.masks["painted"] == 1
    assert read_mask_file(faceset_copy / MASKS_DIR / mask_file_name(first), SIZE).min() == 1.0
    other = again.records[1]
    hull = face_hull_mask(other.landmarks_crop, SIZE, SIZE)
    stored = read_mask_file(faceset_copy / MASKS_DIR / mask_file_name(other), SIZE)
    assert np.abs(stored - hull).max() <= 1.0 / 255 + 1e-6
    assert (faceset_copy / USER_MASKS_DIR / mask_file_name(first)).read_bytes() == user_bytes
    assert sorted(p.name for p in faceset_copy.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not an image", "not a readable image"),
        (None, "not square"),
    ],
)
def test_a_bad_painted_mask_is_one_line_naming_it(
    faceset_copy: Path, content: bytes | None, expected: str
) -> None:
    faceset = open_faceset(faceset_copy)
    name = mask_file_name(faceset.records[0])
    if content is None:
        path = _paint(faceset_copy, name, np.zeros((SIZE, SIZE + 3), np.uint8))
    else:
        (faceset_copy / USER_MASKS_DIR).mkdir()
        path = faceset_copy / USER_MASKS_DIR / name
        path.write_bytes(content)
    with pytest.raises(FacesetError, match=expected):
        face_mask(faceset, faceset.records[0], faceset.read_crop(faceset.records[0]))
    before = {p: p.read_bytes() for p in (faceset_copy / MASKS_DIR).iterdir()}
    manifest = (faceset_copy / "faceset.json").read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "facetransfer", "mask", str(faceset_copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and expected in lines[0]
    assert {p: p.read_bytes() for p in (faceset_copy / MASKS_DIR).iterdir()} == before
    assert (faceset_copy / "faceset.json").read_bytes() == manifest


def test_train_without_painted_masks_says_what_to_do(faceset_copy: Path) -> None:
    with pytest.raises(FacesetError, match="user_masks"):
        mask_faceset(faceset_copy, MaskConfig(train=True))
    assert json.loads((faceset_copy / "faceset.json").read_text())["masks"]["method"] == "skin"


@pytest.fixture(scope="module")
def clip_faceset(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from facetransfer.extract import ExtractConfig, extract_faceset

    folder = tmp_path_factory.mktemp("clip") / "faceset"
    extract_faceset([shared_data / "video/grid/bbaf2n.mpg"], folder, ExtractConfig(crop_size=SIZE, every_n=3))
    return folder


def test_train_fits_the_painted_masks_and_applies_them_to_the_rest(
    clip_faceset: Path, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(clip_faceset, tmp_path / "faceset"))
    faceset = open_faceset(folder)
    records = faceset.records
    lower = slice(int(0.62 * SIZE), SIZE)  # a user paints the mouth and chin out (say, a microphone)

    def painted_for(index: int) -> np.ndarray:
        crop = faceset.read_crop(records[index])
        mask = skin_mask(crop, records[index].landmarks_crop)
        mask[lower] = 0.0
        return (mask >= 0.5).astype(np.uint8) * 255

    painted_indices = range(0, len(records), 5)
    for index in painted_indices:
        _paint(folder, mask_file_name(records[index]), painted_for(index))
    before = {r.face_id: read_mask_file(folder / MASKS_DIR / mask_file_name(r), SIZE) for r in records}
    result = subprocess.run(
        [
            *(sys.executable, "-m", "facetransfer", "mask", str(folder), "--train", "--steps", "200"),
            *("--resolution", "64", "--threads", "1", "--user-weight", "8", "--json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["method"] == "trained" and summary["painted"] == len(painted_indices)
    manifest = json.loads((folder / "faceset.json").read_text())["masks"]
    assert manifest["method"] == "trained" and manifest["automatic"] == "skin"
    for index, record in enumerate(records):
        after = read_mask_file(folder / MASKS_DIR / mask_file_name(record), SIZE)
        if index in painted_indices:
            np.testing.assert_array_equal(after, painted_for(index) / 255.0)
        else:  # the correction spread: the lower face is gone where the automatic mask had it
            assert before[record.face_id][lower].mean() > 0.15
            assert after[lower].mean() < 0.5 * before[record.face_id][lower].mean()
            upper = slice(int(0.3 * SIZE), int(0.55 * SIZE))
            assert iou(after[upper], before[record.face_id][upper] >= 0.5) > 0.8
    opened = open_faceset(folder)
    assert known_mask(opened, opened.records[1]) is not None  # trained masks stand for any method


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    predicted = mask >= 0.5
    return float((predicted & truth).sum() / max(1, (predicted | truth).sum()))


def test_overwrite_never_replaces_a_faceset_with_painted_masks(faceset_copy: Path, shared_data: Path) -> None:
    faceset = open_faceset(faceset_copy)
    painted = _paint(faceset_copy, mask_file_name(faceset.records[0]), np.full((SIZE, SIZE), 255, np.uint8))
    before = painted.read_bytes()
    result = subprocess.run(
        [
            *(sys.executable, "-m", "facetransfer", "extract", str(shared_data / "image/faces/biden.jpg")),
            *("-o", str(faceset_copy), "--overwrite"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "painted by hand" in lines[0] and str(faceset_copy) in lines[0]
    assert painted.read_bytes() == before and len(open_faceset(faceset_copy)) == len(faceset)
