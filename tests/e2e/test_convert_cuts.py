"""Conversion through the scene cuts of the Hamilton clip: every changed pixel belongs to the
performer's face in that very frame (no swap left on a frame after a cut, no face on another person)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from facetransfer.convert.config import EncodeOptions, FaceSettings
from facetransfer.convert.pipeline import ConvertConfig, convert_video
from facetransfer.extract import ExtractConfig, extract_faceset
from facetransfer.faces.masks import face_hull_points
from facetransfer.faceset import open_faceset
from facetransfer.media import read_frames
from facetransfer.provenance import ProvenanceConfig

pytestmark = pytest.mark.e2e

CUTS = (20, 82, 211)


def _untrained_model(folder: Path) -> Path:
    """A `tiny` model folder with random weights: what it renders does not matter here, where it goes does."""
    from facetransfer.modelfolder.checkpoints import TrainingState
    from facetransfer.modelfolder.config import RunConfig, write_config
    from facetransfer.modelfolder.weights import save_checkpoint
    from facetransfer.models import build_model
    from facetransfer.presets import get_preset

    torch.manual_seed(0)
    preset = get_preset("tiny")
    model = build_model(preset.model)
    folder.mkdir(parents=True)
    write_config(folder, RunConfig(model=preset.model, train=preset.train, data={"coverage": "full"}))
    save_checkpoint(folder, model, torch.optim.AdamW(model.parameters()), TrainingState(step=1, batch_size=8))
    return folder


def test_swaps_follow_the_performer_through_the_cuts(shared_data: Path, tmp_path: Path) -> None:
    clip = shared_data / "video/hard/hamilton_multiface_cuts.mp4"
    faceset = tmp_path / "performer"
    extract_faceset([clip], faceset, ExtractConfig(crop_size=96))
    frames_dir = tmp_path / "frames"
    summary = convert_video(
        clip,
        _untrained_model(tmp_path / "model"),
        tmp_path / "out.mp4",
        ConvertConfig(
            faceset=str(faceset),
            frames_dir=str(frames_dir),
            provenance=ProvenanceConfig(enabled=False),
            face=FaceSettings(mask="hull"),
            encode=EncodeOptions(encoder_preset="ultrafast"),
        ),
    )
    assert summary.frames == 275 and list(CUTS) == summary.cuts
    records: dict[int, list[np.ndarray]] = {}
    for record in open_faceset(faceset).records:
        records.setdefault(record.frame_index, []).append(record.landmarks_frame)

    swapped_frames = []
    for frame in read_frames(clip):
        output = cv2.cvtColor(cv2.imread(str(frames_dir / f"frame_{frame.index:06d}.png")), cv2.COLOR_BGR2RGB)
        changed = np.abs(output.astype(int) - frame.image.astype(int)).max(2) > 0
        allowed = np.zeros(changed.shape, np.uint8)
        for landmarks in records.get(frame.index, []):
            hull = cv2.convexHull(np.round(face_hull_points(landmarks)).astype(np.int32))
            cv2.fillConvexPoly(allowed, hull, 1)
        # The feathered edge reaches about 12 % of the face width beyond the hull, and the smoothed
        # landmarks trail a fast head move by up to 5 %: allow 20 %. A face left over from before a
        # cut, or put on another person, lies much further away.
        widths = [float(np.ptp(landmarks[:, 0])) for landmarks in records.get(frame.index, [])]
        grow = max(3, int(0.2 * max(widths))) if widths else 0
        allowed = cv2.dilate(allowed, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) > 0
        assert not (changed & ~allowed).any(), (
            f"frame {frame.index}: pixels changed away from the performer's face"
        )
        if changed.any():
            swapped_frames.append(frame.index)
    # The performer is swapped before the first cut and between the second and third; the audience
    # shot after the third cut is left alone (the tracker's track that runs on across that cut onto
    # another man is dropped there).
    assert any(index < CUTS[0] for index in swapped_frames)
    assert sum(CUTS[1] <= index < CUTS[2] for index in swapped_frames) > 100
    assert not any(index >= CUTS[2] for index in swapped_frames)
