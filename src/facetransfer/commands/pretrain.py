"""`facetransfer pretrain INPUT... -o BASE_DIR`"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from facetransfer.commands.configs import add_config_flags, add_stage_flags, given_values, print_config
from facetransfer.commands.train import finish
from facetransfer.presets import PRESETS, ModelConfig, TrainConfig

STAGES = {"model": ModelConfig, "train": TrainConfig}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "pretrain",
        help="train a base model on the faces of many people, for new models to start from",
        description="Pool every face of the inputs (photo folders, searched recursively; photos; videos; "
        "facesets) into BASE_DIR/pool, then train a model whose two sides both learn the pool: flips "
        "on, random warp off, faces drawn evenly over head yaw. `train` and `swap` start from it with "
        "--base BASE_DIR. Running it again resumes (the pool is not extracted again); it stops at "
        "--iterations, after --minutes, or on Ctrl-C / SIGTERM, always after saving.",
    )
    parser.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="photo folders, photos, videos or facesets of many people"
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="BASE_DIR", help="base folder (created or resumed)"
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="architecture and training options of a new base (default: gpu128 with CUDA, cpu without)",
    )
    add_config_flags(parser)
    add_stage_flags(parser, STAGES)
    parser.set_defaults(func=run_command, parser=parser)


def run_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facetransfer.errors import ConfigError
    from facetransfer.pretrain.run import POOL_DIR, is_base_dir, pretrain, resolve_pretrain_config

    config = resolve_pretrain_config(args.output, args.preset, given_values(args, args.parser, STAGES))
    if args.print_config:
        return print_config({"model": config.model, "train": config.train})
    if not args.inputs and not is_base_dir(args.output):
        raise ConfigError(f"{args.output}: a new base needs inputs: photo folders, videos or facesets")
    bar = tqdm(unit="photo", desc="pool", leave=False, disable=args.quiet or None, file=sys.stderr)

    def progress(done: int, faces: int) -> None:
        bar.update(done - bar.n)
        bar.set_postfix(faces=faces, refresh=False)

    try:
        result = pretrain(args.inputs, args.output, config, progress=progress)
    finally:
        bar.close()
    return finish(result, "base at step", f"; pool in {POOL_DIR}/")
