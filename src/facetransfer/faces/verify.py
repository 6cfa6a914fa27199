"""A second opinion on new detections: RetinaFace run on the aligned crop. A real face, aligned and
centred, scores above 0.8 (profiles included, on the shared test media); the false faces the
full-range detector reports on animals and textures score below 0.1 there."""

from __future__ import annotations

import numpy as np

from facetransfer.faces.align import alignment_matrices, warp_to_crop
from facetransfer.faces.detectors import RetinaFaceDetector

VERIFY_CROP_PX = 160


class FaceVerifier:
    def __init__(self, min_score: float = 0.5) -> None:
        self.min_score = min_score
        self._detector = RetinaFaceDetector(min_score=0.05)

    def score(self, image_rgb: np.ndarray, landmarks: np.ndarray) -> float:
        """Best RetinaFace score in the aligned crop of the face given by 68 landmarks."""
        frame_to_crop, _ = alignment_matrices(landmarks, VERIFY_CROP_PX, "whole")
        crop = warp_to_crop(image_rgb, frame_to_crop, VERIFY_CROP_PX)
        return max((detection.score for detection in self._detector.detect(crop)), default=0.0)

    def is_face(self, image_rgb: np.ndarray, landmarks: np.ndarray) -> bool:
        return self.score(image_rgb, landmarks) >= self.min_score
