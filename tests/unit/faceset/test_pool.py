"""Pooling facesets: every face once, ids and tracks kept apart, sources found from the new folder,
crops byte for byte, and mismatched crops or a user's folder refused."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from facetransfer.errors import FacesetError, OutputExistsError
from facetransfer.faces.align import alignment_matrices, template_points
from facetransfer.faceset import FaceRecord, FacesetManifest, FacesetWriter, open_faceset
from facetransfer.faceset.pool import pool_facesets


def _write(root: Path, clip: str, count: int, crop_size: int = 64, tracks: int = 1) -> None:
    writer = FacesetWriter(root)
    landmarks = template_points(256, "full") * 0.5 + 40
    frame_to_crop, crop_to_frame = alignment_matrices(landmarks, crop_size, "full")
    for index in range(count):
        record = FaceRecord(
            face_id=f"00_{index:06d}_00", source_index=0, source_path=clip, frame_index=index,
            timestamp_s=index / 25, bbox_frame=[1.0, 2.0, 3.0, 4.0], score=0.9, landmarks_frame=landmarks,
            frame_to_crop=frame_to_crop, crop_to_frame=crop_to_frame, track_id=index % tracks, size_px=128.0,
            blur=0.2, yaw_deg=0.0, pitch_deg=0.0, roll_deg=0.0, identity_id=0,
        )  # fmt: skip
        writer.add(record, np.full((crop_size, crop_size, 3), 10 * index + len(clip), np.uint8))
    sources = [{"path": os.path.relpath(root.parent / clip, root), "kind": "video"}]
    manifest = FacesetManifest(
        crop_size,
        "full",
        "t",
        "mediapipe",
        "mesh",
        sources,
        {"faces": count, "frames": count},
        {},
        "0",
        "now",
    )
    writer.finish(manifest)


def test_pool_holds_every_face_once(tmp_path: Path) -> None:
    _write(tmp_path / "a", "shot_a.mp4", 3, tracks=2)
    _write(tmp_path / "b", "shot_b.mp4", 4)
    pooled = pool_facesets([tmp_path / "a", tmp_path / "b"], tmp_path / "pool" / "all")
    assert len(pooled) == 7 and pooled.manifest.counts["faces"] == 7 and pooled.manifest.counts["frames"] == 7
    assert len({record.face_id for record in pooled.records}) == 7
    assert [record.source_index for record in pooled.records] == [0, 0, 0, 1, 1, 1, 1]
    # the second faceset's track 0 is not the first one's tracks 0 or 1
    assert sorted({record.track_id for record in pooled.records}) == [0, 1, 2]
    # each source's path, read from the pooled folder, is where the clip lies
    resolved = [(pooled.root / source["path"]).resolve() for source in pooled.manifest.sources]
    assert resolved == [(tmp_path / "shot_a.mp4").resolve(), (tmp_path / "shot_b.mp4").resolve()]
    for part in ("a", "b"):
        original = open_faceset(tmp_path / part)
        number = 0 if part == "a" else 1
        for record in original.records:
            pooled_path = pooled.root / "crops" / f"{number}-{record.crop_file}"
            assert pooled_path.read_bytes() == original.crop_path(record).read_bytes()


def test_pool_refuses_mismatched_crops_and_foreign_outputs(tmp_path: Path) -> None:
    _write(tmp_path / "a", "a.mp4", 2)
    _write(tmp_path / "b", "b.mp4", 2, crop_size=96)
    with pytest.raises(FacesetError, match="re-extract it with --crop-size 64"):
        pool_facesets([tmp_path / "a", tmp_path / "b"], tmp_path / "pool")
    assert not (tmp_path / "pool").exists()
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep")
    with pytest.raises(OutputExistsError, match="did not make"):
        pool_facesets([tmp_path / "a"], user, overwrite=True)
    with pytest.raises(OutputExistsError, match="inside the input folder"):
        pool_facesets([tmp_path / "a"], tmp_path / "a" / "pool")
    pool_facesets([tmp_path / "a"], tmp_path / "pool")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        pool_facesets([tmp_path / "a"], tmp_path / "pool")
    assert len(pool_facesets([tmp_path / "a"], tmp_path / "pool", overwrite=True)) == 2
