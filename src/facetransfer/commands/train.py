"""`facetransfer train SOURCE_FACESET TARGET_FACESET -o MODEL_DIR`"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from facetransfer.commands.configs import add_config_flags, add_stage_flags, given_values, print_config
from facetransfer.errors import EXIT_INTERRUPTED, EXIT_TERMINATED
from facetransfer.presets import PRESETS, ModelConfig, TrainConfig

if TYPE_CHECKING:
    from facetransfer.train.loop import TrainResult

STAGES = {"model": ModelConfig, "train": TrainConfig}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "train",
        help="train a face-swap model on a source and a target faceset",
        description="Train (or resume) a shared-encoder autoencoder that learns the source and the target "
        "face. Running it again on the same model folder resumes where it stopped; the architecture "
        "always comes from the folder. Stops at --iterations, after --minutes, or on Ctrl-C / SIGTERM, "
        "always after saving.",
        epilog="Presets: "
        + "; ".join(f"{name}: {preset.description}" for name, preset in PRESETS.items())
        + ". The defaults shown are the options' own: a new model starts from its preset's values, a "
        "resumed one from those saved in its folder. Several GPUs: torchrun --nproc-per-node N -m "
        "facetransfer train ...",
    )
    parser.add_argument(
        "source", metavar="SOURCE_FACESET", help="faceset of the person who appears in the output"
    )
    parser.add_argument(
        "target", metavar="TARGET_FACESET", help="faceset of the person whose video is converted"
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="MODEL_DIR", help="model folder (created or resumed)"
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="starting point for a new model (default: gpu128 with CUDA, cpu without)",
    )
    add_config_flags(parser)
    add_stage_flags(parser, STAGES)
    parser.set_defaults(func=run_command, parser=parser)


def run_command(args: argparse.Namespace) -> int:
    from facetransfer.train import resolve_config, train

    # the base is the model folder's saved configuration, or the preset's
    config = resolve_config(args.output, args.preset, values=given_values(args, args.parser, STAGES))
    if args.print_config:
        return print_config({"model": config.model, "train": config.train})
    return finish(train(args.source, args.target, args.output, config))


def finish(result: TrainResult, what: str = "step", note: str = "") -> int:
    """Print the run's line (on rank 0) and return the exit status: 0, or 130 / 143 when a signal
    stopped it (it saved; the status says the run was cut short)."""
    if int(os.environ.get("RANK", "0")) == 0:
        losses = ", ".join(f"{side} {value:.4f}" for side, value in result.losses.items())
        saved = result.checkpoint.name if result.checkpoint else "no checkpoint"
        details = f"stopped by {result.stopped_by}" + (f"; {losses}" if losses else "")
        print(f"{result.model_dir}: {what} {result.step} ({details}); {saved}{note}")
    if result.stopped_by == "signal":
        return EXIT_TERMINATED if result.signal_name == "SIGTERM" else EXIT_INTERRUPTED
    return 0
