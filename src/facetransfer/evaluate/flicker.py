"""Flicker: how much the face region changes from one frame to the next in the output, beyond what
the original target's own motion explains.

Two measures, both on luma (0-255) inside the target's face hull, for each pair of consecutive
evaluated frames:

- mean absolute difference (MAD): mean |frame_t - frame_t-1|. Simple, but it also counts real motion.
- warping error: the optical flow of the *target* from t to t-1 warps frame t-1 onto frame t; the
  error is the mean |frame_t - warp(frame_t-1)|. The target's motion is explained away, so what is
  left in the output is change the target did not have (flicker, jitter, noise, boiling texture).

Each is reported for the output and for the target; the *excess* (output minus target) is the
flicker the swap added, ~0 for an output that moves exactly like the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class FlickerSample:
    """One frame pair's measures, in luma levels (0-255)."""

    mad_output: float
    mad_target: float
    warp_output: float
    warp_target: float

    @property
    def mad_excess(self) -> float:
        return self.mad_output - self.mad_target

    @property
    def warp_excess(self) -> float:
        return self.warp_output - self.warp_target


def luma(image_rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W) luma of a uint8 RGB image."""
    return cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2GRAY)


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """sum(values * weights) / sum(weights); NaN when the weights sum to 0."""
    total = float(weights.sum())
    return float((values * weights).sum() / total) if total > 0 else float("nan")


def mean_absolute_change(previous: np.ndarray, current: np.ndarray, mask: np.ndarray) -> float:
    """Mask-weighted mean |current - previous| of two equal-sized single-channel images."""
    difference = np.abs(current.astype(np.float32) - previous.astype(np.float32))
    return weighted_mean(difference, mask)


def backward_warp(previous: np.ndarray, flow_current_to_previous: np.ndarray) -> np.ndarray:
    """float32: `previous` sampled at x + flow(x), i.e. frame t-1 moved onto frame t."""
    height, width = flow_current_to_previous.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x = grid_x + flow_current_to_previous[..., 0]
    map_y = grid_y + flow_current_to_previous[..., 1]
    return cv2.remap(
        previous.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


class FlickerMeter:
    """Flicker measures of one frame pair, with the target's optical flow (OpenCV's DIS flow)."""

    def __init__(self) -> None:
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # type: ignore[attr-defined]

    def flow(self, current: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """float32 (H, W, 2): for each pixel x of `current`, where it was in `previous` is x + flow(x)."""
        return self._flow.calc(np.ascontiguousarray(current), np.ascontiguousarray(previous), None)

    def measure(
        self,
        target_previous: np.ndarray,
        target_current: np.ndarray,
        output_previous: np.ndarray,
        output_current: np.ndarray,
        mask: np.ndarray,
    ) -> FlickerSample:
        """Measures of uint8 (h, w) luma crops (the same window in all four) with a float (h, w) mask."""
        flow = self.flow(target_current, target_previous)
        warp_target = np.abs(target_current.astype(np.float32) - backward_warp(target_previous, flow))
        warp_output = np.abs(output_current.astype(np.float32) - backward_warp(output_previous, flow))
        return FlickerSample(
            mad_output=mean_absolute_change(output_previous, output_current, mask),
            mad_target=mean_absolute_change(target_previous, target_current, mask),
            warp_output=weighted_mean(warp_output, mask),
            warp_target=weighted_mean(warp_target, mask),
        )
