"""Invisible watermark, embedding side: add the pattern tile to the luma of each frame.

The tile (see `pattern`) is built once per output size and repeated over the frame. Each frame gets
it with a per-pixel amplitude that follows the picture: `FLAT_RMS` luma levels on flat areas (a flat
sky or the blue GRID backdrop, where a stronger mark shows as a faint mottle when zoomed in) rising to
`TEXTURE_RMS` on texture and edges, which hide it. If that would push the marked region's PSNR below
`MIN_PSNR_DB`, the texture part is scaled down, so the mark never costs more than that.

The same value is added to R, G and B. That changes luma (Y of any Y'CbCr, whose weights sum to 1)
and leaves Cb and Cr as they were: H.264 in yuv420p keeps chroma at half resolution and coarser
quantisation, so a mark in colour would not survive.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from facetransfer.provenance.pattern import pattern_tile, tile_px_for

FLAT_RMS = 1.0
"""Luma RMS (0-255 levels) of the mark on flat areas at strength 1."""
TEXTURE_RMS = 3.5
"""Luma RMS of the mark on textured areas at strength 1."""
FLAT_ACTIVITY = 1.5
TEXTURE_ACTIVITY = 8.0
"""Local activity (mean absolute luma detail, levels) up to which the flat amplitude applies and from
which the texture amplitude applies; linear in between."""
MIN_PSNR_DB = 40.5
"""At strength 1 the marked region's PSNR stays at or above this (before rounding to whole levels)."""
ACTIVITY_SHORT_SIDE_PX = 144
_MAGNITUDE_SCALE = 32.0  # |pattern| up to 7.97 (the unit-RMS pattern peaks near 4.5)
_AMPLITUDE_SCALE = 8.0  # amplitude up to 31.9 levels RMS, in steps of 1/8
"""The activity map is computed on a copy of the frame with this short side (cheap at 1080p)."""


