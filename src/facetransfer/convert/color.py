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
DEFAULT_COLOR_MODE: ColorMode = "lct"

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
        raise ValueError(
            f"expected two (H, W, 3) images of one shape, found {source.shape} and {target.shape}"
        )
    if mask.shape != source.shape[:2]:
        raise ValueError(f"expected a mask of shape {source.shape[:2]}, found {mask.shape}")


class _Inside:
    """Where the mask is at least 0.5, as flat pixel indices and as an OpenCV uint8 mask."""

    def __init__(self, mask: np.ndarray) -> None:
        selected = mask >= 0.5
        self.index = np.flatnonzero(selected)
        self.mask_u8 = selected.view(np.uint8)
        self.count = len(self.index)

    def pixels(self, image: np.ndarray) -> np.ndarray:
        """float32 (N, C): the selected pixels (np.take is several times faster than boolean indexing)."""
        channels = image.shape[2] if image.ndim == 3 else 1
        return np.take(image.reshape(-1, channels), self.index, axis=0).astype(np.float32, copy=False)


def _finish(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0.0, 1.0).astype(np.float32, copy=False)


def _mean_std(image: np.ndarray, inside: _Inside) -> tuple[np.ndarray, np.ndarray]:
    mean, std = cv2.meanStdDev(image, mask=inside.mask_u8)
    return mean.ravel().astype(np.float32), std.ravel().astype(np.float32)


