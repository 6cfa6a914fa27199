"""`facetransfer convert TARGET... -m MODEL_DIR -o OUTPUT [--faceset TARGET_FACESET] [options]`

One target: OUTPUT is its output. Several (files, folders of videos, `--target-list FILE`): OUTPUT is
a folder with one output each, finished ones skipped on a rerun (`convert.batch`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from facetransfer.commands.configs import add_config_flags, add_stage_flags, print_config, resolve_configs
from facetransfer.convert.config import ConvertConfig
from facetransfer.errors import FacetransferError

STAGES = {"convert": ConvertConfig}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "convert",
        help="swap the faces of a target video with a trained model",
        description="Render every face of the target person through the model's source decoder, blend it "
        "back into the frames and write the video with its original sound (or an image / image folder).",
    )
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="target video, image or image folder; several (or a folder of videos): one output each in "
        "the OUTPUT folder",
    )
    parser.add_argument(
        "--target-list",
        action="append",
        default=[],
        metavar="FILE",
        help="a text file naming more targets, one path per line (relative to the file's folder)",
    )
    parser.add_argument("-m", "--model", required=True, metavar="MODEL_DIR", help="model folder from `train`")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTPUT",
        help="output video (.mp4/.mkv/.mov), image or folder; with several targets, the output folder",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_config_flags(parser)
    add_stage_flags(parser, STAGES)
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facetransfer.convert.batch import expand_targets, read_target_list
    from facetransfer.convert.pipeline import convert_video
    from facetransfer.extract import extract_for_model

    config = resolve_configs(args, args.parser, STAGES)["convert"]
    if args.print_config:
        return print_config({"convert": config})
    listed = [target for list_file in args.target_list for target in read_target_list(list_file)]
    targets = expand_targets([*args.targets, *listed])
    if not targets:
        raise FacetransferError("no target given; pass TARGET... or --target-list FILE")
    if len(targets) > 1 or args.target_list or targets[0] not in [Path(target) for target in args.targets]:
        return run_many(args, targets, config)
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
            targets[0], args.model, args.output, config, progress, extract_target=extract_for_model
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


def run_many(args: argparse.Namespace, targets: list[Path], config: ConvertConfig) -> int:
    """Several targets into the OUTPUT folder: one progress bar over all their frames, one line per
    target, status 0 when every target is converted or already was, 2 when any failed."""
    from tqdm import tqdm

    from facetransfer.convert.batch import TargetResult, convert_targets
    from facetransfer.extract import extract_for_model

    bar: Any = None

    def progress(done: int, total: int, number: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(
                total=total or None, unit="frame", desc="convert", disable=args.quiet or None, file=sys.stderr
            )
        bar.set_description(f"convert {number + 1}/{len(targets)}", refresh=False)
        bar.update(done - bar.n)

    def report(result: TargetResult) -> None:
        if result.status == "failed":
            line = f"facetransfer convert: error: {result.error}"
        elif result.status == "skipped":
            line = f"{result.output}: already converted (skipped; --overwrite converts it again)"
        else:
            line = f"{result.output}: converted in {result.seconds:.1f} s"
        if bar is not None:
            bar.write(line, file=sys.stderr)
        elif result.status == "failed" or not args.quiet:
            print(line, file=sys.stderr)

    try:
        summary = convert_targets(
            targets,
            args.model,
            args.output,
            config,
            progress,
            extract_target=extract_for_model,
            on_result=report,
        )
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        print(
            f"{summary.output_dir}: {len(summary.results)} targets: {summary.count('converted')} converted, "
            f"{summary.count('skipped')} skipped (already there), {summary.count('failed')} failed, "
            f"in {summary.seconds:.1f} s"
        )
    return 0 if summary.succeeded else FacetransferError.exit_code
