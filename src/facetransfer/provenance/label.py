"""Optional visible label ("--label TEXT"): text on a dark box in a corner of every frame."""

from __future__ import annotations

import cv2
import numpy as np

from facetransfer.provenance.config import LabelCorner

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_HEIGHT_SHARE = 0.035  # text height as a share of the frame's short side
_MIN_SCALE = 0.35


class LabelPainter:
    """Draws one label on frames of one size; the overlay is rendered once here.

    Args:
        width, height: frame size.
        text: the label (ASCII; other characters are replaced with '?').
        corner: "top-left", "top-right", "bottom-left" or "bottom-right".
        opacity: 0..1, how strongly the box and text cover the frame.
    """

    def __init__(self, width: int, height: int, text: str, corner: LabelCorner, opacity: float) -> None:
        self.width, self.height = width, height
        safe_text = text.encode("ascii", errors="replace").decode("ascii")
        short_side = min(width, height)
        scale = max(_MIN_SCALE, _HEIGHT_SHARE * short_side / 22.0)  # Hershey simplex caps are ~22 px at 1.0
        thickness = max(1, round(scale * 1.6))
        (text_w, text_h), baseline = cv2.getTextSize(safe_text, _FONT, scale, thickness)
        pad = max(2, round(0.4 * text_h))
        margin = max(2, round(0.02 * short_side))
        box_w = min(width, text_w + 2 * pad)
        box_h = min(height, text_h + baseline + 2 * pad)
        x0 = margin if corner.endswith("left") else max(0, width - margin - box_w)
        y0 = margin if corner.startswith("top") else max(0, height - margin - box_h)
        self.rect = (x0, y0, min(box_w, width - x0), min(box_h, height - y0))
        box = np.zeros((box_h, box_w, 3), dtype=np.uint8)
        cv2.putText(
            box, safe_text, (pad, pad + text_h), _FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA
        )
        self._overlay = box[: self.rect[3], : self.rect[2]]
        self._opacity = float(opacity)

    def apply(self, frame_rgb: np.ndarray) -> np.ndarray:
        """A copy of `frame_rgb` (uint8 (H, W, 3) RGB) with the label blended in."""
        out = frame_rgb.copy()
        x0, y0, w, h = self.rect
        region = out[y0 : y0 + h, x0 : x0 + w]
        cv2.addWeighted(self._overlay, self._opacity, region, 1.0 - self._opacity, 0.0, dst=region)
        return out
