"""Colour transfer between a predicted face and the target face it replaces (pure numpy + OpenCV).

Every matcher has the signature ``match(source, target, mask) -> corrected``:

- ``source``: float32 (H, W, 3) RGB in [0, 1], the face predicted by the model (its colours are wrong);
- ``target``: float32 (H, W, 3) RGB in [0, 1], the aligned crop of the target frame (colours to match);
- ``mask``: float32 (H, W) in [0, 1]; statistics of both images are computed only where ``mask >= 0.5``,
  so the background of the crop (hair, wall, another person) does not pull the colours;
- returns float32 (H, W, 3) RGB in [0, 1]: the whole ``source`` transformed by the mapping that makes its
  in-mask statistics match the target's (the whole image, so the feathered edge of the blend, which
  reaches a few pixels outside the mask, gets the same correction).

What each one promises, inside the mask (before the final clip to [0, 1]):

=======  ==========================================================  ================================
name     method                                                      matches
=======  ==========================================================  ================================
none     no change
avg      mean shift in RGB                                           mean
rct      Reinhard: per-channel mean and deviation in CIE L*a*b*      Lab mean and standard deviations
lct      linear transform x -> T (x - mean_s) + mean_t, T = C_t^1/2 C_s^-1/2   RGB mean and covariance
mkl      Monge-Kantorovich linear map (Pitie 2007): the covariance-    RGB mean and covariance, with
         matching linear map that moves colours the least              the least change of the source
idt      iterative distribution transfer (Pitie 2005): 1-D histogram    the 3-D distribution
         matching along rotated axes, repeated                          (approximately)
hist     per-channel histogram matching in RGB                       each channel's histogram
=======  ==========================================================  ================================

The default is chosen by measurement on the shared GRID pairs (see ``docs/CONVERT.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import cv2
import numpy as np

ColorMode = Literal["none", "rct", "lct", "mkl", "idt", "hist", "avg"]
COLOR_MODES: tuple[str, ...] = get_args(ColorMode)
DEFAULT_COLOR_MODE: ColorMode = "rct"

ColorMatcher = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
COLOR_MATCHERS: dict[str, ColorMatcher] = {}

# Fewer pixels than this inside the mask: statistics are noise, leave the face as it is.
MIN_MASK_PIXELS = 32
# Added to covariance diagonals: a flat-coloured face (one channel constant) must not blow up C^-1/2.
_COVARIANCE_EPS = 1e-5
_BINS = 256


def register_matcher(name: str) -> Callable[[ColorMatcher], ColorMatcher]:
    def decorate(function: ColorMatcher) -> ColorMatcher:
        if name not in COLOR_MODES:
            raise ValueError(f"colour matcher {name!r} is not one of {COLOR_MODES}")
        COLOR_MATCHERS[name] = function
        return function

    return decorate


def match_color(mode: str, source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Apply the matcher named `mode` (one of `COLOR_MODES`). Shapes and ranges: see the module doc."""
    try:
        matcher = COLOR_MATCHERS[mode]
    except KeyError:
        raise ValueError(f"colour mode must be one of {COLOR_MODES}, not {mode!r}") from None
    _check(source, target, mask)
    return matcher(source, target, mask)