class Watermarker:
    """Adds the watermark for one payload to frames of one size.

    The pattern for the whole frame is built here, once (10 ms at 360x288, 140-260 ms at 1080p on the
    shared 2-core test machine); `embed` then costs 0.4-1 ms per 360x288 frame and 6-14 ms per 1080p
    frame there (uint8 OpenCV arithmetic; safe to call from several threads).

    Args:
        width, height: frame size in pixels.
        payload: a 32-bit payload (`new_payload()`), or its 4 bytes (big-endian).
        strength: amplitude multiplier; 1.0 is the default (PSNR >= 40.5 dB); larger is sturdier
            against re-encoding and more visible, 0 leaves frames unchanged.
    """

    def __init__(self, width: int, height: int, payload: bytes | int, strength: float = 1.0) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        if not strength >= 0:
            raise ValueError(f"watermark strength must be >= 0, got {strength}")
        if isinstance(payload, bytes):
            if len(payload) != 4:
                raise ValueError(f"a bytes payload must be 4 bytes long, got {len(payload)}")
            payload = int.from_bytes(payload, "big")
        self.width, self.height = int(width), int(height)
        self.payload = int(payload)
        self.strength = float(strength)
        self.tile_px = tile_px_for(self.width, self.height)
        tile = pattern_tile(self.payload, self.tile_px)
        reps_y = -(-self.height // self.tile_px)
        reps_x = -(-self.width // self.tile_px)
        pattern = np.tile(tile, (reps_y, reps_x))[: self.height, : self.width]
        # Per frame only the magnitudes are scaled: the sign of the change at a pixel is the
        # pattern's (the amplitude is positive). Fixed point keeps the per-frame work in uint8:
        # |pattern| * MAGNITUDE_SCALE and amplitude * AMPLITUDE_SCALE, product / 256.
        self._magnitude = np.clip(np.rint(np.abs(pattern) * _MAGNITUDE_SCALE), 0, 255).astype(np.uint8)
        self._brighter_mask = np.where(pattern > 0, 255, 0).astype(np.uint8)
        self._darker_mask = cv2.bitwise_not(self._brighter_mask)
        # The activity map is computed on a copy shrunk by a whole factor (fast area averaging).
        self._shrink = _shrink_factor(self.width, self.height)
        self._small_size = (max(1, self.width // self._shrink), max(1, self.height // self._shrink))

    def activity(self, frame_rgb: np.ndarray) -> np.ndarray:
        """float32 local luma activity (mean absolute detail, levels) on the small copy of the frame."""
        luma = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY)
        if self._shrink > 1:
            # A whole factor takes OpenCV's fast area-averaging path (3x faster than a fractional one).
            width, height = self._small_size
            if luma.shape != (height * self._shrink, width * self._shrink):
                luma = np.ascontiguousarray(luma[: height * self._shrink, : width * self._shrink])
            luma = cv2.resize(luma, self._small_size, interpolation=cv2.INTER_AREA)
        luma = luma.astype(np.float32)
        detail = cv2.absdiff(luma, cv2.GaussianBlur(luma, (0, 0), 1.0))
        return cv2.GaussianBlur(detail, (0, 0), 1.0)

    def amplitude(self, frame_rgb: np.ndarray, weights_small: np.ndarray | None = None) -> np.ndarray:
        """float32 amplitude map (luma RMS levels at strength 1) on the small copy of the frame.

        `weights_small`: the region mask at the small size, so the PSNR cap counts only that region.
        """
        texture = np.clip(
            (self.activity(frame_rgb) - FLAT_ACTIVITY) / (TEXTURE_ACTIVITY - FLAT_ACTIVITY), 0.0, 1.0
        )
        if weights_small is None:
            mean_t, mean_t2 = float(texture.mean()), float(np.mean(texture * texture))
        else:
            total = max(float(weights_small.sum()), 1e-6)
            mean_t = float(np.sum(texture * weights_small)) / total
            mean_t2 = float(np.sum(texture * texture * weights_small)) / total
        rise = (TEXTURE_RMS - FLAT_RMS) * _texture_share(mean_t, mean_t2)
        return FLAT_RMS + rise * texture

    def embed(self, frame_rgb: np.ndarray, region_mask: np.ndarray | None = None) -> np.ndarray:
        """Return a marked copy of `frame_rgb`.

        Args:
            frame_rgb: uint8 (height, width, 3) RGB.
            region_mask: None to mark the whole frame, or a (height, width) mask of the pixels to
                mark (bool, uint8 0-255 or float 0-1); soft edges fade the mark in.

        Returns:
            uint8 (height, width, 3) RGB; pixels where the mask is 0 are unchanged.
        """
        if frame_rgb.dtype != np.uint8 or frame_rgb.shape != (self.height, self.width, 3):
            raise ValueError(
                f"expected a uint8 ({self.height}, {self.width}, 3) RGB frame, got {frame_rgb.dtype} "
                f"{frame_rgb.shape}"
            )
        if self.strength == 0:
            return frame_rgb.copy()
        weights = None if region_mask is None else mask_weights(region_mask, (self.height, self.width))
        weights_small = (
            None if weights is None else cv2.resize(weights, self._small_size, interpolation=cv2.INTER_AREA)
        )
        amplitude_small = self.amplitude(frame_rgb, weights_small) * (self.strength * _AMPLITUDE_SCALE)
        amplitude = cv2.resize(
            np.clip(np.rint(amplitude_small), 0, 255).astype(np.uint8),
            (self.width, self.height),
            interpolation=cv2.INTER_LINEAR,
        )
        if weights is not None:
            weights_u8 = np.rint(weights * 255.0).astype(np.uint8)
            amplitude = cv2.multiply(amplitude, weights_u8, scale=1.0 / 255.0)
        # Rounded magnitudes split by sign, so the additions below are OpenCV's saturating uint8
        # arithmetic: every channel becomes clip(value + round(change), 0, 255).
        magnitude = cv2.multiply(
            self._magnitude, amplitude, scale=1.0 / (_MAGNITUDE_SCALE * _AMPLITUDE_SCALE)
        )
        brighter = cv2.cvtColor(cv2.bitwise_and(magnitude, self._brighter_mask), cv2.COLOR_GRAY2RGB)
        darker = cv2.cvtColor(cv2.bitwise_and(magnitude, self._darker_mask), cv2.COLOR_GRAY2RGB)
        marked = cv2.add(frame_rgb, brighter)
        return cv2.subtract(marked, darker, dst=marked)


def _shrink_factor(width: int, height: int) -> int:
    """Whole factor that brings the short side near ACTIVITY_SHORT_SIDE_PX, dividing both sides if
    one does (1920x1080 -> 6, 360x288 -> 2), so no edge pixels are dropped."""
    largest = max(1, min(width, height) // ACTIVITY_SHORT_SIDE_PX)
    for factor in range(largest, max(1, largest // 2) - 1, -1):
        if width % factor == 0 and height % factor == 0:
            return factor
    return largest


def _texture_share(mean_t: float, mean_t2: float) -> float:
    """Largest c in [0, 1] with mean((FLAT + c (TEXTURE - FLAT) t)^2) <= the MIN_PSNR_DB budget."""
    budget = 255.0**2 / 10 ** (MIN_PSNR_DB / 10)
    rise = TEXTURE_RMS - FLAT_RMS
    a = rise * rise * mean_t2
    b = 2.0 * FLAT_RMS * rise * mean_t
    c0 = FLAT_RMS * FLAT_RMS - budget
    if a + b + c0 <= 0 or a <= 0:
        return 1.0
    return max(0.0, min(1.0, (-b + math.sqrt(max(b * b - 4 * a * c0, 0.0))) / (2 * a)))


def mask_weights(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """float32 (H, W) weights in [0, 1] from a bool, uint8 (0-255) or float (0-1) mask."""
    if mask.shape[:2] != shape:
        raise ValueError(f"region mask must be {shape[0]}x{shape[1]}, got {mask.shape[:2]}")
    if mask.ndim == 3:
        mask = mask[:, :, 0]
    if mask.dtype == np.bool_:
        return mask.astype(np.float32)
    if mask.dtype == np.uint8:
        return mask.astype(np.float32) / np.float32(255.0)
    return np.clip(mask.astype(np.float32), 0.0, 1.0)
