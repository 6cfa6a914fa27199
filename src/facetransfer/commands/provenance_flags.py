"""The provenance flags shared by the `convert` and `swap` commands."""

from __future__ import annotations

import argparse

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
