"""Invisible watermark, detection side: find the tile, read the bits, check them.

For one frame (`detect_watermark`):

1. Scale the frame so its short side is 288 px (where an untouched tile is 128 px), take luma, remove
   slow content (a Gaussian high-pass) and weight each pixel by the inverse of its local detail
   energy: flat areas, where the mark sits on nothing, count for more than texture, which drowns it.
2. Tile period: the nominal 128 px, plus the lag of the strongest autocorrelation peak along each
   axis, because a crop changes the frame size but not the tile (the frame is rescaled by its new
   short side, so the tile no longer measures 128 px).
3. For each period: resample so one period is `DETECT_TILE_PX`, fold the frame onto one tile (add up
   all repetitions), whiten its spectrum ring by ring, and correlate with the sync pattern; the peaks
   say where the tiles start.
4. At the strongest few peaks: shift the tile back (a phase ramp on its spectrum), read the message
   carriers, add each coded bit's carriers with their signs, and Viterbi-decode. A frame is marked
   when a read-out's CRC and tool id check out (24 bits of check: about one false read in 16
   million tries).

For a video (`VideoWatermarkReader`), the tile sits at the same place in every frame, so the whitened
folds of all sampled frames are added up first: that finds the period and the offset far more
surely than any single frame. Each frame is then decoded on its own, at that shared alignment and at
its own best peaks. The video's payload is the one most frames decoded (or, if none did, what the
summed soft bits of all frames decode to); a frame then also counts as carrying it when its own soft
bits correlate with that payload's codeword at z >= 5 (`FRAME_MATCH_Z`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from facetransfer.provenance.pattern import (
    REFERENCE_SHORT_SIDE_PX,
    REFERENCE_TILE_PX,
    carriers_to_soft_bits,
    read_carriers,
    sync_spectrum,
)
from facetransfer.provenance.payload import CODED_BITS, decode_message, encode_message

DETECT_TILE_PX = 128
WHITEN_EXPONENT = 0.5
HIGHPASS_SIGMA_PX = 8.0
ENERGY_SIGMA_PX = 8.0
ENERGY_FLOOR = 1.0
"""Local detail energy (levels squared) added before weighting, so compression noise on flat areas
is not blown up."""
PEAKS_TRIED = 3
"""Sync correlation peaks decoded per frame, strongest first."""
MIN_PEAK_SCORE = 3.0
"""Peaks lower than this (standard deviations of the correlation surface) are not decoded."""
FRAME_MATCH_Z = 5.0
"""A frame of a video whose payload is known counts as marked when its soft bits correlate with the
payload's codeword this many standard deviations above chance (one-sided tail: 2.9e-7)."""
PERIOD_SEARCH = (0.6, 1.7)
"""Autocorrelation lags searched, as multiples of the nominal period (crops of up to ~40%, zooms
of up to 1.7x)."""


@dataclass(frozen=True)
class Alignment:
    """Where the tiles are, in the detector's frame (short side 288 px).

    Attributes:
        period: (rows, columns) of one tile period in detector pixels.
        offset: (dy, dx) sub-pixel position of a tile's origin within the folded DETECT_TILE_PX tile.
        score: sync correlation peak in standard deviations of the correlation surface.
    """

    period: tuple[float, float]
    offset: tuple[float, float]
    score: float


@dataclass(frozen=True)
class FrameReading:
    """What the detector read from one frame.

    Attributes:
        payload: the decoded 32-bit payload, or None.
        alignment: the alignment decoded from (or the best one tried when nothing decoded).
        soft_bits: float32 (168,) unit-RMS soft coded values at `alignment`.
        tile_px: the tile period in pixels of the frame as given.
    """

    payload: int | None
    alignment: Alignment
    soft_bits: np.ndarray
    tile_px: float

    @property
    def found(self) -> bool:
        return self.payload is not None


def _check_frame(frame_rgb: np.ndarray) -> None:
    if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) RGB frame, got {frame_rgb.dtype} {frame_rgb.shape}")