def _check(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> None:
    if source.ndim != 3 or source.shape[2] != 3 or target.shape != source.shape:
        raise ValueError(f"expected two (H, W, 3) images of one shape, found {source.shape} and {target.shape}")
    if mask.shape != source.shape[:2]:
        raise ValueError(f"expected a mask of shape {source.shape[:2]}, found {mask.shape}")


def _inside(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float64 (N, C): the pixels of `image` where the mask is at least 0.5."""
    return image[mask >= 0.5].astype(np.float64)


def _finish(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0.0, 1.0).astype(np.float32, copy=False)


@register_matcher("none")
def match_none(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return source.astype(np.float32, copy=True)


@register_matcher("avg")
def match_mean(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    source_pixels, target_pixels = _inside(source, mask), _inside(target, mask)
    if len(source_pixels) < MIN_MASK_PIXELS:
        return match_none(source, target, mask)
    shift = (target_pixels.mean(0) - source_pixels.mean(0)).astype(np.float32)
    return _finish(source + shift)


@register_matcher("rct")
def match_reinhard(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    # OpenCV's float Lab: L in [0, 100], a and b about [-127, 127]; sRGB input in [0, 1].
    source_lab = cv2.cvtColor(source.astype(np.float32, copy=False), cv2.COLOR_RGB2Lab)
    target_lab = cv2.cvtColor(target.astype(np.float32, copy=False), cv2.COLOR_RGB2Lab)
    source_pixels, target_pixels = _inside(source_lab, mask), _inside(target_lab, mask)
    if len(source_pixels) < MIN_MASK_PIXELS:
        return match_none(source, target, mask)
    source_mean, target_mean = source_pixels.mean(0), target_pixels.mean(0)
    source_std, target_std = source_pixels.std(0), target_pixels.std(0)
    gain = np.where(source_std > 1e-6, target_std / np.maximum(source_std, 1e-6), 1.0)
    corrected = (source_lab - source_mean.astype(np.float32)) * gain.astype(np.float32) + target_mean.astype(
        np.float32
    )
    return _finish(cv2.cvtColor(corrected.astype(np.float32), cv2.COLOR_Lab2RGB))


def _symmetric_power(matrix: np.ndarray, power: float) -> np.ndarray:
    """matrix ** power for a symmetric positive semi-definite 3x3 matrix (eigenvalues floored)."""
    values, vectors = np.linalg.eigh(matrix)
    # Floor relative to the largest eigenvalue: products of covariances (mkl) are ~1e-6 for real faces.
    values = np.maximum(values, max(float(values.max()), 1e-30) * 1e-9)
    return (vectors * values**power) @ vectors.T


def _moments(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = pixels.mean(0)
    centred = pixels - mean
    covariance = centred.T @ centred / len(pixels) + _COVARIANCE_EPS * np.eye(3)
    return mean, covariance


def _apply_linear(source: np.ndarray, transform: np.ndarray, source_mean: np.ndarray, target_mean: np.ndarray):
    # x' = T (x - m_s) + m_t, written as one (H*W, 3) @ (3, 3) product plus one offset.
    offset = target_mean - transform @ source_mean
    flat = source.reshape(-1, 3) @ transform.T.astype(np.float32) + offset.astype(np.float32)
    return _finish(flat.reshape(source.shape))


@register_matcher("lct")
def match_linear(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    source_pixels, target_pixels = _inside(source, mask), _inside(target, mask)
    if len(source_pixels) < MIN_MASK_PIXELS:
        return match_none(source, target, mask)
    source_mean, source_cov = _moments(source_pixels)
    target_mean, target_cov = _moments(target_pixels)
    transform = _symmetric_power(target_cov, 0.5) @ _symmetric_power(source_cov, -0.5)
    return _apply_linear(source, transform, source_mean, target_mean)


@register_matcher("mkl")
def match_monge_kantorovich(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    source_pixels, target_pixels = _inside(source, mask), _inside(target, mask)
    if len(source_pixels) < MIN_MASK_PIXELS:
        return match_none(source, target, mask)
    source_mean, source_cov = _moments(source_pixels)
    target_mean, target_cov = _moments(target_pixels)
    source_root = _symmetric_power(source_cov, 0.5)
    source_inverse_root = _symmetric_power(source_cov, -0.5)
    middle = _symmetric_power(source_root @ target_cov @ source_root, 0.5)
    transform = source_inverse_root @ middle @ source_inverse_root
    return _apply_linear(source, transform, source_mean, target_mean)


def _interp_uniform(values: np.ndarray, low: float, step: float, knot_values: np.ndarray) -> np.ndarray:
    """Piecewise-linear function with knots at low + i * step (i = 0..K-1), evaluated at `values` and
    held constant outside the knots. Same result as `np.interp` for equally spaced knots, about ten
    times faster, because the knot of each value is computed instead of searched."""
    position = (values - low) * (1.0 / step)
    last = len(knot_values) - 1
    position = np.clip(position, 0.0, last, out=position if position.dtype.kind == "f" else None)
    index = np.minimum(position.astype(np.int32), last - 1)
    fraction = position - index
    left = knot_values[index]
    return left + (knot_values[index + 1] - left) * fraction


def _quantile_map(
    source_values: np.ndarray, target_values: np.ndarray, low: float, high: float
) -> tuple[np.ndarray, float]:
    """The 1-D histogram-matching map on [low, high] as a piecewise-linear function: the values at the
    `_BINS + 1` equally spaced knots ``low + i * step`` and the ``step``.

    Both cumulative histograms are taken over `_BINS` equal bins and read as piecewise linear, so the map
    is continuous and monotone: a value at the source's q-quantile goes to the target's q-quantile.
    """
    span = max(high - low, 1e-6)
    scale = _BINS / span

    def cumulative(values: np.ndarray) -> np.ndarray:
        index = np.clip(((values - low) * scale).astype(np.int64), 0, _BINS - 1)
        counts = np.bincount(index, minlength=_BINS).astype(np.float64)
        cdf = np.concatenate([[0.0], np.cumsum(counts)])
        cdf /= cdf[-1]
        # A tiny ramp keeps the cdf strictly increasing, which np.interp needs to invert it.
        return cdf + np.linspace(0.0, 1e-9, _BINS + 1)

    knots = low + np.arange(_BINS + 1) * (span / _BINS)
    source_cdf, target_cdf = cumulative(source_values), cumulative(target_values)
    mapped = np.interp(source_cdf, target_cdf, knots)
    return mapped, span / _BINS


@register_matcher("hist")
def match_histogram(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    source_pixels, target_pixels = _inside(source, mask), _inside(target, mask)
    if len(source_pixels) < MIN_MASK_PIXELS:
        return match_none(source, target, mask)
    corrected = np.empty_like(source, dtype=np.float32)
    for channel in range(3):
        mapped, step = _quantile_map(source_pixels[:, channel], target_pixels[:, channel], 0.0, 1.0)
        corrected[..., channel] = _interp_uniform(source[..., channel], 0.0, step, mapped)
    return _finish(corrected)


def _idt_rotations(iterations: int) -> list[np.ndarray]:
    """Fixed orthonormal bases for IDT: the identity first, then seeded random rotations, so the result
    does not change from frame to frame (a fresh random basis per frame would flicker)."""
    generator = np.random.default_rng(20050601)
    rotations = [np.eye(3)]
    while len(rotations) < iterations:
        q, r = np.linalg.qr(generator.normal(size=(3, 3)))
        rotations.append(q * np.sign(np.diag(r)))
    return rotations


IDT_ITERATIONS = 6
_IDT_ROTATIONS = _idt_rotations(IDT_ITERATIONS)
# Pixels used to learn each 1-D map: the distributions need no more, and the map is applied to all.
_IDT_SAMPLE = 8192


@register_matcher("idt")
def match_iterative_distribution(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    source_pixels, target_pixels = _inside(source, mask), _inside(target, mask)
    if len(source_pixels) < MIN_MASK_PIXELS:
        return match_none(source, target, mask)
    source_pixels = source_pixels[:: max(1, len(source_pixels) // _IDT_SAMPLE)]
    target_pixels = target_pixels[:: max(1, len(target_pixels) // _IDT_SAMPLE)]
    flat = source.reshape(-1, 3).astype(np.float32)
    for rotation in _IDT_ROTATIONS:
        source_projected = source_pixels @ rotation.T
        target_projected = target_pixels @ rotation.T
        flat_projected = flat @ rotation.T.astype(np.float32)
        for axis in range(3):
            low = min(source_projected[:, axis].min(), target_projected[:, axis].min())
            high = max(source_projected[:, axis].max(), target_projected[:, axis].max())
            mapped, step = _quantile_map(source_projected[:, axis], target_projected[:, axis], low, high)
            source_projected[:, axis] = _interp_uniform(source_projected[:, axis], low, step, mapped)
            flat_projected[:, axis] = _interp_uniform(flat_projected[:, axis], low, step, mapped)
        # Back from the rotated basis (rotation is orthonormal: its inverse is its transpose).
        source_pixels = source_projected @ rotation
        flat = flat_projected @ rotation.astype(np.float32)
    return _finish(flat.reshape(source.shape))
