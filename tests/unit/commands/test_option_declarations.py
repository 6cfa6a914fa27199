"""Every option is declared once, on its stage config: each flag of every command and each key of the
config-file schema maps to exactly one dataclass field, with that field's default. A flag added to a
parser by hand (the old way) fails here."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from facetransfer.cli import build_parser
from facetransfer.commands.configs import command_stages, known_sections, options_table
from facetransfer.options import all_sections, build, option_fields, read_config_file, to_toml

# The flags that are a command's own (its inputs, outputs and what it prints), not stage options.
COMMAND_FLAGS: dict[str, set[str]] = {
    "extract": {"-h", "--help", "-o", "--output", "--json", "--config", "--print-config"},
    "mask": {"-h", "--help", "--json", "--config", "--print-config"},
    "train": {"-h", "--help", "-o", "--output", "--preset", "--config", "--print-config"},
    "pretrain": {"-h", "--help", "-o", "--output", "--preset", "--config", "--print-config"},
    "convert": {
        "-h", "--help", "-m", "--model", "-o", "--output", "--target-list", "--json", "--config",
        "--print-config",
    },
    "swap": {"-h", "--help", "-o", "--output", "--targets", "--config", "--print-config"},
    "evaluate": {
        "-h", "--help", "--source", "--target", "--json", "--report", "--config", "--print-config"
    },
    "verify": {"-h", "--help", "--json", "--frames"},
    "info": {"-h", "--help", "--json", "--sheet", "--sheet-max"},
    "ui": {"-h", "--help", "--config", "--print-config"},
    "export": {"-h", "--help", "-o", "--output", "--json", "--config", "--print-config"},
    "live": {"-h", "--help", "-m", "--model", "--json", "--config", "--print-config"},
}  # fmt: skip
REPO = Path(__file__).resolve().parents[3]


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_flag_is_a_declared_option_or_one_of_the_commands_own() -> None:
    stages = command_stages()
    for command, parser in _subparsers().items():
        sections = known_sections(stages.get(command, {}))
        fields_by_dest = {
            f"{section}.{'.'.join(item.path)}": item
            for section, cls in sections.items()
            for item in option_fields(cls)
        }
        for action in parser._actions:
            if not action.option_strings:
                continue
            targets = getattr(action, "all_targets", None)
            if targets is None:
                assert set(action.option_strings) <= COMMAND_FLAGS[command], (command, action.option_strings)
                continue
            assert action.default is argparse.SUPPRESS  # the default lives on the dataclass only
            for target in targets:
                item = fields_by_dest[target]  # KeyError: a flag that maps to no declared option
                assert f"--{item.key}" in action.option_strings


def test_every_declared_option_has_exactly_one_flag_per_command() -> None:
    from facetransfer.commands.swap import NOT_FLAGS

    stages = command_stages()
    for command, parser in _subparsers().items():
        targets = [t for action in parser._actions for t in getattr(action, "all_targets", [])]
        assert len(targets) == len(set(targets)), command
        excluded = NOT_FLAGS if command == "swap" else {}
        for section, cls in known_sections(stages.get(command, {})).items():
            for item in option_fields(cls):
                if item.spec.cli and item.name not in excluded.get(section, ()):
                    assert f"{section}.{'.'.join(item.path)}" in targets, (command, section, item.name)


@pytest.mark.parametrize("command", sorted(command_stages()))
def test_the_config_file_schema_reads_back_the_defaults(command: str, tmp_path: Path) -> None:
    stages = command_stages()[command]
    defaults = {section: cls() for section, cls in stages.items()}
    path = tmp_path / "defaults.toml"
    path.write_text(to_toml(defaults))
    sections = known_sections(stages)
    config_file = read_config_file(path, sections)
    assert set(config_file.sections) == set(sections)
    for cls in stages.values():
        values = {}
        for nested_section, nested in all_sections(cls).items():
            for key, value in config_file.sections[nested_section].items():
                item = next(i for i in option_fields(nested) if i.key == key)
                values[f"{nested_section}.{'.'.join(item.path)}"] = value
        assert build(cls, values) == cls() == build(cls, {})


def test_the_architecture_doc_holds_the_current_options_table() -> None:
    text = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text.split("<!-- options table: begin -->\n", 1)[1].split("<!-- options table: end -->", 1)[0]
    assert table == options_table(), "run: python tools/options_table.py"
