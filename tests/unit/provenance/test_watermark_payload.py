"""Payload packing, CRC, the convolutional code and its Viterbi decoder."""

from __future__ import annotations

import numpy as np
import pytest

from facetransfer.provenance.payload import (
    CODED_BITS,
    TOOL_ID,
    convolutional_encode,
    crc16,
    decode_message,
    decode_payload,
    encode_message,
    make_payload,
    message_bits,
    new_payload,
    viterbi_decode,
)


def test_crc16_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE catalogue check value
    assert crc16(b"") == 0xFFFF


def test_payload_fields_round_trip() -> None:
    payload = make_payload(0x123456)
    assert payload == 0xF7123456
    info = decode_payload(payload)
    assert (info.tool_id, info.output_id, info.hex, info.is_facetransfer) == (
        TOOL_ID,
        0x123456,
        "f7123456",
        True,
    )
    assert not decode_payload(make_payload(1, tool_id=0x10)).is_facetransfer
    with pytest.raises(ValueError):
        make_payload(1 << 24)
    with pytest.raises(ValueError):
        decode_payload(1 << 32)


def test_new_payload_is_ours_and_varies() -> None:
    payloads = {new_payload() for _ in range(20)}
    assert len(payloads) > 15
    assert all(payload >> 24 == TOOL_ID for payload in payloads)


def test_clean_codeword_decodes() -> None:
    for payload in (make_payload(0), make_payload(0xFFFFFF), make_payload(0x5A5A5A)):
        coded = encode_message(payload)
        assert coded.shape == (CODED_BITS,)
        assert set(np.unique(coded)) == {-1.0, 1.0}
        assert decode_message(coded) == payload
        assert decode_message(coded * 0.01) == payload  # soft values: only their ratios matter


def test_viterbi_inverts_the_encoder_on_random_bits() -> None:
    rng = np.random.default_rng(1)
    for _ in range(5):
        bits = rng.integers(0, 2, size=48).astype(np.uint8)
        soft = convolutional_encode(bits).astype(np.float32) * 2 - 1
        np.testing.assert_array_equal(viterbi_decode(soft), bits)


def test_error_correction_under_noise() -> None:
    """Soft values at 0 dB SNR per coded bit (noise std = signal amplitude) still decode."""
    rng = np.random.default_rng(7)
    payload = make_payload(0xABCDEF)
    coded = encode_message(payload)
    decoded = [decode_message(coded + rng.normal(0.0, 1.0, CODED_BITS)) for _ in range(60)]
    assert sum(result == payload for result in decoded) >= 57
    assert all(result in (None, payload) for result in decoded)
    # Hard decisions with one coded bit in eight flipped at random places.
    flipped = coded.copy()
    flipped[rng.choice(CODED_BITS, CODED_BITS // 8, replace=False)] *= -1
    assert decode_message(flipped) == payload


def test_noise_and_foreign_payloads_are_rejected() -> None:
    rng = np.random.default_rng(3)
    assert all(decode_message(rng.normal(size=CODED_BITS)) is None for _ in range(300))
    # A well-formed message from another tool id fails the tool check.
    foreign = make_payload(0x000001, tool_id=0x42)
    assert decode_message(encode_message(foreign)) is None
    # A flipped CRC bit (uncorrectable on purpose: all copies of the message bit flipped) is refused.
    bits = message_bits(make_payload(77))
    bits[-1] ^= 1
    assert decode_message(convolutional_encode(bits).astype(np.float32) * 2 - 1) is None
    assert decode_message(np.zeros(CODED_BITS - 1)) is None
    assert decode_message(np.full(CODED_BITS, np.nan)) is None
