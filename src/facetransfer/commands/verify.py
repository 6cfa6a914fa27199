"""`facetransfer verify FILE [--json]`: look for the provenance marks in a video or image.

Exit status: 0 when at least one mark is found (C2PA manifest, invisible watermark or metadata tag),
1 when none is, 2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from facetransfer.commands.configs import positive_int
from facetransfer.provenance.verify import SAMPLED_FRAMES, VerifyReport


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify",
        help="check a video or image for provenance marks",
        description="Report the C2PA manifest (present, valid, signer), the invisible watermark (share of "
        "sampled frames it is found in, payload) and the metadata tag. Exit status 0: a mark was found; "
        "1: none.",
    )
    parser.add_argument("path", metavar="FILE", help="video or image file")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--frames",
        type=positive_int,
        default=SAMPLED_FRAMES,
        metavar="N",
        help=f"video frames to sample for the watermark (default {SAMPLED_FRAMES})",
    )
    parser.set_defaults(func=run)


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else "yes" if value else "no"


def describe(report: VerifyReport) -> list[str]:
    manifest, watermark, metadata = report.manifest, report.watermark, report.metadata
    lines = [f"{report.path} ({report.kind}): {'MARKED' if report.marked else 'no provenance mark found'}"]
    if manifest.present:
        signer = f"{manifest.signer or '?'} (issuer: {manifest.issuer or '?'})"
        trust = (
            "self-signed local key"
            if manifest.self_signed
            else "trusted"
            if manifest.trusted
            else "untrusted"
        )
        lines.append(
            f"  C2PA manifest: present, {'valid' if manifest.valid else 'INVALID'} "
            f"[{manifest.validation_state}], signed by {signer}, {trust}"
        )
        lines.append(
            f"    generator: {manifest.claim_generator}; actions: {', '.join(manifest.actions) or '-'}; "
            f"source type: {(manifest.digital_source_type or '-').rsplit('/', 1)[-1]}"
        )
        if manifest.failures:
            lines.append(f"    failures: {', '.join(manifest.failures)}")
    else:
        lines.append("  C2PA manifest: not present")
    if watermark.found:
        lines.append(
            f"  watermark: found in {watermark.frames_found}/{watermark.frames_sampled} sampled frames "
            f"({100 * watermark.share_found:.0f}%; {watermark.frames_decoded} decoded on their own), "
            f"payload {watermark.payload} "
            f"(tool {watermark.tool_id:#04x}, output id {watermark.output_id})"
        )
    else:
        lines.append(f"  watermark: not found in {watermark.frames_sampled} sampled frames")
    lines.append(
        f"  metadata tag: {'present: ' + (metadata.text or '') if metadata.present else 'not present'}"
    )
    return lines


def run(args: argparse.Namespace) -> int:
    from facetransfer.provenance.verify import verify_file

    report = verify_file(args.path, max_frames=max(1, args.frames))
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print("\n".join(describe(report)))
    return 0 if report.marked else 1
