"""Putting a predicted face back into its frame: mask composition, warp back, shaping, blending.

Everything here works on the face's rectangle of the frame, never the whole frame: warping, eroding
and blurring a 1080p frame for a 300-pixel face would cost ten times what the face needs.

Conventions: crops are (S, S) square, in the model's crop space; frames are uint8 (H, W, 3) RGB;
masks are float32 in [0, 1]; a `Placement` maps crop pixels to a rectangle of the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import cv2
import numpy as np

from facetransfer.faces.masks import erode_or_dilate, face_hull_mask, feather
from facetransfer.faces.skin import skin_mask

MaskKind = Literal["skin*learned", "skin", "hull*learned", "hull", "learned"]
MASK_KINDS: tuple[str, ...] = get_args(MaskKind)
BlendMode = Literal["alpha", "poisson"]
BLEND_MODES: tuple[str, ...] = get_args(BlendMode)

# Mask values below this count as outside (the bounding box of a feathered mask would otherwise be
# the whole rectangle, because a Gaussian never quite reaches zero).
_MASK_FLOOR = 1.0 / 255.0


def compose_mask(
    kind: str,
    landmarks_crop: np.ndarray,
    learned_mask: np.ndarray | None,
    crop_rgb: np.ndarray,
    face_mask: np.ndarray | None = None,
) -> np.ndarray:
    """float32 (S, S) in [0, 1]: the face mask in crop space.

    `hull`: the convex hull of the jaw and raised brows (from the landmarks); `skin`: the hull's face
    pixels in the target crop `crop_rgb` (uint8 (S, S, 3) RGB; its hair, glasses, hands and objects
    stay in front of the swapped face, see `faces.skin`); `learned`: the model's own mask output (where
    the rendered face is face); `hull*learned`, `skin*learned`: their products, the pixels that are
    face in the target and in the rendering alike. `face_mask` (float32 (S, S)), when given, is the
    target's skin mask known already (painted by a user, or stored in its faceset).
    """
    if kind not in MASK_KINDS:
        raise ValueError(f"mask must be one of {MASK_KINDS}, not {kind!r}")
    crop_size = crop_rgb.shape[0]
    region = kind.split("*")[0]
    if region == "learned":
        shape = None
    elif region == "skin":
        shape = skin_mask(crop_rgb, landmarks_crop) if face_mask is None else face_mask
    else:
        shape = face_hull_mask(landmarks_crop, crop_size, crop_size)
    if not kind.endswith("learned"):
        assert shape is not None
        return shape
    if learned_mask is None:
        raise ValueError(f"mask {kind!r} needs the model's learned mask")
    learned = np.clip(learned_mask.astype(np.float32, copy=False), 0.0, 1.0)
    if learned.shape != (crop_size, crop_size):
        raise ValueError(f"expected a learned mask of shape {(crop_size, crop_size)}, found {learned.shape}")
    return learned if shape is None else shape * learned


@dataclass(frozen=True)
class Placement:
    """Where a crop lands in the frame.

    `x0, y0, x1, y1`: the frame rectangle (integer pixels, end exclusive, inside the frame) that the
    face region covers; `crop_to_rect`: float64 (2, 3) affine from crop pixels to that rectangle's
    pixels; `scale`: output pixels per crop pixel.
    """

    x0: int
    y0: int
    x1: int
    y1: int
    crop_to_rect: np.ndarray
    scale: float

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def slices(self) -> tuple[slice, slice]:
        """(rows, columns) of the rectangle in the frame."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def scaled_about(
    crop_to_frame: np.ndarray, centre_crop: tuple[float, float], face_scale: float
) -> np.ndarray:
    """float64 (2, 3): `crop_to_frame` followed by a scaling by `face_scale` about the frame point that
    `centre_crop` maps to (the face grows or shrinks in place)."""
    matrix = np.asarray(crop_to_frame, dtype=np.float64)
    if face_scale == 1.0:
        return matrix.copy()
    centre = matrix[:, :2] @ np.asarray(centre_crop, dtype=np.float64) + matrix[:, 2]
    scaled = matrix.copy()
    scaled[:, :2] *= face_scale
    scaled[:, 2] = face_scale * matrix[:, 2] + (1.0 - face_scale) * centre
    return scaled


def place(
    crop_to_frame: np.ndarray,
    region_crop: tuple[float, float, float, float],
    frame_height: int,
    frame_width: int,
    margin_px: float = 0.0,
) -> Placement | None:
    """The frame rectangle covering `region_crop` (x0, y0, x1, y1 in crop pixels) mapped by
    `crop_to_frame`, grown by `margin_px` output pixels and clipped to the frame; None when it falls
    outside the frame."""
    matrix = np.asarray(crop_to_frame, dtype=np.float64)
    x0, y0, x1, y1 = region_crop
    corners = (
        np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64) @ matrix[:, :2].T + matrix[:, 2]
    )
    left = max(0, math.floor(corners[:, 0].min() - margin_px))
    top = max(0, math.floor(corners[:, 1].min() - margin_px))
    right = min(frame_width, math.ceil(corners[:, 0].max() + margin_px) + 1)
    bottom = min(frame_height, math.ceil(corners[:, 1].max() + margin_px) + 1)
    if right <= left or bottom <= top:
        return None
    crop_to_rect = matrix.copy()
    crop_to_rect[:, 2] -= (left, top)
    scale = math.sqrt(abs(float(np.linalg.det(matrix[:, :2]))))
    return Placement(left, top, right, bottom, crop_to_rect, scale)


