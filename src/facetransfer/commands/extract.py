"""`facetransfer extract INPUT... -o FACESET_DIR`"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from facetransfer.commands.configs import add_config_flags, add_stage_flags, print_config, resolve_configs
from facetransfer.extract.config import ExtractConfig

STAGES = {"extract": ExtractConfig}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "extract",
        help="extract aligned faces of one person into a faceset",
        description="Detect, align and track the faces of one person in videos, images or image folders, "
        "and write them as a faceset folder.",
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="videos, images or image folders of one person"
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="FACESET_DIR", help="faceset folder to create"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_config_flags(parser)
    add_stage_flags(parser, STAGES)
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facetransfer.extract.pipeline import extract_faceset

    config = resolve_configs(args, args.parser, STAGES)["extract"]
    if args.print_config:
        return print_config({"extract": config})
    bar = tqdm(unit="frame", desc="extract", disable=args.quiet or None, file=sys.stderr)

    def progress(frames: int, faces: int, total: int) -> None:
        bar.total = total
        bar.update(frames - bar.n)
        bar.set_postfix(faces=faces, refresh=False)

    try:
        summary = extract_faceset(args.inputs, args.output, config, progress)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        dropped = ", ".join(
            f"{count} {reason.replace('_', ' ')}" for reason, count in summary.dropped.items()
        )
        print(
            f"{summary.output}: {summary.faces_kept} faces kept from {summary.frames} frames "
            f"({summary.faces_found} found, {summary.tracks} tracks, {summary.identities} people seen"
            f"{'; dropped: ' + dropped if dropped else ''}) in {summary.seconds:.1f} s"
        )
    return 0
