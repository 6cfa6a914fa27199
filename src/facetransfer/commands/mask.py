"""`facetransfer mask FACESET [--method skin|hull] [--train]`: make the stored face masks of a faceset."""

from __future__ import annotations

import argparse
import json
from typing import Any

from facetransfer.commands.configs import add_config_flags, add_stage_flags, print_config, resolve_configs
from facetransfer.faceset.maskconfig import MaskConfig

STAGES = {"mask": MaskConfig}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "mask",
        help="make the masks of a faceset's faces (skin, or fitted on masks you painted)",
        description="Store a mask of the face pixels of every face (hair, glasses, hands and objects in "
        "front of the face left out), which training learns and conversion blends with. Masks painted "
        "by hand in FACESET/user_masks/ (PNG, white = face, named as the face's crop file) are kept as "
        "they are; with --train a small mask model is fitted on them and the automatic masks and "
        "applied to every other face. `facetransfer info FACESET --sheet OUT.png` shows the masks. "
        "See docs/MASKS.md.",
    )
    parser.add_argument("faceset", metavar="FACESET", help="faceset folder from `extract`")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_config_flags(parser)
    add_stage_flags(parser, STAGES)
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    from facetransfer.faceset.remask import mask_faceset

    config = resolve_configs(args, args.parser, STAGES)["mask"]
    if args.print_config:
        return print_config({"mask": config})
    summary = mask_faceset(args.faceset, config)
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        fitted = f", mask model fitted in {summary.fit_seconds:.0f} s" if summary.fit_seconds else ""
        print(
            f"{summary.faceset}: {summary.faces} masks ({summary.method}; {summary.painted} painted by "
            f"hand{fitted}), {100 * summary.mean_coverage:.0f}% of each crop is face on average, "
            f"in {summary.seconds:.1f} s"
        )
    return 0
