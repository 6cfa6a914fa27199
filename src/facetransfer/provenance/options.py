"""The provenance flags shared by `convert` and `swap`, and the report entry they produce."""

from __future__ import annotations

import argparse
from typing import Any

from facetransfer.provenance.config import LABEL_CORNERS, ProvenanceConfig


def add_provenance_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --no-provenance, --sign-cert, --sign-key, --label, --label-corner, --label-opacity,
    --watermark-strength to a command's parser."""
    group = parser.add_argument_group("provenance (on by default; see docs/PROVENANCE.md)")
    group.add_argument(
        "--no-provenance",
        action="store_true",
        help="leave out the C2PA manifest, invisible watermark and metadata tag (the report says so)",
    )
    group.add_argument(
        "--sign-cert", metavar="PEM", default=None, help="certificate chain to sign the C2PA manifest"
    )
    group.add_argument("--sign-key", metavar="PEM", default=None, help="private key of --sign-cert")
    group.add_argument("--label", metavar="TEXT", default=None, help="visible label drawn on every frame")
    group.add_argument(
        "--label-corner", choices=LABEL_CORNERS, default="bottom-right", help="corner of the visible label"
    )
    group.add_argument(
        "--label-opacity",
        type=float,
        default=0.6,
        metavar="A",
        help="visible label opacity 0..1 (default 0.6)",
    )
    group.add_argument(
        "--watermark-strength",
        type=float,
        default=1.0,
        metavar="S",
        help="invisible watermark amplitude multiplier (default 1.0: PSNR >= 40.5 dB)",
    )


def config_from_args(args: argparse.Namespace) -> ProvenanceConfig:
    """A `ProvenanceConfig` from the flags `add_provenance_arguments` added."""
    return ProvenanceConfig(
        enabled=not args.no_provenance,
        sign_cert=args.sign_cert,
        sign_key=args.sign_key,
        label=args.label,
        label_corner=args.label_corner,
        label_opacity=args.label_opacity,
        watermark_strength=args.watermark_strength,
    )


def report_entry(
    config: ProvenanceConfig, payload: int | None = None, signing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The `provenance` entry of a convert/swap report.

    With provenance off it says so explicitly (`"enabled": false`, `"disabled_by": "--no-provenance"`).
    """
    entry: dict[str, Any] = {"enabled": config.enabled, "label": config.label}
    if not config.enabled:
        entry["disabled_by"] = "--no-provenance"
        entry["marks"] = []
        return entry
    entry["marks"] = ["c2pa", "watermark", "metadata"] if signing else ["watermark", "metadata"]
    entry["watermark_payload"] = f"{payload:08x}" if payload is not None else None
    entry["watermark_strength"] = config.watermark_strength
    entry["c2pa"] = signing
    return entry
