"""Command-line entry point: a thin layer over the library. Each subcommand lives in
`facetransfer.commands.<name>` and exposes `register(subparsers)`, which adds its parser and sets
`func(args) -> int` as the handler."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from facetransfer import __version__
from facetransfer.errors import FacetransferError

# Order is the order of `facetransfer --help`.
COMMANDS: tuple[str, ...] = ("extract", "train", "convert", "swap", "evaluate", "verify", "info")


def _quiet_native_logs() -> None:
    # MediaPipe / TensorFlow Lite / absl write start-up chatter to stderr; keep the terminal readable.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facetransfer",
        description="Video face transfer: extract faces, train a shared-encoder autoencoder, convert.",
    )
    parser.add_argument("--version", action="version", version=f"facetransfer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"facetransfer.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"facetransfer.commands.{name}":
                continue  # command not available in this build
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_native_logs()
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except FacetransferError as error:
        print(f"facetransfer {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"facetransfer {args.command}: interrupted", file=sys.stderr)
        return 130
