"""Scene cuts, found while frames stream through extraction, conversion and evaluation.

At a cut every face track ends (extraction), and the smoothing of every track restarts (conversion:
a swapped face must not glide from one shot into the next), and a track that seems to continue across
the cut is checked again, because the tracker may have linked two different people who stood in the
same place in the two shots.

The test is the colour histogram: the share of pixels that changed hue/saturation/value bin between
two frames (half the L1 distance of the normalised 8x4x4 HSV histograms of a 64x36 thumbnail). On the
shared media, frames within a shot stay below 0.07 (0.27 for a flapping bird filling the frame),
and the three cuts of `hamilton_multiface_cuts.mp4` measure 0.32 to 0.56; a mean-brightness test of a
grey thumbnail misses its third cut (26 of 255).
"""

from __future__ import annotations

import cv2
import numpy as np

DEFAULT_CUT_THRESHOLD = 0.3
_THUMB_SIZE = (64, 36)
_BINS = [8, 4, 4]
_RANGES = [0, 180, 0, 256, 0, 256]


def colour_signature(image_rgb: np.ndarray) -> np.ndarray:
    """float32 (128,) normalised HSV histogram of a small thumbnail of a uint8 (H, W, 3) RGB frame."""
    thumb = cv2.resize(image_rgb, _THUMB_SIZE, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(thumb, cv2.COLOR_RGB2HSV)
    histogram = cv2.calcHist([hsv], [0, 1, 2], None, _BINS, _RANGES).ravel()
    return (histogram / max(float(histogram.sum()), 1.0)).astype(np.float32)


def signature_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Share of pixels whose colour bin changed, 0 (same colours) to 1 (no colour in common)."""
    return 0.5 * float(np.abs(first - second).sum())


class CutDetector:
    """`is_cut(frame)` is True for the first frame of a new shot (never for the first frame seen)."""

    def __init__(self, threshold: float = DEFAULT_CUT_THRESHOLD) -> None:
        self.threshold = threshold
        self._previous: np.ndarray | None = None

    def is_cut(self, image_rgb: np.ndarray) -> bool:
        signature = colour_signature(image_rgb)
        previous, self._previous = self._previous, signature
        return previous is not None and signature_distance(previous, signature) > self.threshold

    def reset(self) -> None:
        """Forget the previous frame (a new input starts)."""
        self._previous = None
