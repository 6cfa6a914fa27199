"""The pool of generic faces: photo folders searched recursively, tight crops padded, every face
kept, landmarks in the photos' own pixels; the `pretrain` command's errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from facetransfer.cli import main
from facetransfer.extract.config import ExtractConfig
from facetransfer.faceset import open_faceset
from facetransfer.pretrain.pool import pad_photo, pool_faces, unpad_record


@pytest.fixture(scope="module")
def photos(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two LFW people in their own subfolders and three tight UTKFace crops at the top level."""
    folder = tmp_path_factory.mktemp("photos")
    for person in sorted((shared_data / "pretrain" / "lfw").iterdir())[:2]:
        shutil.copytree(person, folder / person.name)
    for photo in sorted((shared_data / "pretrain" / "utkface").glob("*.jpg"))[100:103]:
        shutil.copy(photo, folder / photo.name)
    return folder


def test_a_pool_holds_every_face_in_the_photos_own_pixels(photos: Path, tmp_path: Path) -> None:
    count = sum(1 for path in photos.rglob("*.jpg"))
    summary = pool_faces([photos], tmp_path / "pool", ExtractConfig(crop_size=64, image_format="jpg"))
    assert summary.photos == count and summary.faces >= count - 1  # UTKFace's tight crops need the padding
    pool = open_faceset(tmp_path / "pool")
    assert pool.manifest.counts["faces"] == summary.faces and pool.manifest.sources[0]["kind"] == "photos"
    for record in pool.records:
        assert (photos / record.extra["item"]).is_file()
        height, width = 250, 250
        x0, y0, x1, y1 = record.bbox_frame
        assert -0.2 * width < x0 < x1 < 1.2 * width and -0.2 * height < y0 < y1 < 1.2 * height
        # the affine maps the unpadded landmarks to the crop landmarks
        assert record.landmarks_crop.min() > -1 and record.landmarks_crop.max() < 65


def test_unpadding_keeps_the_crop_where_it_was() -> None:
    from facetransfer.faceset.schema import FaceRecord

    image = np.zeros((40, 60, 3), np.uint8)
    padded, pad = pad_photo(image, 0.25)
    assert pad == 15 and padded.shape == (70, 90, 3)
    landmarks = np.array([[30.0, 20.0]] * 68, np.float32)
    matrix = np.array([[2.0, 0.0, 5.0], [0.0, 2.0, 7.0]], np.float32)
    record = FaceRecord(
        face_id="f", source_index=0, source_path="", frame_index=0, timestamp_s=0.0,
        bbox_frame=[20, 10, 40, 30],
        score=1.0, landmarks_frame=landmarks + pad, frame_to_crop=matrix,
        crop_to_frame=np.array([[0.5, 0.0, -2.5], [0.0, 0.5, -3.5]], np.float32), track_id=0, size_px=20.0,
        blur=0.0, yaw_deg=0.0, pitch_deg=0.0, roll_deg=0.0,
    )  # fmt: skip
    before = record.landmarks_crop.copy()
    unpad_record(record, pad)
    assert np.allclose(record.landmarks_frame, landmarks) and np.allclose(record.landmarks_crop, before)
    back = record.landmarks_crop @ record.crop_to_frame[:, :2].T + record.crop_to_frame[:, 2]
    assert np.allclose(back, landmarks, atol=1e-4)
    assert record.bbox_frame == [5, -5, 25, 15]


def test_pretrain_refuses_bad_inputs_in_one_line(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        ([str(tmp_path / "missing")], str(tmp_path / "base1"), "no such file"),
        ([str(empty)], str(tmp_path / "base2"), "no image files"),
        ([str(photos)], str(mine), "not a base folder"),
        ([], str(tmp_path / "base3"), "needs inputs"),
    ]
    for inputs, output, expected in cases:
        assert main(["pretrain", *inputs, "-o", output, "--preset", "tiny", "--iterations", "1"]) == 2
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert line.startswith("facetransfer pretrain: error: ") and expected in line, line
    assert (mine / "notes.txt").read_text() == "keep me" and sorted(p.name for p in mine.iterdir()) == [
        "notes.txt"
    ]
    assert not (tmp_path / "base1").exists() and not (tmp_path / "base2").exists()
