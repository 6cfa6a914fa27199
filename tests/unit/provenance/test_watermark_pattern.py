"""The pattern tile: periodic, band-limited, unit RMS, and its carriers read back exactly."""

from __future__ import annotations

import numpy as np

from facetransfer.provenance.pattern import (
    HIGHEST_CYCLES,
    LOWEST_CYCLES,
    carriers_to_soft_bits,
    layout,
    pattern_tile,
    read_carriers,
    tile_px_for,
    tile_spectrum,
)
from facetransfer.provenance.payload import CODED_BITS, encode_message, make_payload


def test_tile_size_scales_with_the_short_side() -> None:
    assert tile_px_for(360, 288) == 128
    assert tile_px_for(1920, 1080) == 480
    assert tile_px_for(180, 144) == 64
    assert tile_px_for(1080, 1920) == 480  # portrait: the short side counts
    assert tile_px_for(20, 10) == 32


def test_tile_is_real_unit_rms_zero_mean_and_in_band() -> None:
    tile = pattern_tile(make_payload(5), 128)
    assert tile.dtype == np.float32 and tile.shape == (128, 128)
    assert abs(float(np.sqrt(np.mean(tile.astype(np.float64) ** 2))) - 1.0) < 1e-4
    assert abs(float(tile.mean())) < 1e-4
    spectrum = np.abs(np.fft.fft2(tile))
    k = np.fft.fftfreq(128, d=1 / 128)
    radius = np.hypot(*np.meshgrid(k, k, indexing="ij"))
    outside = (radius < LOWEST_CYCLES - 1e-9) | (radius > HIGHEST_CYCLES + 1e-9)
    assert spectrum[outside].max() < 1e-3 * spectrum.max()


def test_tiles_repeat_seamlessly() -> None:
    """Whole cycles per tile: a tiled pattern has no seam (its edge step equals an inner step)."""
    tile = pattern_tile(make_payload(9), 100).astype(np.float64)
    wrap_step = np.abs(tile[:, 0] - tile[:, -1]).mean()
    inner_step = np.abs(np.diff(tile, axis=1)).mean()
    assert wrap_step < 1.5 * inner_step


def test_layout_is_fixed_and_carriers_cover_every_bit() -> None:
    first, second = layout(), layout()
    assert first is second
    assert set(first.carrier_bit.tolist()) == set(range(CODED_BITS))
    sync = set(zip(first.sync_ky.tolist(), first.sync_kx.tolist(), strict=True))
    message = set(zip(first.message_ky.tolist(), first.message_kx.tolist(), strict=True))
    assert not sync & message


def test_carriers_read_back_the_coded_bits() -> None:
    payload = make_payload(0x0F0F0F)
    soft = carriers_to_soft_bits(read_carriers(tile_spectrum(payload, 128)))
    np.testing.assert_array_equal(np.sign(soft), encode_message(payload))


def test_different_payloads_give_different_tiles() -> None:
    first, second = pattern_tile(make_payload(1), 64), pattern_tile(make_payload(2), 64)
    correlation = float(np.mean(first * second))
    assert 0.1 < correlation < 0.9  # the sync part is shared, the message part differs
