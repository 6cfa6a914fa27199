"""`facetransfer swap SOURCE... TARGET -o OUTPUT`: the whole pipeline in one command, resumable."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

from facetransfer.commands.provenance_flags import add_provenance_arguments, config_from_args
from facetransfer.errors import ConfigError

CONFIG_SECTIONS = ("extract", "model", "train", "convert")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "swap",
        help="source media + target video -> finished face-swapped video (extract, train, convert)",
        description="Extract the source person from every SOURCE and the target person from TARGET, train, "
        "convert, and write OUTPUT with the target's sound. Rerunning the same command resumes: finished "
        "stages are skipped, training continues toward the budget.",
    )
    parser.add_argument(
        "media", nargs="+", metavar="SOURCE... TARGET", help="source videos/images/folders, then the target"
    )
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="output video (or image)")
    parser.add_argument(
        "--workdir", default=None, metavar="DIR", help="work folder (default: OUTPUT's name + .work)"
    )
    parser.add_argument(
        "--preset",
        default=None,
        choices=("tiny", "cpu", "gpu128", "gpu256"),
        help="model preset (default: gpu128 with CUDA, else cpu)",
    )
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--iterations", type=int, default=None, metavar="N", help="train until step N")
    budget.add_argument("--minutes", type=float, default=None, metavar="M", help="train for M minutes in all")
    parser.add_argument(
        "--reference", nargs="+", default=[], metavar="IMAGE", help="photo(s) of the source person"
    )
    parser.add_argument(
        "--target-reference", nargs="+", default=[], metavar="IMAGE", help="photo(s) of the target person"
    )
    parser.add_argument(
        "--compare", action="store_true", help="also write OUTPUT.compare.mp4 (target | result)"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="start over (the previous model is kept as model.previous)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an OUTPUT this work folder did not make"
    )
    parser.add_argument(
        "--min-source-faces", type=int, default=50, metavar="N", help="refuse to train on fewer source faces"
    )
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="TOML file with [extract], [model], [train], [convert] options",
    )
    add_provenance_arguments(parser)
    parser.set_defaults(func=run)


def read_config_file(path: str) -> dict[str, dict[str, Any]]:
    try:
        payload = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file ({error.strerror})") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from error
    unknown = sorted(set(payload) - set(CONFIG_SECTIONS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown section(s) {', '.join(unknown)}; use {', '.join(CONFIG_SECTIONS)}"
        )
    return {section: dict(payload.get(section, {})) for section in CONFIG_SECTIONS}


def run(args: argparse.Namespace) -> int:
    from facetransfer.swap.pipeline import SwapConfig, run_swap

    if len(args.media) < 2:
        raise ConfigError("swap needs at least one SOURCE and a TARGET")
    sections = read_config_file(args.config) if args.config else {s: {} for s in CONFIG_SECTIONS}
    sections["convert"]["provenance"] = config_from_args(args)
    config = SwapConfig(
        workdir=args.workdir,
        preset=args.preset,
        iterations=args.iterations,
        minutes=args.minutes,
        reference=list(args.reference),
        target_reference=list(args.target_reference),
        compare=args.compare,
        fresh=args.fresh,
        overwrite=args.overwrite,
        min_source_faces=args.min_source_faces,
        **sections,
    )

    def say(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

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