def weighted_detail(frame_rgb: np.ndarray) -> np.ndarray:
    """float32 luma detail at a short side of 288 px, weighted by inverse local energy."""
    height, width = frame_rgb.shape[:2]
    scale = REFERENCE_SHORT_SIDE_PX / min(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(frame_rgb, size, interpolation=interpolation) if scale != 1 else frame_rgb
    luma = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    detail = cv2.subtract(luma, cv2.GaussianBlur(luma, (0, 0), HIGHPASS_SIGMA_PX))
    energy = cv2.GaussianBlur(cv2.multiply(detail, detail), (0, 0), ENERGY_SIGMA_PX)
    return detail / (energy + ENERGY_FLOOR)


def autocorrelation_lines(detail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unbiased autocorrelation along the x and y axes (lags 0..width-1, 0..height-1)."""
    height, width = detail.shape
    padded = np.zeros((2 * height, 2 * width), dtype=np.float32)
    padded[:height, :width] = detail
    spectrum = np.fft.rfft2(padded)
    auto = np.fft.irfft2(spectrum * np.conj(spectrum), s=padded.shape)
    along_x = auto[0, :width] / np.arange(width, 0, -1)
    along_y = auto[:height, 0] / np.arange(height, 0, -1)
    return along_x.astype(np.float32), along_y.astype(np.float32)


def _peak_lag(line: np.ndarray) -> float | None:
    """Sub-pixel lag of the highest autocorrelation value within PERIOD_SEARCH, if there is room."""
    low = int(REFERENCE_TILE_PX * PERIOD_SEARCH[0])
    high = min(int(REFERENCE_TILE_PX * PERIOD_SEARCH[1]), len(line) - 24)
    if high <= low:
        return None
    lag = low + int(np.argmax(line[low : high + 1]))
    before, peak, after = float(line[lag - 1]), float(line[lag]), float(line[lag + 1])
    curvature = before - 2 * peak + after
    shift = 0.5 * (before - after) / curvature if curvature < 0 else 0.0
    return lag + float(np.clip(shift, -0.5, 0.5))


def period_candidates(along_x: np.ndarray, along_y: np.ndarray) -> list[tuple[float, float]]:
    """(rows, columns) tile periods to try: the nominal one, then the autocorrelation's."""
    nominal = float(REFERENCE_TILE_PX)
    candidates = [(nominal, nominal)]
    lag_x, lag_y = _peak_lag(along_x), _peak_lag(along_y)
    found = [lag for lag in (lag_y, lag_x) if lag is not None]
    if lag_x is not None and lag_y is not None:
        candidates.append((lag_y, lag_x))
    candidates.extend((lag, lag) for lag in found)
    unique: list[tuple[float, float]] = []
    for candidate in candidates:
        if all(max(abs(a - b) for a, b in zip(candidate, kept, strict=True)) > 0.5 for kept in unique):
            unique.append(candidate)
    return unique


def fold(detail: np.ndarray, period: tuple[float, float]) -> np.ndarray:
    """Resample so one period is DETECT_TILE_PX and add every repetition into one (N, N) tile."""
    height, width = detail.shape
    size = (
        max(1, round(width * DETECT_TILE_PX / period[1])),
        max(1, round(height * DETECT_TILE_PX / period[0])),
    )
    resampled = cv2.resize(detail, size, interpolation=cv2.INTER_LINEAR)
    n = DETECT_TILE_PX
    tiles_y, tiles_x = -(-size[1] // n), -(-size[0] // n)
    padded = np.zeros((tiles_y * n, tiles_x * n), dtype=np.float32)
    padded[: size[1], : size[0]] = resampled
    return padded.reshape(tiles_y, n, tiles_x, n).sum(axis=(0, 2))


@functools.cache
def _rings() -> tuple[np.ndarray, np.ndarray]:
    k = np.fft.fftfreq(DETECT_TILE_PX, d=1.0 / DETECT_TILE_PX)
    ky, kx = np.meshgrid(k, k, indexing="ij")
    rings = np.rint(np.hypot(kx, ky)).astype(np.int64).ravel()
    return rings, np.maximum(np.bincount(rings), 1)


def whitened_spectrum(folded: np.ndarray) -> np.ndarray:
    """Spectrum of a folded tile divided by its ring-averaged magnitude (equalises the frequencies)."""
    spectrum = np.fft.fft2(folded)
    rings, counts = _rings()
    power = (spectrum.real**2 + spectrum.imag**2).ravel()
    ring_magnitude = (np.bincount(rings, power) / counts) ** WHITEN_EXPONENT
    floor = 1e-9 * (float(ring_magnitude.max()) + 1e-30)
    return spectrum / np.maximum(ring_magnitude, floor)[rings].reshape(spectrum.shape)


@functools.cache
def _sync_conjugate() -> np.ndarray:
    return np.conj(sync_spectrum(DETECT_TILE_PX))


def sync_peaks(spectrum: np.ndarray, count: int) -> list[tuple[float, tuple[float, float]]]:
    """The `count` highest sync correlation peaks: (score in standard deviations, sub-pixel (dy, dx))."""
    n = DETECT_TILE_PX
    surface = np.fft.ifft2(spectrum * _sync_conjugate()).real
    mean, deviation = float(surface.mean()), float(surface.std()) + 1e-30
    flat = surface.ravel()
    top = np.argpartition(flat, -count * 4)[-count * 4 :]
    top = top[np.argsort(flat[top])[::-1]]
    peaks: list[tuple[float, tuple[float, float]]] = []
    for index in top:
        y, x = divmod(int(index), n)
        if any(_cyclic_distance(y, x, p[1]) < 2.0 for p in peaks):
            continue  # a shoulder of a peak already kept
        dy = y + _parabola(surface[(y - 1) % n, x], surface[y, x], surface[(y + 1) % n, x])
        dx = x + _parabola(surface[y, (x - 1) % n], surface[y, x], surface[y, (x + 1) % n])
        peaks.append(((float(surface[y, x]) - mean) / deviation, (dy, dx)))
        if len(peaks) == count:
            break
    return peaks


def _cyclic_distance(y: int, x: int, other: tuple[float, float]) -> float:
    n = DETECT_TILE_PX
    dy = abs(y - other[0]) % n
    dx = abs(x - other[1]) % n
    return float(np.hypot(min(dy, n - dy), min(dx, n - dx)))


def _parabola(before: float, peak: float, after: float) -> float:
    curvature = before - 2 * peak + after
    return float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5)) if curvature < 0 else 0.0


def soft_bits_at(spectrum: np.ndarray, offset: tuple[float, float]) -> np.ndarray:
    """float32 (168,) unit-RMS soft coded values read from a whitened folded spectrum at `offset`."""
    n = DETECT_TILE_PX
    k = np.fft.fftfreq(n, d=1.0 / n)
    shift = np.exp(2j * np.pi * k * offset[0] / n)[:, None] * np.exp(2j * np.pi * k * offset[1] / n)[None, :]
    soft = carriers_to_soft_bits(read_carriers(spectrum * shift))
    rms = float(np.sqrt(np.mean(soft**2)))
    return (soft / rms if rms > 0 else soft).astype(np.float32)


def decode_soft_bits(soft_bits: np.ndarray) -> int | None:
    """Payload from (possibly summed) soft coded values, or None when the CRC or tool id fails."""
    return decode_message(np.asarray(soft_bits, dtype=np.float32))


@dataclass
class _Prepared:
    """One frame's detector input: weighted detail and its scale back to the frame's pixels."""

    detail: np.ndarray
    to_frame: float
    spectra: dict[tuple[float, float], np.ndarray] = field(default_factory=dict)

    def spectrum(self, period: tuple[float, float]) -> np.ndarray:
        if period not in self.spectra:
            self.spectra[period] = whitened_spectrum(fold(self.detail, period)).astype(np.complex64)
        return self.spectra[period]


def _prepare(frame_rgb: np.ndarray) -> _Prepared:
    _check_frame(frame_rgb)
    return _Prepared(weighted_detail(frame_rgb), min(frame_rgb.shape[:2]) / REFERENCE_SHORT_SIDE_PX)


def _read(
    prepared: _Prepared, periods: Iterable[tuple[float, float]], extra: Alignment | None = None
) -> FrameReading:
    """Decode at `extra` (if given), then at the best sync peaks over `periods`."""
    tries: list[Alignment] = [] if extra is None else [extra]
    found_peaks: list[Alignment] = []
    for period in periods:
        for score, offset in sync_peaks(prepared.spectrum(period), PEAKS_TRIED):
            found_peaks.append(Alignment(period, offset, score))
    found_peaks.sort(key=lambda alignment: alignment.score, reverse=True)
    tries.extend(a for a in found_peaks[:PEAKS_TRIED] if a.score >= MIN_PEAK_SCORE)
    best = tries[0] if tries else found_peaks[0]
    for alignment in tries:
        soft = soft_bits_at(prepared.spectrum(alignment.period), alignment.offset)
        payload = decode_soft_bits(soft)
        if payload is not None:
            return FrameReading(payload, alignment, soft, _tile_px(alignment, prepared))
    soft = soft_bits_at(prepared.spectrum(best.period), best.offset)
    return FrameReading(None, best, soft, _tile_px(best, prepared))


def _tile_px(alignment: Alignment, prepared: _Prepared) -> float:
    return float(np.mean(alignment.period)) * prepared.to_frame


def detect_watermark(frame_rgb: np.ndarray) -> FrameReading:
    """Look for the watermark in one uint8 (H, W, 3) RGB frame or image of any size."""
    prepared = _prepare(frame_rgb)
    return _read(prepared, period_candidates(*autocorrelation_lines(prepared.detail)))


@dataclass(frozen=True)
class VideoReading:
    """The watermark verdict over several frames of one video.

    Attributes:
        frames: frames looked at.
        frames_decoded: frames whose own pixels decoded to the payload (CRC and tool id checked).
        frames_found: frames that carry the payload: decoded on their own, or whose own soft bits
            match the payload's codeword with a z-score of at least `FRAME_MATCH_Z` (the chance of
            that on an unmarked frame is below 3 in 10 million).
        payload: the payload most frames decoded to, else the one all frames' summed soft bits
            decode to, else None. Per-frame matching happens only once a payload is known.
        alignment: the alignment shared by the frames (from their summed folds), or None.
        frame_payloads: per frame, the payload it decoded to on its own, or None.
    """

    frames: int
    frames_decoded: int
    frames_found: int
    payload: int | None
    alignment: Alignment | None
    frame_payloads: list[int | None]

    @property
    def share_found(self) -> float:
        return self.frames_found / self.frames if self.frames else 0.0


class VideoWatermarkReader:
    """Collect frames of one video with `add`, then `finish` for per-frame and video-level verdicts.

    Memory: one 288-px-high float32 detail image per added frame (about 0.4 MB at 4:3, 0.6 MB at
    16:9) plus its folded spectra; add a sample of frames (e.g. 30-60), not a whole film.
    """

    def __init__(self) -> None:
        self._frames: list[_Prepared] = []
        self._auto_x: np.ndarray | None = None
        self._auto_y: np.ndarray | None = None

    def add(self, frame_rgb: np.ndarray) -> None:
        prepared = _prepare(frame_rgb)
        if self._frames and prepared.detail.shape != self._frames[0].detail.shape:
            raise ValueError("all frames of one VideoWatermarkReader must have the same size")
        along_x, along_y = autocorrelation_lines(prepared.detail)
        self._auto_x = along_x if self._auto_x is None else self._auto_x + along_x
        self._auto_y = along_y if self._auto_y is None else self._auto_y + along_y
        self._frames.append(prepared)

    def shared_alignment(self) -> Alignment | None:
        """Best sync peak of the summed whitened folds, over the candidate periods."""
        if not self._frames or self._auto_x is None or self._auto_y is None:
            return None
        best: Alignment | None = None
        for period in period_candidates(self._auto_x, self._auto_y):
            total = np.zeros((DETECT_TILE_PX, DETECT_TILE_PX), dtype=np.complex128)
            for frame in self._frames:
                total += frame.spectrum(period)
            score, offset = sync_peaks(total, 1)[0]
            if best is None or score > best.score:
                best = Alignment(period, offset, score)
        return best

    def finish(self) -> VideoReading:
        if not self._frames or self._auto_x is None or self._auto_y is None:
            return VideoReading(0, 0, 0, None, None, [])
        shared = self.shared_alignment()
        assert shared is not None
        periods = period_candidates(self._auto_x, self._auto_y)
        payloads: list[int | None] = []
        shared_soft: list[np.ndarray] = []
        for prepared in self._frames:
            payloads.append(_read(prepared, periods, extra=shared).payload)
            shared_soft.append(soft_bits_at(prepared.spectrum(shared.period), shared.offset))
        decoded = [payload for payload in payloads if payload is not None]
        payload = (
            max(set(decoded), key=decoded.count) if decoded else decode_soft_bits(np.sum(shared_soft, axis=0))
        )
        if payload is None:
            return VideoReading(len(payloads), 0, 0, None, shared, payloads)
        codeword = encode_message(payload)
        found = 0
        for own, soft in zip(payloads, shared_soft, strict=True):
            match_z = float(np.dot(soft, codeword)) / np.sqrt(CODED_BITS)  # unit-RMS soft bits
            found += int(own == payload or match_z >= FRAME_MATCH_Z)
        return VideoReading(
            len(payloads), sum(own == payload for own in payloads), found, payload, shared, payloads
        )
