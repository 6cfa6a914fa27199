"""`facetransfer convert TARGET -m MODEL_DIR -o OUTPUT [--faceset TARGET_FACESET] [options]`"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from facetransfer.commands.configs import add_config_flags, add_stage_flags, print_config, resolve_configs
from facetransfer.convert.config import ConvertConfig

STAGES = {"convert": ConvertConfig}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "convert",
        help="swap the faces of a target video with a trained model",
        description="Render every face of the target person through the model's source decoder, blend it "
        "back into the frames and write the video with its original sound (or an image / image folder).",
    )
    parser.add_argument("target", metavar="TARGET", help="target video, image or image folder")
    parser.add_argument("-m", "--model", required=True, metavar="MODEL_DIR", help="model folder from `train`")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTPUT",
        help="output video (.mp4/.mkv/.mov), image or folder",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_config_flags(parser)
    add_stage_flags(parser, STAGES)
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facetransfer.convert.pipeline import convert_video
    from facetransfer.extract import extract_for_model

    config = resolve_configs(args, args.parser, STAGES)["convert"]
    if args.print_config:
        return print_config({"convert": config})
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:  # created on the first frame, so extraction on the fly has its own line
            bar = tqdm(
                total=total or None, unit="frame", desc="convert", disable=args.quiet or None, file=sys.stderr
            )
        bar.update(done - bar.n)

    try:
        summary = convert_video(
            args.target, args.model, args.output, config, progress, extract_target=extract_for_model
        )
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        print(
            f"{summary.output}: {summary.frames} frames, {summary.faces_swapped} faces swapped in "
            f"{summary.frames_swapped} frames ({summary.faces_from}) in {summary.seconds:.1f} s, "
            f"{summary.fps:.1f} frames/s"
        )
    return 0
