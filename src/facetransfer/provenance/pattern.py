"""The watermark's spatial pattern, shared by the embedder and the detector.

One square tile carries everything. Its content is defined on a `CHIPS` x `CHIPS` grid of cells:

- a fixed pseudo-random ±1 sync grid, weighted by sqrt(`SYNC_ENERGY_SHARE`), which the detector
  correlates with to find where tiles start and whether a mark is there at all;
- the 162 coded message bits (see `payload`), each spread over `CHIPS_PER_BIT` pseudo-randomly chosen
  cells with pseudo-random signs, weighted by sqrt(1 - `SYNC_ENERGY_SHARE`).

The grid is turned into a smooth, exactly periodic tile of any pixel size by keeping only spatial
frequencies between `LOWEST_CYCLES` and `HIGHEST_CYCLES` cycles per tile: no blocky cell edges, no
slow blotches (the most visible and the most confused with picture content), and nothing so fine that
H.264 at CRF 28 or halving the size removes it (measured: a 2-15 cycle band lost half the signal after
half-size + CRF 23 that a 2-12 band kept).

Everything random here comes from one fixed seed (`KEY_SEED`): changing it, or any constant in this
module, makes old marks unreadable.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from facetransfer.provenance.payload import CODED_BITS, encode_message

CHIPS = 32
CHIPS_PER_BIT = 6
LOWEST_CYCLES = 2.0
HIGHEST_CYCLES = 12.0
SYNC_ENERGY_SHARE = 0.15
KEY_SEED = 0x0FACE7A6

REFERENCE_SHORT_SIDE_PX = 288
REFERENCE_TILE_PX = 128
"""The tile is 128 px on a frame whose short side is 288 px, and scales with the frame."""


@dataclass(frozen=True)
class Layout:
    """The pseudo-random parts of the pattern, the same for every payload.

    Attributes:
        sync_cells: float32 (CHIPS, CHIPS) of ±1.
        bit_cells: int (CODED_BITS, CHIPS_PER_BIT) flat indices of each coded bit's cells.
        bit_signs: float32 (CODED_BITS, CHIPS_PER_BIT) of ±1.
    """

    sync_cells: np.ndarray
    bit_cells: np.ndarray
    bit_signs: np.ndarray


@functools.cache
def layout() -> Layout:
    rng = np.random.default_rng(KEY_SEED)
    signs = np.array([-1.0, 1.0], dtype=np.float32)
    sync = rng.choice(signs, size=(CHIPS, CHIPS))
    cells = rng.permutation(CHIPS * CHIPS)[: CODED_BITS * CHIPS_PER_BIT].reshape(CODED_BITS, CHIPS_PER_BIT)
    bit_signs = rng.choice(signs, size=(CODED_BITS, CHIPS_PER_BIT))
    return Layout(sync_cells=sync.astype(np.float32), bit_cells=cells, bit_signs=bit_signs.astype(np.float32))


@functools.cache
def grid_band() -> np.ndarray:
    """Boolean (CHIPS, CHIPS) mask of the kept FFT bins of the cell grid."""
    k = np.fft.fftfreq(CHIPS, d=1.0 / CHIPS)
    ky, kx = np.meshgrid(k, k, indexing="ij")
    radius = np.hypot(kx, ky)
    return (radius >= LOWEST_CYCLES) & (radius <= HIGHEST_CYCLES)


@functools.cache
def _band_positions(tile_px: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(band mask on the grid, row and column of each kept bin in a tile_px spectrum)."""
    band = grid_band()
    k = np.fft.fftfreq(CHIPS, d=1.0 / CHIPS).astype(np.int64)
    ky, kx = np.meshgrid(k, k, indexing="ij")
    return band, ky[band] % tile_px, kx[band] % tile_px


def cells_to_tile(cells: np.ndarray, tile_px: int) -> np.ndarray:
    """float32 (tile_px, tile_px) periodic tile holding the band of a (CHIPS, CHIPS) cell grid."""
    if tile_px < CHIPS:
        raise ValueError(f"a watermark tile needs at least {CHIPS} px, got {tile_px}")
    band, rows, cols = _band_positions(tile_px)
    spectrum = np.zeros((tile_px, tile_px), dtype=np.complex128)
    spectrum[rows, cols] = np.fft.fft2(cells.astype(np.float64))[band]
    return np.fft.ifft2(spectrum).real.astype(np.float32)


def tile_to_cells(tile_spectrum: np.ndarray) -> np.ndarray:
    """float32 (CHIPS, CHIPS) cell estimates from a tile's spectrum (the inverse of `cells_to_tile`)."""
    band, rows, cols = _band_positions(tile_spectrum.shape[0])
    grid_spectrum = np.zeros((CHIPS, CHIPS), dtype=np.complex128)
    grid_spectrum[band] = tile_spectrum[rows, cols]
    return np.fft.ifft2(grid_spectrum).real.astype(np.float32)


@functools.cache
def sync_in_band() -> np.ndarray:
    """float32 (CHIPS, CHIPS): what the band keeps of the sync cells (what a reader sees of them)."""
    spectrum = np.fft.fft2(layout().sync_cells.astype(np.float64)) * grid_band()
    return np.fft.ifft2(spectrum).real.astype(np.float32)


def message_cells(payload: int) -> np.ndarray:
    """float32 (CHIPS, CHIPS) cells for `payload`: sync plus the spread coded message."""
    grid = layout()
    coded = encode_message(payload)
    message = np.zeros(CHIPS * CHIPS, dtype=np.float32)
    message[grid.bit_cells.ravel()] = (grid.bit_signs * coded[:, None]).ravel()
    sync_weight = math.sqrt(SYNC_ENERGY_SHARE)
    message_weight = math.sqrt(1.0 - SYNC_ENERGY_SHARE)
    return sync_weight * grid.sync_cells + message_weight * message.reshape(CHIPS, CHIPS)


def tile_px_for(width: int, height: int) -> int:
    """Side of the watermark tile for a frame of this size (128 px at a short side of 288 px)."""
    return max(CHIPS, round(REFERENCE_TILE_PX * min(width, height) / REFERENCE_SHORT_SIDE_PX))


def pattern_tile(payload: int, tile_px: int) -> np.ndarray:
    """The unit-RMS float32 (tile_px, tile_px) watermark tile for `payload`."""
    tile = cells_to_tile(message_cells(payload), tile_px)
    return tile / max(float(np.sqrt(np.mean(tile**2))), 1e-12)
