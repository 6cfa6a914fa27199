"""The conversion recipe for one face, in the order it happens.

1. `crop_face`: cut the aligned crop at the model's resolution and coverage from the (smoothed) landmarks;
2. the model renders the crop as the source person (batched across frames by the pipeline);
3. `swap_face`: build the mask, match the colours inside it, warp the face back and blend it.

The pipeline (`convert.pipeline`) only schedules these steps; what happens to a face is all here.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facetransfer.convert.blend import (
    Pasted,
    PasteOptions,
    StableRect,
    compose_mask,
    paste_face,
)
from facetransfer.convert.color import match_color
from facetransfer.convert.config import FaceSettings
from facetransfer.convert.smoothing import face_size_px
from facetransfer.faces.align import Coverage, alignment_matrices, apply_affine, warp_to_crop


# Automatic mask shaping, as fractions of the face size (`smoothing.face_size_px`, about 0.8 of the
# jaw width): erode a little so the hull's edge, which sits on the jaw line, does not show the target's
# jaw outline twice, and feather over about a tenth of the face.
@dataclass
class FaceCrop:
    """One target face ready for the model.

    `crop`: uint8 (R, R, 3) RGB aligned crop; `landmarks_frame` / `landmarks_crop`: float32 (68, 2);
    `frame_to_crop` / `crop_to_frame`: float32 (2, 3); `track_id`: the face track it belongs to;
    `face_mask`: float32 (R, R), the target faceset's own mask of this face (painted or stored) in this
    crop, or None to compute the skin mask from the crop.
    """

    track_id: int
    crop: np.ndarray
    landmarks_frame: np.ndarray
    landmarks_crop: np.ndarray
    frame_to_crop: np.ndarray
    crop_to_frame: np.ndarray
    face_mask: np.ndarray | None = None


def mask_into_crop(mask: np.ndarray, mask_to_frame: np.ndarray, face: FaceCrop) -> np.ndarray:
    """float32 (R, R): a mask of the same face in another crop (`mask_to_frame`: float (2, 3) from its
    pixels to the frame's) carried into `face`'s crop."""
    outer = np.vstack([np.asarray(mask_to_frame, np.float64), [0.0, 0.0, 1.0]])
    matrix = np.asarray(face.frame_to_crop, np.float64) @ outer
    size = face.crop.shape[0]
    return cv2.warpAffine(
        mask.astype(np.float32), matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0.0
    )


def crop_face(
    frame: np.ndarray, landmarks_frame: np.ndarray, resolution: int, coverage: Coverage, track_id: int = 0
) -> FaceCrop:
    """Step 1: the aligned crop of the face with these (smoothed) landmarks, at the model's resolution
    and coverage. `frame`: uint8 (H, W, 3) RGB."""
    frame_to_crop, crop_to_frame = alignment_matrices(landmarks_frame, resolution, coverage)
    return FaceCrop(
        track_id=track_id,
        crop=warp_to_crop(frame, frame_to_crop, resolution),
        landmarks_frame=np.asarray(landmarks_frame, dtype=np.float32),
        landmarks_crop=apply_affine(landmarks_frame, frame_to_crop),
        frame_to_crop=frame_to_crop,
        crop_to_frame=crop_to_frame,
    )


def swap_face(
    frame: np.ndarray,
    face: FaceCrop,
    predicted: np.ndarray,
    learned_mask: np.ndarray,
    settings: FaceSettings,
    stable_rect: StableRect | None = None,
) -> Pasted | None:
    """Steps 3 to 5 for one face: mask, colour, warp back, blend. `frame` (uint8 (H, W, 3) RGB) is
    changed in place.

    `predicted`: float32 (R, R, 3) RGB in [0, 1], the model's rendering of `face.crop` as the source
    person; `learned_mask`: float32 (R, R) in [0, 1], the model's mask for it. Returns the changed frame
    rectangle and its blend weights, or None when nothing was pasted (empty mask, face off-frame).
    """
    # 3. Mask, in crop space: the target's face (hull or skin), the model's learned mask, or both.
    mask = compose_mask(settings.mask, face.landmarks_crop, learned_mask, face.crop, face.face_mask)
    # 4. Colour: statistics of the rendering and of the target crop inside the mask only.
    target = face.crop.astype(np.float32) * np.float32(1.0 / 255.0)
    corrected = match_color(settings.color, predicted, target, mask)
    face_rgb = (corrected * 255.0 + 0.5).astype(np.uint8)
    # 5. Warp back through the inverse affine (only the face's rectangle), shape the mask in output
    #    pixels, blend.
    erode_px, blur_px = settings.shaping_px(face_size_px(face.landmarks_frame))
    options = PasteOptions(
        erode_px=erode_px,
        blur_px=blur_px,
        blend=settings.blend,
        face_scale=settings.face_scale,
        sharpen=settings.sharpen,
    )
    return paste_face(frame, face_rgb, mask, face.crop_to_frame, options, stable_rect)
