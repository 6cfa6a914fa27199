"""`facetransfer train SOURCE_FACESET TARGET_FACESET -o MODEL_DIR`"""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from pathlib import Path
from typing import Any

from facetransfer.errors import ConfigError

# Flags whose value goes into ModelConfig / TrainConfig under the same name (the dest).
MODEL_FLAGS: tuple[str, ...] = (
    "name",
    "resolution",
    "bottleneck_width",
    "encoder_width",
    "decoder_width",
    "mask_width",
    "pixel_norm",
    "depth_to_space",
)
TRAIN_FLAGS: tuple[str, ...] = (
    "batch_size",
    "iterations",
    "minutes",
    "save_every_min",
    "save_every_steps",
    "preview_every",
    "keep_saves",
    "learning_rate",
    "weight_decay",
    "warmup_steps",
    "clip_grad_norm",
    "flip",
    "random_warp",
    "rotation_deg",
    "color_jitter",
    "color_transfer",
    "eyes_mouth_weight",
    "exclude_background",
    "holdout_fraction",
    "seed",
    "compile",
    "channels_last",
    "device",
    "threads",
    "log_every",
)


def register(subparsers: Any) -> None:
    from facetransfer.presets import COLOR_TRANSFERS, PRESETS

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "train",
        help="train a face-swap model on a source and a target faceset",
        description="Train (or resume) a shared-encoder autoencoder that learns the source and the target "
        "face. Running it again on the same model folder resumes where it stopped; the architecture "
        "always comes from the folder. Stops at --iterations, after --minutes, or on Ctrl-C / SIGTERM, "
        "always after saving.",
        epilog="Presets: "
        + "; ".join(f"{name}: {preset.description}" for name, preset in PRESETS.items())
        + ". Several GPUs: torchrun --nproc-per-node N -m facetransfer train ...",
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
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="TOML or JSON file with [model] and [train] options (and an optional preset); flags override it",
    )

    arch = parser.add_argument_group("architecture (new models only; must match when resuming)")
    arch.add_argument(
        "--model", dest="name", default=None, metavar="NAME", help="architecture: df or liae (registry names)"
    )
    arch.add_argument(
        "--resolution",
        type=int,
        default=None,
        metavar="PX",
        help="64-512, a multiple of 16 (of 32 with depth-to-space)",
    )
    arch.add_argument(
        "--bottleneck-width", type=int, default=None, metavar="N", help="width of the shared code"
    )
    arch.add_argument(
        "--encoder-width",
        type=int,
        default=None,
        metavar="N",
        help="encoder channels: its stages are 1, 2, 4, 8 times this",
    )
    arch.add_argument(
        "--decoder-width",
        type=int,
        default=None,
        metavar="N",
        help="decoder channels: its stages are 8, 4, 2 times this",
    )
    arch.add_argument(
        "--mask-width",
        type=int,
        default=None,
        metavar="N",
        help="mask decoder channels: its stages are 8, 4, 2 times this",
    )
    arch.add_argument(
        "--pixel-norm",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="normalise the encoder's code (DeepFaceLab's 'u')",
    )
    arch.add_argument(
        "--depth-to-space",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="last decoder stage by depth-to-space (DeepFaceLab's 'd'; ~3.6x less compute)",
    )

    run = parser.add_argument_group("training")
    run.add_argument("--batch-size", type=int, default=None, metavar="N", help="faces per person per step")
    run.add_argument(
        "--iterations", type=int, default=None, metavar="N", help="stop when the model reaches step N"
    )
    run.add_argument(
        "--minutes", type=float, default=None, metavar="M", help="stop after M minutes of this run"
    )
    run.add_argument("--save-every-min", type=float, default=None, metavar="M", help="save every M minutes")
    run.add_argument(
        "--save-every-steps", type=int, default=None, metavar="N", help="also save every N steps"
    )
    run.add_argument(
        "--preview-every", type=int, default=None, metavar="N", help="preview grid every N steps (0: off)"
    )
    run.add_argument(
        "--keep-saves", type=int, default=None, metavar="K", help="keep the last K saves (default 3)"
    )
    run.add_argument("--learning-rate", type=float, default=None, metavar="LR", help="AdamW learning rate")
    run.add_argument("--weight-decay", type=float, default=None, metavar="W", help="AdamW weight decay")
    run.add_argument("--warmup-steps", type=int, default=None, metavar="N", help="linear warm-up steps")
    run.add_argument(
        "--clip-grad-norm", type=float, default=None, metavar="X", help="clip gradients (0: off)"
    )
    run.add_argument(
        "--flip", action=argparse.BooleanOptionalAction, default=None, help="random horizontal flips"
    )
    run.add_argument(
        "--random-warp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="warp the input (on by default; turn off late in training to sharpen)",
    )
    run.add_argument("--rotation-deg", type=float, default=None, metavar="DEG", help="random rotation range")
    run.add_argument(
        "--color-jitter", type=float, default=None, metavar="X", help="colour jitter strength (0: off)"
    )
    run.add_argument(
        "--color-transfer",
        choices=COLOR_TRANSFERS,
        default=None,
        help="match source samples to target colours: rct (Reinhard, Lab) or lct (linear)",
    )
    run.add_argument(
        "--eyes-mouth-weight",
        type=float,
        default=None,
        metavar="W",
        help="extra weight on eye and mouth pixels (DeepFaceLab's eyes_mouth_prio is 300)",
    )
    run.add_argument(
        "--exclude-background",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="learn the face only (on by default)",
    )
    run.add_argument(
        "--holdout-fraction", type=float, default=None, metavar="F", help="faces held out for 'best'"
    )
    run.add_argument("--seed", type=int, default=None, help="random seed")
    run.add_argument(
        "--compile", action=argparse.BooleanOptionalAction, default=None, help="use torch.compile"
    )
    run.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="channels_last memory format (default: on with CUDA)",
    )
    run.add_argument("--device", default=None, help="auto (default), cpu, cuda or cuda:N")
    run.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads for PyTorch (default: one per core; 1 is faster on a busy machine)",
    )
    run.add_argument("--log-every", type=int, default=None, metavar="N", help="metrics line every N steps")
    parser.set_defaults(func=run_command)


def _read_config_file(path: str) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        payload = tomllib.loads(text) if file.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"{file}: cannot read the configuration ({error}); pass a TOML or JSON file"
        ) from error
    if not isinstance(payload, dict) or set(payload) - {"preset", "model", "train"}:
        raise ConfigError(f"{file}: expected only 'preset', [model] and [train] at the top level")
    return payload


def run_command(args: argparse.Namespace) -> int:
    from facetransfer.train import resolve_config, train

    file_options = _read_config_file(args.config) if args.config else {}
    model_options = dict(file_options.get("model", {}))
    train_options = dict(file_options.get("train", {}))
    model_options.update({key: getattr(args, key) for key in MODEL_FLAGS if getattr(args, key) is not None})
    train_options.update({key: getattr(args, key) for key in TRAIN_FLAGS if getattr(args, key) is not None})
    preset = args.preset or file_options.get("preset")
    config = resolve_config(args.output, preset, model_options, train_options)
    result = train(args.source, args.target, args.output, config)
    if int(os.environ.get("RANK", "0")) == 0:
        losses = ", ".join(f"{side} {value:.4f}" for side, value in result.losses.items())
        saved = result.checkpoint.name if result.checkpoint else "no checkpoint"
        details = f"stopped by {result.stopped_by}" + (f"; {losses}" if losses else "")
        print(f"{result.model_dir}: step {result.step} ({details}); {saved}")
    return 0
