"""One live frame through conversion's recipe, the way `convert` treats each frame of a video:
find and track the faces (`faces.finder.FaceFinder`), smooth each track's landmarks
(`convert.smoothing.TrackSmoother`), crop (`convert.recipe.crop_face`), render with the model, then
mask, match colours, warp back and blend (`convert.recipe.swap_face`), and put the provenance marks on.

Conversion knows every face before it starts (from the faceset); live finds them as frames arrive,
so the tracking and the smoothing run here, one frame at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from facetransfer.convert.blend import StableRect
from facetransfer.convert.config import FaceSettings
from facetransfer.convert.recipe import FaceCrop, crop_face, swap_face
from facetransfer.convert.smoothing import TrackSmoother
from facetransfer.faces.align import Coverage
from facetransfer.faces.finder import FaceFinder
from facetransfer.faces.landmarker import landmarks_bbox
from facetransfer.provenance import LabelPainter, Watermarker


class LivePredictor(Protocol):
    """What the swapper needs of a model (`convert.predictor.Predictor` and
    `export.runtime.OnnxPredictor` both are one)."""

    resolution: int
    coverage: Coverage

    def predict(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class FaceWork:
    """A frame between the model and the blend: its faces and their renderings."""

    image: np.ndarray
    faces: list[FaceCrop]
    renderings: list[tuple[np.ndarray, np.ndarray]]


def _box_area(landmarks: np.ndarray) -> float:
    x0, y0, x1, y1 = landmarks_bbox(landmarks)
    return (x1 - x0) * (y1 - y0)


class FrameSwapper:
    """Swaps the faces of consecutive live frames. `render` (find, smooth, crop, model) and `finish`
    (blend, mark) are separate so that a pipeline can run them on two threads."""

    def __init__(
        self,
        predictor: LivePredictor,
        finder: FaceFinder,
        settings: FaceSettings,
        smooth: float,
        all_faces: bool,
        marker: Watermarker | None,
        label: LabelPainter | None,
    ) -> None:
        self.predictor = predictor
        self.finder = finder
        self.settings = settings
        self.all_faces = all_faces
        self.smoother = TrackSmoother(smooth)
        self.marker = marker
        self.label = label
        self.stable_rects: dict[int, StableRect] = {}
        self._sequence = 0  # consecutive processed frames: a dropped input frame is no gap in a track

    def render(self, image: np.ndarray, time_s: float) -> FaceWork:
        """Find the faces of `image` (uint8 (H, W, 3) RGB captured at `time_s`) and render them."""
        observations, track_ids = self.finder.find(image)
        found = list(zip(observations, track_ids, strict=True))
        if not self.all_faces and len(found) > 1:
            found = [max(found, key=lambda item: _box_area(item[0].landmarks))]
        faces = []
        for observation, track_id in found:
            smoothed = self.smoother(track_id, self._sequence, time_s, observation.landmarks)
            faces.append(
                crop_face(image, smoothed, self.predictor.resolution, self.predictor.coverage, track_id)
            )
        seen = {face.track_id for face in faces}
        for track_id in [track for track in self.stable_rects if track not in seen]:
            self.stable_rects.pop(track_id)
            self.smoother.forget(track_id)
        self._sequence += 1
        renderings: list[tuple[np.ndarray, np.ndarray]] = []
        if faces:
            images, masks = self.predictor.predict(np.stack([face.crop for face in faces]))
            renderings = list(zip(images, masks, strict=True))
        return FaceWork(image, faces, renderings)

    def finish(self, work: FaceWork) -> tuple[np.ndarray, int]:
        """Blend the rendered faces into the frame and mark it. Returns (frame, faces pasted)."""
        image = work.image
        pasted = 0
        if work.faces:
            image = image.copy()  # the captured frame may be shared with the source
            for face, (rendering, learned) in zip(work.faces, work.renderings, strict=True):
                rect = self.stable_rects.setdefault(face.track_id, StableRect())
                if swap_face(image, face, rendering, learned, self.settings, rect) is not None:
                    pasted += 1
        if self.marker is not None:
            image = self.marker.embed(image)
        if self.label is not None:
            image = self.label.apply(image)  # on top of the mark, as in conversion
        return image, pasted
