import json
from pathlib import Path

import numpy as np
import pytest

from facetransfer.errors import FacesetError
from facetransfer.faces.align import alignment_matrices, template_points
from facetransfer.faceset import FaceRecord, FacesetManifest, FacesetWriter, open_faceset


def _record(index: int) -> FaceRecord:
    landmarks = template_points(256, "full") * 0.5 + 40 + index
    frame_to_crop, crop_to_frame = alignment_matrices(landmarks, 64, "full")
    return FaceRecord(
        face_id=f"00_{index:06d}_00",
        source_index=0,
        source_path="clip.mp4",
        frame_index=index,
        timestamp_s=index / 25,
        bbox_frame=[1.0, 2.0, 3.0, 4.0],
        score=0.9,
        landmarks_frame=landmarks,
        frame_to_crop=frame_to_crop,
        crop_to_frame=crop_to_frame,
        track_id=0,
        size_px=128.0,
        blur=0.2,
        yaw_deg=1.0,
        pitch_deg=2.0,
        roll_deg=3.0,
    )


def _manifest() -> FacesetManifest:
    return FacesetManifest(64, "full", "t", "mediapipe", "mesh", [], {"faces": 3}, {}, "0", "now")


def _write(root: Path, count: int = 3) -> list[np.ndarray]:
    writer = FacesetWriter(root)
    crops = [np.full((64, 64, 3), 40 * i, np.uint8) for i in range(count)]
    for index, crop in enumerate(crops):
        writer.add(_record(index), crop)
    writer.finish(_manifest())
    return crops


def test_round_trip(tmp_path: Path) -> None:
    crops = _write(tmp_path)
    faceset = open_faceset(tmp_path)
    assert len(faceset) == 3 and faceset.frames == 3 and faceset.dropped == 0
    for (record, crop), original in zip(faceset.iter_crops(), crops, strict=True):
        np.testing.assert_array_equal(crop, original)
        assert record.landmarks_frame.dtype == np.float32
    original = _record(1)
    loaded = faceset.records[1]
    np.testing.assert_allclose(loaded.landmarks_frame, original.landmarks_frame, atol=1e-3)
    np.testing.assert_allclose(loaded.frame_to_crop, original.frame_to_crop, atol=1e-5)
    np.testing.assert_allclose(loaded.landmarks_crop, template_points(64, "full"), atol=0.05)


def test_deleted_crops_drop_their_records(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "crops" / "00_000001_00.png").unlink()
    faceset = open_faceset(tmp_path)
    assert [r.frame_index for r in faceset.records] == [0, 2] and faceset.dropped == 1


def test_rejects_non_facesets_and_newer_versions(tmp_path: Path) -> None:
    with pytest.raises(FacesetError, match="not a faceset"):
        open_faceset(tmp_path)
    _write(tmp_path)
    manifest = json.loads((tmp_path / "faceset.json").read_text())
    manifest["version"] = 99
    (tmp_path / "faceset.json").write_text(json.dumps(manifest))
    with pytest.raises(FacesetError, match="newer"):
        open_faceset(tmp_path)
