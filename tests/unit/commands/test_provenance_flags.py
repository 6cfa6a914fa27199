"""The provenance flags that `convert` and `swap` share, and the config they make."""

from __future__ import annotations

import argparse

from facetransfer.commands.provenance_flags import add_provenance_arguments, config_from_args
from facetransfer.provenance import ProvenanceConfig


def _parse(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_provenance_arguments(parser)
    return parser.parse_args(list(flags))


def test_flags_map_to_the_config() -> None:
    assert config_from_args(_parse()) == ProvenanceConfig()
    config = config_from_args(
        _parse(
            "--label",
            "AI EDIT",
            "--label-corner",
            "top-left",
            "--label-opacity",
            "0.3",
            "--watermark-strength",
            "2",
        )
    )
    assert (config.label, config.label_corner, config.label_opacity, config.watermark_strength) == (
        "AI EDIT",
        "top-left",
        0.3,
        2.0,
    )
    assert config_from_args(_parse("--no-provenance")).enabled is False