@register_matcher("none")
def match_none(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return source.astype(np.float32, copy=True)


@register_matcher("avg")
def match_mean(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inside = _Inside(mask)
    if inside.count < MIN_MASK_PIXELS:
        return match_none(source, target, mask)
    source_mean, _ = _mean_std(source, inside)
    target_mean, _ = _mean_std(target, inside)
    return _finish(source + (target_mean - source_mean))


@register_matcher("rct")
def match_reinhard(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inside = _Inside(mask)
    if inside.count < MIN_MASK_PIXELS:
        return match_none(source, target, mask)
    # OpenCV's float Lab: L in [0, 100], a and b about [-127, 127], from sRGB in [0, 1]. The target is
    # needed only for its statistics, so only its pixels inside the mask are converted.
    source_lab = cv2.cvtColor(source.astype(np.float32, copy=False), cv2.COLOR_RGB2Lab)
    target_lab = cv2.cvtColor(inside.pixels(target)[:, None, :], cv2.COLOR_RGB2Lab)
    source_mean, source_std = _mean_std(source_lab, inside)
    target_mean, target_std = cv2.meanStdDev(target_lab)
    target_mean, target_std = target_mean.ravel().astype(np.float32), target_std.ravel().astype(np.float32)
    gain = np.where(source_std > 1e-6, target_std / np.maximum(source_std, 1e-6), 1.0).astype(np.float32)
    corrected = source_lab * gain + (target_mean - source_mean * gain)
    return _finish(cv2.cvtColor(corrected, cv2.COLOR_Lab2RGB))


def _symmetric_power(matrix: np.ndarray, power: float) -> np.ndarray:
    """matrix ** power for a symmetric positive semi-definite 3x3 matrix (eigenvalues floored)."""
    values, vectors = np.linalg.eigh(matrix)
    # Floor relative to the largest eigenvalue: products of covariances (mkl) are ~1e-6 for real faces.
    values = np.maximum(values, max(float(values.max()), 1e-30) * 1e-9)
    return (vectors * values**power) @ vectors.T


def _moments(image: np.ndarray, inside: _Inside) -> tuple[np.ndarray, np.ndarray]:
    """float64 mean (3,) and covariance (3, 3) of the in-mask pixels of a float32 (H, W, 3) image.

    OpenCV does both in single SIMD passes; a numpy/BLAS product of the (N, 3) pixels is several times
    slower and, with OpenBLAS threads competing with the model's, sometimes fifty times slower."""
    mean, _ = cv2.meanStdDev(image, mask=inside.mask_u8)
    covariance = cv2.mulTransposed(
        inside.pixels(image), True, delta=mean.reshape(1, 3).astype(np.float32), scale=1.0 / inside.count
    )
    return mean.ravel(), covariance.astype(np.float64) + _COVARIANCE_EPS * np.eye(3)


def _apply_linear(
    source: np.ndarray, transform: np.ndarray, source_mean: np.ndarray, target_mean: np.ndarray
) -> np.ndarray:
    # x' = T (x - m_s) + m_t = T x + (m_t - T m_s): one (3, 4) affine colour transform per pixel.
    affine = np.hstack([transform, (target_mean - transform @ source_mean)[:, None]]).astype(np.float32)
    return _finish(cv2.transform(source.astype(np.float32, copy=False), affine))


def _covariances(
    source: np.ndarray, target: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    inside = _Inside(mask)
    if inside.count < MIN_MASK_PIXELS:
        return None
    source_mean, source_cov = _moments(source.astype(np.float32, copy=False), inside)
    target_mean, target_cov = _moments(target.astype(np.float32, copy=False), inside)
    return source_mean, source_cov, target_mean, target_cov


@register_matcher("lct")
def match_linear(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    moments = _covariances(source, target, mask)
    if moments is None:
        return match_none(source, target, mask)
    source_mean, source_cov, target_mean, target_cov = moments
    transform = _symmetric_power(target_cov, 0.5) @ _symmetric_power(source_cov, -0.5)
    return _apply_linear(source, transform, source_mean, target_mean)


@register_matcher("mkl")
def match_monge_kantorovich(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    moments = _covariances(source, target, mask)
    if moments is None:
        return match_none(source, target, mask)
    source_mean, source_cov, target_mean, target_cov = moments
    source_root = _symmetric_power(source_cov, 0.5)
    source_inverse_root = _symmetric_power(source_cov, -0.5)
    middle = _symmetric_power(source_root @ target_cov @ source_root, 0.5)
    transform = source_inverse_root @ middle @ source_inverse_root
    return _apply_linear(source, transform, source_mean, target_mean)


def _quantile_map(
    source_values: np.ndarray, target_values: np.ndarray, low: float, high: float
) -> np.ndarray:
    """The 1-D histogram-matching map on [low, high], as float32 (1, _BINS + 1): its values at the
    equally spaced knots ``low + i * (high - low) / _BINS``.

    Both cumulative histograms are read as piecewise linear, so the map is continuous and monotone: a
    value at the source's q-quantile goes to the target's q-quantile.
    """
    scale = _BINS / max(high - low, 1e-6)

    def cumulative(values: np.ndarray) -> np.ndarray:
        index = np.clip(((values - low) * scale).astype(np.int32), 0, _BINS - 1)
        counts = np.bincount(index, minlength=_BINS).astype(np.float64)
        cdf = np.concatenate([[0.0], np.cumsum(counts)])
        cdf /= cdf[-1]
        # A tiny ramp keeps the cdf strictly increasing, which np.interp needs to invert it.
        return cdf + np.linspace(0.0, 1e-9, _BINS + 1)

    knots = np.linspace(low, high, _BINS + 1)
    mapped = np.interp(cumulative(source_values), cumulative(target_values), knots)
    return mapped.astype(np.float32)[None, :]


def _apply_map(values: np.ndarray, mapped: np.ndarray, low: float, high: float) -> np.ndarray:
    """float32 array shaped like the 2-D `values`: the piecewise-linear map evaluated at each value.

    `cv2.remap` with linear interpolation over the (1, K) row of knot values does the lookup in one
    SIMD pass, several times faster than `np.interp` (its 1/32-pixel weight steps are far below one
    8-bit level); values beyond the knots take the end values.
    """
    position = (values.astype(np.float32, copy=False) - np.float32(low)) * np.float32(
        _BINS / max(high - low, 1e-6)
    )
    rows = np.zeros_like(position)
    return cv2.remap(mapped, position, rows, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@register_matcher("hist")
def match_histogram(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inside = _Inside(mask)
    if inside.count < MIN_MASK_PIXELS:
        return match_none(source, target, mask)
    source_pixels, target_pixels = inside.pixels(source), inside.pixels(target)
    corrected = np.empty(source.shape, dtype=np.float32)
    for channel in range(3):
        mapped = _quantile_map(source_pixels[:, channel], target_pixels[:, channel], 0.0, 1.0)
        corrected[..., channel] = _apply_map(source[..., channel], mapped, 0.0, 1.0)
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
_IDT_ROTATIONS = [rotation.astype(np.float32) for rotation in _idt_rotations(IDT_ITERATIONS)]
# Pixels used to learn each 1-D map: the distributions need no more, and the map is applied to all.
_IDT_SAMPLE = 8192


def _sample_image(pixels: np.ndarray) -> np.ndarray:
    """float32 (64, K, 3): an evenly strided sample of about `_IDT_SAMPLE` of the (N, 3) pixels."""
    stride = max(1, len(pixels) // _IDT_SAMPLE)
    sample = pixels[::stride]
    rows = 64 if len(sample) >= 64 else 1
    return np.ascontiguousarray(sample[: len(sample) // rows * rows].reshape(rows, -1, 3))


@register_matcher("idt")
def match_iterative_distribution(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inside = _Inside(mask)
    if inside.count < MIN_MASK_PIXELS:
        return match_none(source, target, mask)
    # Learn on a sample of the in-mask pixels (shaped as a small image, as OpenCV works fastest on those)
    # and carry every pixel of the image along; each rotated axis is then one plane for cv2.remap.
    source_sample = _sample_image(inside.pixels(source))
    target_sample = _sample_image(inside.pixels(target))
    image: np.ndarray = source.astype(np.float32, copy=True)
    for rotation in _IDT_ROTATIONS:
        source_axes = list(cv2.split(cv2.transform(source_sample, rotation)))
        target_axes = cv2.split(cv2.transform(target_sample, rotation))
        image_axes = list(cv2.split(cv2.transform(image, rotation)))
        for axis in range(3):
            low = float(min(source_axes[axis].min(), target_axes[axis].min()))
            high = float(max(source_axes[axis].max(), target_axes[axis].max()))
            mapped = _quantile_map(source_axes[axis].ravel(), target_axes[axis].ravel(), low, high)
            source_axes[axis] = _apply_map(source_axes[axis], mapped, low, high)
            image_axes[axis] = _apply_map(image_axes[axis], mapped, low, high)
        # Back from the rotated basis (the rotation is orthonormal: its inverse is its transpose).
        inverse = np.ascontiguousarray(rotation.T)
        source_sample = cv2.transform(cv2.merge(source_axes), inverse)
        image = cv2.transform(cv2.merge(image_axes), inverse)
    return _finish(image)
