"""The watermark's spatial pattern, shared by the embedder and the detector.

One square tile carries everything, and it is defined by its spectrum: the spatial frequencies with
`LOWEST_CYCLES` <= |k| <= `HIGHEST_CYCLES` whole cycles per tile (k = (ky, kx)). Whole cycles make
the tile exactly periodic at any pixel size, so it repeats seamlessly over the frame; the band keeps
out slow blotches (the most visible, and the most confused with picture content) and detail so fine
that H.264 at CRF 28 or halving the frame size removes it (measured on the GRID clips: a 3-10 band
kept more after half size + CRF 23 than 2-12 or 2-15).

The frequencies of one half-plane (the other half mirrors them, since the tile is real) are split
at random, once, into two disjoint sets:

- sync frequencies (`SYNC_SHARE` of them): unit amplitude, fixed pseudo-random phases. The detector
  correlates with these to find where the tiles start (a crop shifts them) and whether there is a
  mark at all. Being apart from the message, the sync is not blurred by it.
- message frequencies: their real and imaginary parts are the message's carriers. Each of the 168
  coded bits (see `payload`) gets one carrier, plus a second for as many bits as there are carriers
  left over, each with a pseudo-random sign.

Sync and message get the same energy per carrier. Everything random comes from the fixed seed
`KEY_SEED`: changing it or any constant here makes existing marks unreadable.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from facetransfer.provenance.payload import CODED_BITS, encode_message

LOWEST_CYCLES = 3.0
HIGHEST_CYCLES = 10.0
SYNC_SHARE = 0.3
KEY_SEED = 0x0FACE7A6

REFERENCE_SHORT_SIDE_PX = 288
REFERENCE_TILE_PX = 128
"""The tile is 128 px on a frame whose short side is 288 px, and scales with the frame."""


@dataclass(frozen=True)
class Layout:
    """Which frequencies carry what; the same for every payload.

    Attributes:
        sync_ky, sync_kx: int arrays, the sync frequencies (one half-plane), cycles per tile.
        sync_phase: float64 array, their phases in radians.
        message_ky, message_kx: int arrays, the message frequencies (one half-plane).
        carrier_bit: int array (2 * message frequencies,), which coded bit each carrier holds;
            carriers are ordered [real parts..., imaginary parts...].
        carrier_sign: float32 array of ±1, same length.
    """

    sync_ky: np.ndarray
    sync_kx: np.ndarray
    sync_phase: np.ndarray
    message_ky: np.ndarray
    message_kx: np.ndarray
    carrier_bit: np.ndarray
    carrier_sign: np.ndarray


def half_plane_band() -> tuple[np.ndarray, np.ndarray]:
    """(ky, kx) of the band's frequencies in one half-plane (ky > 0, or ky == 0 and kx > 0)."""
    limit = int(HIGHEST_CYCLES)
    ky, kx = np.meshgrid(np.arange(-limit, limit + 1), np.arange(-limit, limit + 1), indexing="ij")
    radius = np.hypot(ky, kx)
    in_band = (radius >= LOWEST_CYCLES) & (radius <= HIGHEST_CYCLES)
    upper = (ky > 0) | ((ky == 0) & (kx > 0))
    keep = in_band & upper
    return ky[keep], kx[keep]


@functools.cache
def layout() -> Layout:
    rng = np.random.default_rng(KEY_SEED)
    ky, kx = half_plane_band()
    order = rng.permutation(len(ky))
    sync_count = round(SYNC_SHARE * len(ky))
    sync, message = order[:sync_count], order[sync_count:]
    carriers = 2 * len(message)
    if carriers < CODED_BITS:
        raise ValueError(f"the band holds {carriers} message carriers, fewer than {CODED_BITS} coded bits")
    bits = np.concatenate([rng.permutation(CODED_BITS), rng.permutation(CODED_BITS)])[:carriers]
    return Layout(
        sync_ky=ky[sync],
        sync_kx=kx[sync],
        sync_phase=rng.uniform(0.0, 2.0 * np.pi, size=sync_count),
        message_ky=ky[message],
        message_kx=kx[message],
        carrier_bit=bits,
        carrier_sign=rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=carriers),
    )


def _place(spectrum: np.ndarray, ky: np.ndarray, kx: np.ndarray, values: np.ndarray) -> None:
    """Put `values` at (ky, kx) and their conjugates at (-ky, -kx), so the tile comes out real."""
    size = spectrum.shape[0]
    spectrum[ky % size, kx % size] = values
    spectrum[(-ky) % size, (-kx) % size] = np.conj(values)


def sync_spectrum(tile_px: int) -> np.ndarray:
    """complex128 (tile_px, tile_px) spectrum of the sync part alone (unit amplitude per frequency)."""
    grid = layout()
    spectrum = np.zeros((tile_px, tile_px), dtype=np.complex128)
    _place(spectrum, grid.sync_ky, grid.sync_kx, np.exp(1j * grid.sync_phase))
    return spectrum


def tile_spectrum(payload: int, tile_px: int) -> np.ndarray:
    """complex128 (tile_px, tile_px) spectrum of the full tile for `payload`."""
    if tile_px < 2 * HIGHEST_CYCLES + 2:
        raise ValueError(f"a watermark tile needs at least {2 * int(HIGHEST_CYCLES) + 2} px, got {tile_px}")
    grid = layout()
    coded = encode_message(payload)  # ±1
    carriers = grid.carrier_sign * coded[grid.carrier_bit]
    half = len(grid.message_ky)
    # Each carrier is one real dimension; a real or imaginary part of amplitude 1/sqrt(2) gives it
    # the same energy as a unit-amplitude sync frequency.
    values = (carriers[:half] + 1j * carriers[half:]) / np.sqrt(2.0)
    spectrum = sync_spectrum(tile_px)
    _place(spectrum, grid.message_ky, grid.message_kx, values)
    return spectrum


def read_carriers(spectrum: np.ndarray) -> np.ndarray:
    """float32 (2 * message frequencies,) carrier values from an aligned tile spectrum."""
    grid = layout()
    size = spectrum.shape[0]
    values = spectrum[grid.message_ky % size, grid.message_kx % size]
    return np.concatenate([values.real, values.imag]).astype(np.float32)


def carriers_to_soft_bits(carriers: np.ndarray) -> np.ndarray:
    """float32 (168,) soft coded values: each bit's carriers, sign-corrected and added."""
    grid = layout()
    return np.bincount(grid.carrier_bit, carriers * grid.carrier_sign, minlength=CODED_BITS).astype(
        np.float32
    )


def tile_px_for(width: int, height: int) -> int:
    """Side of the watermark tile for a frame of this size (128 px at a short side of 288 px)."""
    return max(32, round(REFERENCE_TILE_PX * min(width, height) / REFERENCE_SHORT_SIDE_PX))


def pattern_tile(payload: int, tile_px: int) -> np.ndarray:
    """The unit-RMS float32 (tile_px, tile_px) watermark tile for `payload`."""
    tile = np.fft.ifft2(tile_spectrum(payload, tile_px)).real
    return (tile / max(float(np.sqrt(np.mean(tile**2))), 1e-12)).astype(np.float32)
