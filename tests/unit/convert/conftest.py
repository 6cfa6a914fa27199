"""A model folder with an untrained `tiny` model: enough to run the conversion machinery."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch


def make_model_dir(folder: Path, coverage: str = "full", seed: int = 0) -> Path:
    from facetransfer.modelfolder.checkpoints import TrainingState
    from facetransfer.modelfolder.config import RunConfig, write_config
    from facetransfer.modelfolder.weights import save_checkpoint
    from facetransfer.models import build_model
    from facetransfer.presets import get_preset

    torch.manual_seed(seed)
    preset = get_preset("tiny")
    model = build_model(preset.model)
    folder.mkdir(parents=True, exist_ok=True)
    write_config(folder, RunConfig(model=preset.model, train=preset.train, data={"coverage": coverage}))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    save_checkpoint(folder, model, optimizer, TrainingState(step=1, batch_size=8))
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("models") / "tiny")


# --- a synthetic target: a short video of a drawn face, and its faceset ----------------------------

SYNTH_WIDTH, SYNTH_HEIGHT, SYNTH_FRAMES, SYNTH_FPS = 160, 128, 10, 10
SYNTH_FACE_FRAMES = 8  # frames 0..7 have a face record; 8 and 9 have none


def synthetic_landmarks(frame_index: int):
    """float32 (68, 2): the template face, ~60 px wide, drifting right by 1 px per frame."""
    from facetransfer.faces.align import template_points

    return template_points(96, "full") + np.array([32.0 + frame_index, 14.0], dtype=np.float32)


def synthetic_frame(frame_index: int):
    """uint8 (H, W, 3) RGB: a textured background and a skin-coloured face at the landmarks."""
    generator = np.random.default_rng(1234)
    background = generator.integers(40, 200, (SYNTH_HEIGHT // 8, SYNTH_WIDTH // 8, 3), dtype=np.uint8)
    image = cv2.resize(background, (SYNTH_WIDTH, SYNTH_HEIGHT), interpolation=cv2.INTER_LINEAR)
    points = synthetic_landmarks(frame_index)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    cv2.fillConvexPoly(image, hull, (205, 150, 125), lineType=cv2.LINE_AA)
    for eye in (points[36:42], points[42:48]):
        cv2.fillConvexPoly(image, np.round(eye).astype(np.int32), (40, 30, 30))
    cv2.fillConvexPoly(image, cv2.convexHull(np.round(points[48:60]).astype(np.int32)), (150, 60, 60))
    return image


def write_synthetic_video(path: Path) -> Path:
    from facetransfer.media import VideoWriter

    with VideoWriter(
        path, width=SYNTH_WIDTH, height=SYNTH_HEIGHT, fps=SYNTH_FPS, crf=10, preset="ultrafast"
    ) as writer:
        for index in range(SYNTH_FRAMES):
            writer.write(synthetic_frame(index), index / SYNTH_FPS)
    return path


def write_synthetic_faceset(
    folder: Path, video: Path, coverage: str = "full", identities: list[int] | None = None
) -> Path:
    """A faceset of the synthetic video: one track, frames 0..SYNTH_FACE_FRAMES-1."""
    from facetransfer.faces.align import alignment_matrices, warp_to_crop
    from facetransfer.faceset import FaceRecord, FacesetManifest, FacesetWriter
    from facetransfer.media import probe

    folder.mkdir(parents=True)
    writer = FacesetWriter(folder)
    for index in range(SYNTH_FACE_FRAMES):
        landmarks = synthetic_landmarks(index)
        frame_to_crop, crop_to_frame = alignment_matrices(landmarks, 128, coverage)  # type: ignore[arg-type]
        record = FaceRecord(
            face_id=f"00_{index:06d}_00",
            source_index=0,
            source_path=str(video),
            frame_index=index,
            timestamp_s=index / SYNTH_FPS,
            bbox_frame=[float(v) for v in (*landmarks.min(0), *landmarks.max(0))],
            score=0.9,
            landmarks_frame=landmarks,
            frame_to_crop=frame_to_crop,
            crop_to_frame=crop_to_frame,
            track_id=0,
            size_px=60.0,
            blur=0.1,
            yaw_deg=0.0,
            pitch_deg=0.0,
            roll_deg=0.0,
            identity_id=identities[index] if identities else 0,
        )
        writer.add(record, warp_to_crop(synthetic_frame(index), frame_to_crop, 128))
    manifest = FacesetManifest(
        crop_size=128,
        coverage=coverage,
        template="mean_face_68_v1",
        detector="synthetic",
        landmarker="synthetic",
        sources=[probe(video).to_json()],
        counts={"faces": SYNTH_FACE_FRAMES},
        options={},
        tool_version="test",
        created_utc="2026-01-01T00:00:00+00:00",
    )
    writer.finish(manifest)
    return folder


@pytest.fixture(scope="session")
def synthetic_target(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(video, faceset) of the synthetic target."""
    folder = tmp_path_factory.mktemp("synthetic")
    video = write_synthetic_video(folder / "target.mp4")
    return video, write_synthetic_faceset(folder / "faceset", video)
