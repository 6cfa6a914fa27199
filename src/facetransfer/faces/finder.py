"""Per-frame face finding with tracking, shared by extraction and evaluation: detector, face mesh,
scene cuts, box tracks, and the optional RetinaFace check on new detections."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facetransfer.faces.cuts import CutDetector
from facetransfer.faces.detectors import FaceDetector
from facetransfer.faces.landmarker import MeshLandmarker, landmarks_bbox
from facetransfer.faces.tracking import Tracker, iou
from facetransfer.faces.verify import FaceVerifier


@dataclass
class FaceObservation:
    """A face found in one frame before alignment."""

    landmarks: np.ndarray  # float32 (68, 2) frame pixels
    score: float


class FaceFinder:
    """Per-frame face finding with tracking: the detector runs on the first frame, after a scene cut,
    when a tracked face is lost, and every `redetect_every` frames; between those the mesh runs on a
    box around each face's previous landmarks, which is cheaper and steadier."""

    def __init__(
        self,
        detector: FaceDetector,
        landmarker: MeshLandmarker,
        redetect_every: int = 5,
        verifier: FaceVerifier | None = None,
    ) -> None:
        self.detector = detector
        self.landmarker = landmarker
        self.verifier = verifier
        self.redetect_every = max(1, redetect_every)
        self.cuts = CutDetector()
        self.tracker = Tracker()
        self._previous: list[FaceObservation] = []
        self._since_detection = 0
        self._lost = False

    def reset(self) -> None:
        """Start of a new input: forget faces and tracks, keep the id counter."""
        self.tracker.reset()
        self.cuts.reset()
        self._previous = []
        self._since_detection = 0
        self._lost = False

    def find(self, image_rgb: np.ndarray) -> tuple[list[FaceObservation], list[int]]:
        cut = self.cuts.is_cut(image_rgb)
        if cut:
            self.tracker.reset()
            self._previous = []
        run_detector = (
            cut or self._lost or not self._previous or self._since_detection >= self.redetect_every - 1
        )
        faces: list[FaceObservation] = []
        if run_detector:
            self._since_detection = 0
            for detection in self.detector.detect(image_rgb):
                landmarks = self.landmarker.landmarks68(image_rgb, detection.bbox)
                if landmarks is None:
                    continue
                box = landmarks_bbox(landmarks)
                if any(iou(box, landmarks_bbox(face.landmarks)) > 0.5 for face in faces):
                    continue  # the same face found twice
                if self.verifier is not None and not self.verifier.is_face(image_rgb, landmarks):
                    continue
                faces.append(FaceObservation(landmarks, detection.score))
            self._lost = False
        else:
            self._since_detection += 1
            for previous in self._previous:
                landmarks = self.landmarker.landmarks68(image_rgb, landmarks_bbox(previous.landmarks))
                if (
                    landmarks is None
                    or iou(landmarks_bbox(landmarks), landmarks_bbox(previous.landmarks)) < 0.3
                ):
                    self._lost = True
                    continue
                faces.append(FaceObservation(landmarks, previous.score))
        track_ids = self.tracker.update([landmarks_bbox(face.landmarks) for face in faces])
        self._previous = faces
        return faces, track_ids
