"""Command-line entry point: a thin layer over the library. Each subcommand lives in
`facetransfer.commands.<name>` and exposes `register(subparsers)`, which adds its parser and sets
`func(args) -> int` as the handler."""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from facetransfer import __version__
from facetransfer.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, FacetransferError
from facetransfer.fsutil import final_path_of

# Order is the order of `facetransfer --help`.
COMMANDS: tuple[str, ...] = (
    "extract",
    "mask",
    "pretrain",
    "train",
    "convert",
    "swap",
    "live",
    "export",
    "evaluate",
    "verify",
    "info",
    "ui",
)


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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, so every command cleans up as on Ctrl-C."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def _user_path(name: object) -> str | None:
    """The path a user knows: a temporary `.NAME.PID.RANDOM[.ext].tmp` stands for `NAME` beside it."""
    if not name:
        return None
    return str(final_path_of(Path(str(name))))


def _os_error_line(error: OSError, output: object = None) -> str:
    """One line for a failed read or write: the file, the reason, what to do."""
    where = _user_path(error.filename) or _user_path(output) or "a file"
    advice = {
        errno.ENOSPC: "free some space or write elsewhere",
        errno.EDQUOT: "free some space or write elsewhere",
        errno.EROFS: "the disk is read-only; write elsewhere",
        errno.EACCES: "check its permissions",
        errno.EPERM: "check its permissions",
        errno.ELOOP: "a symbolic link points back at itself; fix the link",
        errno.ENAMETOOLONG: "use a shorter path",
        errno.EIO: "the disk reported an error; check it",
    }.get(error.errno or 0, "check the path and the disk")
    reason = error.strerror or str(error)
    return f"{where}: {reason}; {advice}"


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_native_logs()
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        status = int(args.func(args))
    except FacetransferError as error:
        print(f"facetransfer {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except Terminated:
        print(f"facetransfer {args.command}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"facetransfer {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as error:  # a disk full, read-only or unreadable where no stage translated it
        line = _os_error_line(error, getattr(args, "report", None) or getattr(args, "output", None))
        print(f"facetransfer {args.command}: error: {line}", file=sys.stderr)
        return FacetransferError.exit_code
    finally:
        signal.signal(signal.SIGTERM, previous)
    return status
