"""The detail metric: band-pass energy of the inner face, output over target."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facetransfer.evaluate.detail import detail_ratio, inner_face_mask
from facetransfer.faces.detectors import create_detector
from facetransfer.faces.landmarker import MeshLandmarker
from facetransfer.media import read_frames


@pytest.fixture(scope="module")
def face(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    frame = next(iter(read_frames(shared_data / "video" / "real" / "outdoor_young_man.mp4"))).image
    detector, landmarker = create_detector("mediapipe"), MeshLandmarker()
    try:
        landmarks = landmarker.landmarks68(frame, detector.detect(frame)[0].bbox)
    finally:
        detector.close()
        landmarker.close()
    assert landmarks is not None
    return frame, landmarks


def test_blur_lowers_detail_and_noise_does_not_raise_it_much(face: tuple[np.ndarray, np.ndarray]) -> None:
    frame, landmarks = face
    assert detail_ratio(frame, frame, landmarks) == pytest.approx(1.0)
    ratios = [detail_ratio(cv2.GaussianBlur(frame, (0, 0), sigma), frame, landmarks) for sigma in (1, 2, 4)]
    assert all(r is not None for r in ratios)
    assert 1.0 > ratios[0] > ratios[1] > ratios[2] and ratios[2] < 0.35
    noise = np.random.default_rng(0).normal(0, 3, frame.shape)
    noisy = np.clip(frame + noise, 0, 255).astype(np.uint8)
    assert detail_ratio(noisy, frame, landmarks) == pytest.approx(1.0, abs=0.15)


def test_only_the_inner_face_counts(face: tuple[np.ndarray, np.ndarray]) -> None:
    frame, landmarks = face
    mask = inner_face_mask(landmarks, *frame.shape[:2])
    changed = frame.copy()
    changed[~mask] = cv2.GaussianBlur(frame, (0, 0), 5)[~mask]  # hair, background, jaw edge
    assert detail_ratio(changed, frame, landmarks) == pytest.approx(1.0, abs=0.01)  # filter tails only
    flat = np.full_like(frame, 128)
    assert detail_ratio(frame, flat, landmarks) is None  # nothing to compare with
