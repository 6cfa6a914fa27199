"""Random variations of (crop, mask) pairs for fitting a mask model, so that a few dozen faces suffice.

Geometry (a horizontal flip and a small rotation, scale and shift) moves the crop and its mask
together; colour (brightness, contrast, saturation, per-channel gain) changes the crop only. Everything
runs on whole batches in PyTorch and draws from the `torch.Generator` it is given, so a seed fixes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional


@dataclass(frozen=True)
class AugmentRanges:
    """How far each variation goes (uniform in +-range unless said otherwise)."""

    rotation_deg: float = 12.0
    scale: float = 0.08
    """relative: 0.08 draws zoom factors in [0.92, 1.08]"""
    shift: float = 0.05
    """fraction of the side"""
    flip: bool = True
    brightness: float = 0.12
    """added, in [0, 1] units"""
    contrast: float = 0.25
    """relative, around each image's mean"""
    saturation: float = 0.3
    """relative, around each pixel's grey"""
    channel_gain: float = 0.08
    """relative, per RGB channel: a colour cast"""


def _uniform(count: int, spread: float, generator: torch.Generator) -> torch.Tensor:
    """float32 (count,) uniform in [-spread, spread]."""
    return (torch.rand(count, generator=generator) * 2.0 - 1.0) * spread


def random_affine(count: int, ranges: AugmentRanges, generator: torch.Generator) -> torch.Tensor:
    """float32 (count, 2, 3): for `affine_grid`, maps each output pixel (normalised [-1, 1] coordinates)
    to where it is read in the input: a rotation, a zoom, a shift and, for half of them, a mirror."""
    angle = _uniform(count, math.radians(ranges.rotation_deg), generator)
    # reading from a scaled grid zooms by its inverse; the spread is symmetric either way
    scale = 1.0 + _uniform(count, ranges.scale, generator)
    shift = _uniform(2 * count, 2.0 * ranges.shift, generator).reshape(count, 2)  # [-1, 1] spans 2
    mirror = torch.ones(count)
    if ranges.flip:
        mirror = torch.where(torch.rand(count, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0] = cos * mirror
    theta[:, 0, 1] = -sin
    theta[:, 1, 0] = sin * mirror
    theta[:, 1, 1] = cos
    theta[:, :, 2] = shift
    return theta


def warp_pairs(
    images: torch.Tensor, masks: torch.Tensor, theta: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp images float32 (N, 3, R, R) and masks float32 (N, 1, R, R) by the same `theta` (N, 2, 3).
    Pixels read from beyond the edge repeat the edge, in the crop and in its mask alike."""
    both = torch.cat([images, masks], dim=1)
    grid = functional.affine_grid(theta, list(both.shape), align_corners=False)
    warped = functional.grid_sample(both, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return warped[:, :3], warped[:, 3:]


def jitter_colour(images: torch.Tensor, ranges: AugmentRanges, generator: torch.Generator) -> torch.Tensor:
    """float32 (N, 3, R, R) in [0, 1] -> the same with random brightness, contrast, saturation and
    colour cast, clamped to [0, 1]."""
    count = images.shape[0]

    def per_image(spread: float) -> torch.Tensor:
        return _uniform(count, spread, generator).reshape(count, 1, 1, 1)

    grey = (images * torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)).sum(1, keepdim=True)
    images = grey + (images - grey) * (1.0 + per_image(ranges.saturation))
    mean = grey.mean(dim=(2, 3), keepdim=True)
    images = mean + (images - mean) * (1.0 + per_image(ranges.contrast))
    gain = 1.0 + _uniform(3 * count, ranges.channel_gain, generator).reshape(count, 3, 1, 1)
    images = images * gain + per_image(ranges.brightness)
    return images.clamp(0.0, 1.0)


def augment_batch(
    images: torch.Tensor,
    masks: torch.Tensor,
    generator: torch.Generator,
    ranges: AugmentRanges = AugmentRanges(),
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random variation of each pair: images float32 (N, 3, R, R) in [0, 1], masks float32
    (N, 1, R, R) in [0, 1] -> the same shapes and ranges."""
    theta = random_affine(images.shape[0], ranges, generator)
    images, masks = warp_pairs(images, masks, theta)
    return jitter_colour(images, ranges, generator), masks.clamp(0.0, 1.0)
