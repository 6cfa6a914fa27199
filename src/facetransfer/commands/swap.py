"""`facetransfer swap SOURCE... TARGET -o OUTPUT`: the whole pipeline in one command, resumable."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from facetransfer.commands.configs import add_config_flags, add_stage_flags, given_values, print_config
from facetransfer.errors import ConfigError, FacetransferError
from facetransfer.options import build
from facetransfer.presets import ModelConfig, TrainConfig
from facetransfer.swap.config import SwapConfig

STAGES = {"swap": SwapConfig, "model": ModelConfig, "train": TrainConfig}
# options the swap sets itself, or that would be ambiguous as one flag (they stay in the config file)
NOT_FLAGS = {
    "extract": ("overwrite", "reference"),
    "convert": ("overwrite", "faceset", "batch_size"),
}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "swap",
        help="source media + target video -> finished face-swapped video (extract, train, convert)",
        description="Extract the source person from every SOURCE and the target person from TARGET, train, "
        "convert, and write OUTPUT with the target's sound. Rerunning the same command resumes: finished "
        "stages are skipped, training continues toward the budget.",
    )
    parser.add_argument(
        "media",
        nargs="+",
        metavar="SOURCE... TARGET",
        help="source videos/images/folders, then the target (with --targets: the sources only)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTPUT",
        help="output video (or image); with --targets, the output folder",
    )
    parser.add_argument(
        "--targets",
        nargs="+",
        default=None,
        metavar="TARGET",
        help="several targets for one source: one model trained on all their faces, every target "
        "converted into the OUTPUT folder",
    )
    add_config_flags(parser)
    add_stage_flags(parser, STAGES, exclude=NOT_FLAGS)
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    from facetransfer.swap.pipeline import run_swap
    from facetransfer.train.loop import new_model_config

    if len(args.media) < 2 and not args.targets:
        raise ConfigError("swap needs at least one SOURCE and a TARGET")
    values = given_values(args, args.parser, STAGES)
    config = build(SwapConfig, values)
    new_model = new_model_config(config.preset, values)  # the architecture may come from --base
    model, train = new_model.model, new_model.train
    config = replace(config, model=model, train=train)
    if args.print_config:
        return print_config({"swap": config, "model": model, "train": train})

    def say(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    if args.targets:
        return run_many(args, config, say)
    report = run_swap(args.media[:-1], args.media[-1], args.output, config, progress=say)
    print(f"result:     {report.output}")
    if report.comparison:
        print(f"comparison: {report.comparison}")
    if report.previews:
        print(f"previews:   {report.previews}")
    print(f"work folder: {report.workdir} (report.json)")
    for stage in report.stages:
        print(f"  {stage.name:15} {'skipped (up to date)' if stage.skipped else f'{stage.seconds:8.1f} s'}")
    return 0


def run_many(args: argparse.Namespace, config: SwapConfig, say: Callable[[str], None]) -> int:
    """`--targets`: status 0 when every target was converted, 2 when any failed (each said above)."""
    from facetransfer.convert.batch import expand_targets
    from facetransfer.swap.many import run_swap_targets

    report = run_swap_targets(args.media, expand_targets(args.targets), args.output, config, progress=say)
    for target, output in report.outputs.items():
        print(f"result:     {output} (from {target})")
    for comparison in report.comparisons:
        print(f"comparison: {comparison}")
    if report.previews:
        print(f"previews:   {report.previews}")
    print(f"work folder: {report.workdir} (report.json)")
    for stage in report.stages:
        print(f"  {stage.name:28} {'skipped (up to date)' if stage.skipped else f'{stage.seconds:8.1f} s'}")
    for target, error in report.failed.items():
        print(
            f"facetransfer swap: error: {error if target in error else f'{target}: {error}'}", file=sys.stderr
        )
    return FacetransferError.exit_code if report.failed else 0
