"""Helpers for the training tests: small facesets built from real aligned face photos.

`identity/johns/<name>/*.jpg` in the shared test media are 150x150 aligned crops of five men. They are
resized to the crop size and given the template's landmarks for the `face` coverage (which matches
their framing), so masks and everything downstream see plausible faces.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from facetransfer.faces.align import TEMPLATE_NAME, template_points
from facetransfer.faceset import FaceRecord, FacesetManifest, FacesetWriter

SOURCE_PERSON = "John_Salley"
TARGET_PERSON = "John_Savage"


def write_test_faceset(root: Path, photos: list[Path], crop_size: int, coverage: str = "face") -> Path:
    """A faceset in `root` holding `photos` resized to `crop_size`, with template landmarks."""
    writer = FacesetWriter(root)
    landmarks = template_points(crop_size, coverage)  # type: ignore[arg-type]
    identity = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32)
    for index, photo in enumerate(photos):
        image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        assert image is not None, photo
        crop = cv2.cvtColor(
            cv2.resize(image, (crop_size, crop_size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB
        )
        record = FaceRecord(
            face_id=f"{root.name}_{index:04d}",
            source_index=0,
            source_path=str(photo),
            frame_index=index,
            timestamp_s=index / 25.0,
            bbox_frame=[0.0, 0.0, float(crop_size), float(crop_size)],
            score=1.0,
            landmarks_frame=landmarks.copy(),
            frame_to_crop=identity.copy(),
            crop_to_frame=identity.copy(),
            track_id=0,
            size_px=float(crop_size),
            blur=0.0,
            yaw_deg=0.0,
            pitch_deg=0.0,
            roll_deg=0.0,
        )
        writer.add(record, crop)
    writer.finish(
        FacesetManifest(
            crop_size=crop_size,
            coverage=coverage,
            template=TEMPLATE_NAME,
            detector="test",
            landmarker="template",
            sources=[],
            counts={"faces": len(photos)},
            options={},
            tool_version="test",
            created_utc="2026-01-01T00:00:00Z",
        )
    )
    return root


FacesetFactory = Callable[[str, int, int], Path]
