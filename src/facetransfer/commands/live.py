"""`facetransfer live -m MODEL_OR_ONNX [--input CAMERA_INDEX|VIDEO|URL]
[--output window|FILE|virtual-camera]`"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from facetransfer.commands.configs import add_config_flags, add_stage_flags, print_config, resolve_configs
from facetransfer.live.config import LIVE_LABEL, LiveConfig

STAGES = {"live": LiveConfig}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "live",
        help="swap faces live: camera, video or stream in; window, file or virtual camera out",
        description="Find, track and swap the face in each frame as it arrives, with the watermark and a "
        "visible label on every output frame; frames are dropped, never queued, when the swap is slower "
        "than the input. A line with the fps and the latency is printed every second. Ctrl-C (or q in the "
        "window) stops; a file output is kept. Live defaults differ from convert's: the label is on "
        f"('{LIVE_LABEL}'; --label none turns it off), --crf 20, --encoder-preset ultrafast. "
        "See docs/LIVE.md.",
    )
    parser.add_argument(
        "-m",
        "--model",
        required=True,
        metavar="MODEL",
        help="model folder from `train`, or an `export` .onnx",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_config_flags(parser)
    add_stage_flags(parser, STAGES)
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    from facetransfer.live import run_live

    config = resolve_configs(args, args.parser, STAGES)["live"]
    if args.print_config:
        return print_config({"live": config})

    def show(line: str) -> None:
        if not args.quiet:
            print(f"live: {line}", file=sys.stderr, flush=True)

    summary = run_live(args.model, config, on_stats=show)
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        print(
            f"{summary.sink}: {summary.frames_output} frames ({summary.faces_swapped} faces swapped) from "
            f"{summary.source} in {summary.seconds:.1f} s: {summary.line()}"
        )
    return 0
