"""The options of a command: flags generated from the stage configs, `--config FILE` and
`--print-config`, merged in one order (defaults < preset < file < flags). See `facetransfer.options`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from facetransfer.options import (
    ConfigFile,
    add_flags,
    all_sections,
    build,
    file_values,
    given_flags,
    read_config_file,
    to_toml,
)


def positive_int(text: str) -> int:
    """argparse type of a command's own count flags (`--frames`, `--sheet-max`): 1 or more."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """`--config FILE` and `--print-config`, for every command that takes stage options."""
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="TOML file with [section] tables of options (keys as the long flags); flags win over it",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective configuration as TOML (for --config) and exit without running",
    )


def add_stage_flags(
    parser: argparse.ArgumentParser,
    classes: Mapping[str, type],
    exclude: Mapping[str, tuple[str, ...]] | None = None,
) -> None:
    """Flags for every option of each stage config in `classes` (section -> class) and of the
    sections nested in them, but the field names in `exclude[section]`."""
    for cls in classes.values():
        add_flags(parser, cls, exclude=exclude)


def known_sections(classes: Mapping[str, type]) -> dict[str, type]:
    """The sections a command reads: its stage configs and the sections nested in them."""
    found: dict[str, type] = {}
    for cls in classes.values():
        found.update(all_sections(cls))
    return found


def given_values(
    args: argparse.Namespace, parser: argparse.ArgumentParser, classes: Mapping[str, type]
) -> dict[str, Any]:
    """`section.path` -> value for every option the user set: the `--config` file's, then the flags'
    (which win)."""
    sections = known_sections(classes)
    config_file: ConfigFile | None = read_config_file(args.config, sections) if args.config else None
    values: dict[str, Any] = {}
    for section, cls in sections.items():
        values.update(file_values(config_file, section, cls))
    values.update(given_flags(args, parser))
    return values


def resolve_configs(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    classes: Mapping[str, type],
    bases: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """section -> config instance, from `bases` (or defaults), the `--config` file, then the flags."""
    values = given_values(args, parser, classes)
    return {section: build(cls, values, (bases or {}).get(section)) for section, cls in classes.items()}


def print_config(configs: Mapping[str, Any]) -> int:
    sys.stdout.write(to_toml(configs))
    return 0


def command_stages() -> dict[str, dict[str, type]]:
    """Command name -> its stage configs (`STAGES` of `facetransfer.commands.<name>`), for the
    commands that take options."""
    import importlib

    from facetransfer.cli import COMMANDS

    found = {}
    for name in COMMANDS:
        stages = getattr(importlib.import_module(f"facetransfer.commands.{name}"), "STAGES", None)
        if stages:
            found[name] = dict(stages)
    return found


def options_table() -> str:
    """The Markdown table of every option (docs/ARCHITECTURE.md, "Options")."""
    from facetransfer.options import markdown_table

    classes: dict[str, type] = {}
    commands: dict[str, list[str]] = {}
    for command, stages in command_stages().items():
        for cls in stages.values():
            for section, config_class in all_sections(cls).items():
                classes.setdefault(section, config_class)
                commands.setdefault(section, []).append(command)
    return markdown_table(classes, commands)