def mask_region(mask_crop: np.ndarray) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) crop-pixel bounding box of the mask's non-zero part, or None if it is empty."""
    rows = np.flatnonzero(mask_crop.max(1) > _MASK_FLOOR)
    columns = np.flatnonzero(mask_crop.max(0) > _MASK_FLOOR)
    if len(rows) == 0:
        return None
    return float(columns[0]), float(rows[0]), float(columns[-1] + 1), float(rows[-1] + 1)


def warp_face(face_crop: np.ndarray, placement: Placement) -> np.ndarray:
    """The crop (S, S, C) warped into the placement's rectangle (h, w, C), same dtype, bilinear; outside
    the crop the edge pixels repeat (the mask is zero there anyway). OpenCV's bicubic warp is eight times
    slower (22 ms against 3 ms for a 600 px face) for a difference the feathered, colour-matched face
    does not show."""
    return cv2.warpAffine(
        face_crop,
        placement.crop_to_rect,
        (placement.width, placement.height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def warp_mask(mask_crop: np.ndarray, placement: Placement) -> np.ndarray:
    """float32 (h, w): the crop-space mask in the placement's rectangle; zero outside the crop."""
    return cv2.warpAffine(
        mask_crop.astype(np.float32, copy=False),
        placement.crop_to_rect,
        (placement.width, placement.height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def shaped_mask(mask_crop: np.ndarray, placement: Placement, erode_px: int, blur_px: int) -> np.ndarray:
    """float32 (h, w): the crop-space mask warped into the placement's rectangle and shaped there
    (`shape_mask`) in output pixels.

    A wide feather on a large face (a 1080p close-up: blur 40 px, erode 12 px) would cost tens of
    milliseconds at full resolution, for a mask that is smooth anyway: it is then shaped on a grid
    `blur_px // 8` output pixels apart and resized up (the erosion is then exact to half that step)."""
    step = max(1, blur_px // 8)
    if step == 1:
        return shape_mask(warp_mask(mask_crop, placement), erode_px, blur_px)
    small_width, small_height = -(-placement.width // step), -(-placement.height // step)
    # Small pixel i stands for output pixel i * step + (step - 1) / 2, the centre cv2.resize maps it to.
    matrix = placement.crop_to_rect.copy()
    matrix[:, 2] -= (step - 1) / 2.0
    matrix /= step
    small = cv2.warpAffine(
        mask_crop.astype(np.float32, copy=False),
        matrix,
        (small_width, small_height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    small = shape_mask(small, round(erode_px / step), round(blur_px / step))
    full = cv2.resize(small, (small_width * step, small_height * step), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(full[: placement.height, : placement.width])


def shape_mask(mask: np.ndarray, erode_px: int, blur_px: int) -> np.ndarray:
    """float32: `mask` eroded by `erode_px` output pixels (negative dilates), then feathered so its
    edge ramps over about `blur_px` output pixels (a Gaussian of sigma blur/2 centred on the edge)."""
    return np.clip(feather(erode_or_dilate(mask, int(erode_px)), int(blur_px)), 0.0, 1.0)


def shaping_margin_px(erode_px: int, blur_px: int) -> float:
    """Output pixels by which shaping can grow a mask: the dilation plus the Gaussian's reach."""
    return max(0, -erode_px) + 1.5 * max(0, blur_px) + 2


def sharpen(image: np.ndarray, amount: float, radius_px: float = 1.0) -> np.ndarray:
    """Unsharp mask: image + amount * (image - blur(image)); uint8 in, uint8 out. 0 returns a copy."""
    if amount <= 0:
        return image.copy()
    blurred = cv2.GaussianBlur(image, (0, 0), radius_px)
    return cv2.addWeighted(image, 1.0 + amount, blurred, -amount, 0.0)


def alpha_blend(frame_rect: np.ndarray, face_rect: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 (h, w, 3): frame * (1 - alpha) + face * alpha, rounded (`cv2.blendLinear`: the same numbers
    as the numpy expression, twenty times faster)."""
    weight = np.ascontiguousarray(alpha, dtype=np.float32)
    return cv2.blendLinear(face_rect, frame_rect, weight, 1.0 - weight)


def poisson_blend(frame_rect: np.ndarray, face_rect: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 (h, w, 3): the face cloned into the frame with Poisson (gradient-domain) blending, then
    alpha-blended with `alpha` so that nothing outside the mask changes and the edge stays soft.

    `cv2.seamlessClone` places the source's mask bounding box at `centre - size // 2`; the centre is
    computed here from that same bounding box, so the face lands exactly where it was warped, with no
    rounding shift. A centre rounded from the face's own (moving, fractional) position shifts the
    face by a pixel now and then, which is the jitter Poisson blending is known for.
    """
    height, width = alpha.shape
    support = (alpha > _MASK_FLOOR).astype(np.uint8) * 255
    support[[0, -1], :] = 0  # seamlessClone clears the border itself; do it here so the box agrees
    support[:, [0, -1]] = 0
    if height < 3 or width < 3 or not support.any():
        return frame_rect.copy()
    x, y, box_width, box_height = cv2.boundingRect(support)
    centre = (x + box_width // 2, y + box_height // 2)
    cloned = cv2.seamlessClone(face_rect, frame_rect, support, centre, cv2.NORMAL_CLONE)
    return alpha_blend(frame_rect, cloned, alpha)


class StableRect:
    """A rectangle that follows a face but only moves when the face leaves it (Poisson blending works
    on it, so its domain is the same from frame to frame while the head is still).

    `update(x0, y0, x1, y1)` returns the rectangle to use for a face whose rectangle is given: the held
    one if it still contains the face and is not more than twice its area, else the face's rectangle
    grown by `slack` of its size.
    """

    def __init__(self, slack: float = 0.15) -> None:
        self.slack = slack
        self.rect: tuple[int, int, int, int] | None = None

    def update(
        self, x0: int, y0: int, x1: int, y1: int, frame_height: int, frame_width: int
    ) -> tuple[int, int, int, int]:
        held = self.rect
        area = max(1, (x1 - x0) * (y1 - y0))
        if (
            held is not None
            and held[0] <= x0
            and held[1] <= y0
            and held[2] >= x1
            and held[3] >= y1
            and (held[2] - held[0]) * (held[3] - held[1]) <= 2.5 * area
        ):
            return held
        grow_x, grow_y = round(self.slack * (x1 - x0)), round(self.slack * (y1 - y0))
        self.rect = (
            max(0, x0 - grow_x),
            max(0, y0 - grow_y),
            min(frame_width, x1 + grow_x),
            min(frame_height, y1 + grow_y),
        )
        return self.rect


@dataclass(frozen=True)
class PasteOptions:
    """How a face goes back into the frame. Pixels are output (frame) pixels."""

    erode_px: int = 0
    blur_px: int = 0
    blend: BlendMode = "alpha"
    face_scale: float = 1.0
    sharpen: float = 0.0


@dataclass
class Pasted:
    """What `paste_face` did: the frame rectangle it changed and the blend weight used there (for the
    mask video)."""

    x0: int
    y0: int
    x1: int
    y1: int
    alpha: np.ndarray


def paste_face(
    frame: np.ndarray,
    face_crop: np.ndarray,
    mask_crop: np.ndarray,
    crop_to_frame: np.ndarray,
    options: PasteOptions,
    stable_rect: StableRect | None = None,
) -> Pasted | None:
    """Warp the predicted face (uint8 (S, S, 3) RGB) and its mask (float32 (S, S)) back into `frame`
    (uint8 (H, W, 3), changed in place) and blend it there. Returns what was changed, or None when the
    mask is empty or the face lies outside the frame."""
    crop_size = face_crop.shape[0]
    region = mask_region(mask_crop)
    if region is None:
        return None
    centre = (crop_size / 2.0, crop_size / 2.0)
    matrix = scaled_about(crop_to_frame, centre, options.face_scale)
    frame_height, frame_width = frame.shape[:2]
    margin = shaping_margin_px(options.erode_px, options.blur_px)
    placement = place(matrix, region, frame_height, frame_width, margin)
    if placement is None:
        return None
    if options.blend == "poisson" and stable_rect is not None:
        # Work on the held rectangle (it contains the face's rectangle or has just been reset to it).
        x0, y0, x1, y1 = stable_rect.update(
            placement.x0, placement.y0, placement.x1, placement.y1, frame_height, frame_width
        )
        crop_to_rect = np.asarray(matrix, dtype=np.float64).copy()
        crop_to_rect[:, 2] -= (x0, y0)
        placement = Placement(x0, y0, x1, y1, crop_to_rect, placement.scale)
    face = warp_face(face_crop, placement)
    if options.sharpen > 0:
        face = sharpen(face, options.sharpen, radius_px=max(1.0, 0.5 * placement.scale))
    alpha = shaped_mask(mask_crop, placement, options.erode_px, options.blur_px)
    rows, columns = placement.slices
    frame_rect = frame[rows, columns]
    if options.blend == "poisson":
        blended = poisson_blend(frame_rect, face, alpha)
    else:
        blended = alpha_blend(frame_rect, face, alpha)
    frame[rows, columns] = blended
    return Pasted(placement.x0, placement.y0, placement.x1, placement.y1, alpha)
