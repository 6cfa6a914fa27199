"""Options declared once: flags, config files, validation and printing all come from the declaration."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import pytest

from facetransfer.errors import ConfigError
from facetransfer.options import (
    add_flags,
    build,
    check_options,
    file_values,
    given_flags,
    option,
    option_fields,
    read_config_file,
    to_toml,
)


@dataclass(frozen=True)
class Inner:
    flip: bool = option(False, "mirror faces")
    rotation_deg: float = option(10.0, "rotation", unit="deg", minimum=0.0, maximum=180.0)

    def __post_init__(self) -> None:
        check_options(self)


@dataclass(frozen=True)
class Nested:
    SECTION: ClassVar[str] = "nested"
    label: str | None = option(None, "a label")

    def __post_init__(self) -> None:
        check_options(self)


@dataclass(frozen=True)
class Outer:
    SECTION: ClassVar[str] = "outer"
    size_px: int = option(256, "crop size", unit="px", minimum=32, maximum=1024)
    mode: Literal["a", "b"] = option("a", "mode")
    names: list[str] = option([], "names")
    minutes: float | None = option(None, "budget", unit="minutes", minimum=0.0)
    inner: Inner = field(default_factory=Inner)
    nested: Nested = field(default_factory=Nested)

    def __post_init__(self) -> None:
        check_options(self)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_flags(parser, Outer)
    return parser


def test_flags_come_from_the_fields_and_only_given_flags_are_set() -> None:
    parser = _parser()
    args = parser.parse_args(["--size-px", "64", "--flip", "--label", "x", "--names", "p", "q"])
    assert given_flags(args, parser) == {
        "outer.size_px": 64,
        "outer.inner.flip": True,
        "nested.label": "x",
        "outer.names": ["p", "q"],
    }
    config = build(Outer, given_flags(args, parser))
    assert (config.size_px, config.inner.flip, config.nested.label, config.names) == (
        64,
        True,
        "x",
        ["p", "q"],
    )
    assert config.inner.rotation_deg == 10.0 and config.mode == "a"
    assert given_flags(parser.parse_args([]), parser) == {}
    with pytest.raises(SystemExit):
        parser.parse_args(["--mode", "c"])  # a closed choice


def test_validation_names_the_option_and_its_range() -> None:
    with pytest.raises(
        ConfigError, match=r"--size-px \(\[outer\] size-px\) must be between 32 and 1024 px, not 7"
    ):
        Outer(size_px=7)
    with pytest.raises(ConfigError, match="rotation-deg"):
        Inner(rotation_deg=-1.0)
    with pytest.raises(ConfigError, match="expected one of a, b"):
        Outer(mode="c")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="expected an integer"):
        Outer(size_px="64")  # type: ignore[arg-type]
    assert Inner(rotation_deg=5).rotation_deg == 5.0 and isinstance(Inner(rotation_deg=5).rotation_deg, float)


def test_a_config_file_is_checked_key_by_key_with_its_line(tmp_path: Path) -> None:
    sections = {"outer": Outer, "nested": Nested}
    path = tmp_path / "run.toml"
    path.write_text('[outer]\nsize-px = 128\nflip = true\n\n[nested]\nlabel = "deep fake"\n')
    config_file = read_config_file(path, sections)
    values = {**file_values(config_file, "outer", Outer), **file_values(config_file, "nested", Nested)}
    config = build(Outer, values)
    assert (config.size_px, config.inner.flip, config.nested.label) == (128, True, "deep fake")

    path.write_text("[outer]\nsize-px = 128\nsize = 3\n")
    with pytest.raises(ConfigError, match=r"run.toml:3: unknown key 'size' in \[outer\]"):
        read_config_file(path, sections)
    path.write_text('[outer]\n\nsize-px = "big"\n')
    with pytest.raises(ConfigError, match=r"run.toml:3: \[outer\] size-px: expected an integer"):
        read_config_file(path, sections)
    path.write_text("[train]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"unknown section \[train\]"):
        read_config_file(path, sections)
    path.write_text("[outer\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_config_file(path, sections)
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(ConfigError, match="not a text file"):
        read_config_file(path, sections)
    with pytest.raises(ConfigError, match="not found"):
        read_config_file(tmp_path / "absent.toml", sections)


def test_printed_config_reads_back_to_the_same_config(tmp_path: Path) -> None:
    config = Outer(size_px=96, names=["a"], inner=Inner(flip=True), nested=Nested(label='say "hi"'))
    path = tmp_path / "printed.toml"
    path.write_text(to_toml({"outer": config}))
    sections = {"outer": Outer, "nested": Nested}
    config_file = read_config_file(path, sections)
    values = {**file_values(config_file, "outer", Outer), **file_values(config_file, "nested", Nested)}
    assert build(Outer, values) == config


def test_flattened_fields_have_their_paths() -> None:
    paths = [item.path for item in option_fields(Outer)]
    assert ("inner", "flip") in paths and ("size_px",) in paths
    assert all(path[0] != "nested" for path in paths)  # a nested section is not flattened
