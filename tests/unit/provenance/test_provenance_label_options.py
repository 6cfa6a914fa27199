"""The visible label, the config checks and the report entry."""

from __future__ import annotations

import numpy as np
import pytest

from facetransfer.errors import ConfigError
from facetransfer.provenance import (
    LabelPainter,
    ProvenanceConfig,
    ProvenanceError,
    report_entry,
)


@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_label_goes_in_its_corner_only(corner: str) -> None:
    frame = np.full((288, 360, 3), 120, dtype=np.uint8)
    labelled = LabelPainter(360, 288, "SYNTHETIC", corner, 0.8).apply(frame)  # type: ignore[arg-type]
    changed = np.any(labelled != frame, axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 200
    assert (ys.mean() < 144) == corner.startswith("top")
    assert (xs.mean() < 180) == corner.endswith("left")
    assert labelled[changed].max() > 120 + 40  # white text over a darkened box


def test_label_opacity_zero_changes_nothing() -> None:
    frame = np.full((100, 160, 3), 90, dtype=np.uint8)
    assert np.array_equal(LabelPainter(160, 100, "AI", "top-left", 0.0).apply(frame), frame)


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="label-opacity"):
        ProvenanceConfig(label_opacity=1.5)
    with pytest.raises(ConfigError, match="watermark-strength"):
        ProvenanceConfig(watermark_strength=0)
    with pytest.raises(ConfigError, match="label-corner"):
        ProvenanceConfig(label_corner="middle")  # type: ignore[arg-type]
    with pytest.raises(ProvenanceError, match="both"):
        ProvenanceConfig(sign_cert="cert.pem")


def test_report_entry_records_no_provenance() -> None:
    entry = report_entry(ProvenanceConfig(enabled=False))
    assert entry["enabled"] is False and entry["disabled_by"] == "--no-provenance" and entry["marks"] == []
    signed = report_entry(
        ProvenanceConfig(), payload=0xF7000001, signing={"signed": True, "self_signed": True}
    )
    assert signed["marks"] == ["c2pa", "watermark", "metadata"]
    assert signed["watermark_payload"] == "f7000001" and signed["c2pa"]["self_signed"]


def test_label_longer_than_a_small_frame_is_clipped() -> None:
    frame = np.zeros((30, 40, 3), dtype=np.uint8)
    for corner in ("top-left", "bottom-right"):
        out = LabelPainter(40, 30, "A VERY LONG LABEL THAT DOES NOT FIT", corner, 1.0).apply(frame)  # type: ignore[arg-type]
        assert out.shape == frame.shape and out.max() > 0
