"""Every stage option declared once: on its stage's frozen config dataclass, with `option(...)`.

A declaration holds the default, the type (a `Literal` for closed choices), the unit, the allowed
range and the help text. From it come:

- the command-line flags (`add_flags`): `--name-with-dashes`, booleans as `--x / --no-x`;
- the config-file schema: one TOML section per stage config (`SECTION`), keys spelled like the long
  flags (`[extract] crop-size = 256`), read by `read_config_file` with one-line errors that name the
  file, the line and the key;
- validation (`check_options`, called from each config's `__post_init__`): type, choices and range;
- `--print-config` (`to_toml`), which writes the effective configuration so a run can be repeated.

A config may nest another: a nested config without a `SECTION` of its own is flattened into its
parent's section (`TrainConfig` holds `AugmentConfig` and `LossWeights`); one with its own `SECTION`
gets its own table (`ConvertConfig.provenance` is `[provenance]`).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from facetransfer.errors import ConfigError


@dataclass(frozen=True)
class OptionSpec:
    """What a field's metadata says about it (see `option`)."""

    help: str
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    metavar: str | None = None
    cli: bool = True
    flag: str | None = None


def option(
    default: Any,
    help: str,
    *,
    unit: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    metavar: str | None = None,
    cli: bool = True,
    flag: str | None = None,
) -> Any:
    """Declare a config field as an option. A list default is copied for each instance.

    Args:
        default: the default value (also what the flag's help shows).
        help: one line for `--help`, the docs table and `--print-config`.
        unit: e.g. "px", "s", "minutes"; shown in the help.
        minimum, maximum: the allowed range (inclusive); checked for flags, files and library calls.
        metavar: the flag's value name in `--help`.
        cli: False for options that only a config file or the library sets.
        flag: the long flag and config-file key, where the field's own name would read badly as
            one (`ProvenanceConfig.enabled` is `--provenance / --no-provenance`).
    """
    spec = OptionSpec(help, unit, minimum, maximum, metavar, cli, flag)
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata={"option": spec})
    return dataclasses.field(default=default, metadata={"option": spec})


def flag_name(field_name: str) -> str:
    """`crop_size` -> `crop-size`: the long flag (after `--`) and the config-file key."""
    return field_name.replace("_", "-")


# ------------------------------------------------------------------ types


@dataclass(frozen=True)
class _Kind:
    base: type  # int, float, str, bool, list
    optional: bool
    choices: tuple[Any, ...] | None


def _kind(annotation: Any) -> _Kind:
    args = get_args(annotation)
    optional = False
    if get_origin(annotation) in (typing.Union, types.UnionType):
        non_none = [arg for arg in args if arg is not type(None)]
        optional = len(non_none) < len(args)
        if len(non_none) != 1:
            raise TypeError(f"unsupported option type {annotation}")
        annotation = non_none[0]
        args = get_args(annotation)
    if get_origin(annotation) is Literal:
        return _Kind(type(args[0]), optional, tuple(args))
    if get_origin(annotation) is list:
        return _Kind(list, optional, None)
    if annotation in (int, float, str, bool):
        return _Kind(annotation, optional, None)
    raise TypeError(f"unsupported option type {annotation}")


def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _describe_type(kind: _Kind) -> str:
    if kind.choices:
        return "one of " + ", ".join(str(choice) for choice in kind.choices)
    name = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list"}
    return name[kind.base] + (" (or nothing)" if kind.optional else "")


def coerce(kind: _Kind, value: Any) -> Any:
    """`value` as the option's type, or ValueError saying what was expected."""
    if value is None and kind.optional:
        return None
    if kind.base is bool:
        if isinstance(value, bool):
            return value
    elif kind.base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            value = int(value)
        else:
            raise ValueError(f"expected {_describe_type(kind)}, found {value!r}")
    elif kind.base is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value)
        else:
            raise ValueError(f"expected {_describe_type(kind)}, found {value!r}")
        if not math.isfinite(value):  # nan passes every range check, inf runs forever
            raise ValueError(f"expected a finite number, found {value}")
    elif kind.base is str:
        if not isinstance(value, str):
            raise ValueError(f"expected {_describe_type(kind)}, found {value!r}")
    elif kind.base is list:
        if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
            return [str(item) for item in value]
        raise ValueError(f"expected a list of strings, found {value!r}")
    if kind.base is bool and not isinstance(value, bool):
        raise ValueError(f"expected true or false, found {value!r}")
    if kind.choices is not None and value not in kind.choices:
        raise ValueError(f"expected {_describe_type(kind)}, found {value!r}")
    return value


# ------------------------------------------------------------------ fields


@dataclass(frozen=True)
class OptionField:
    """One option of a config class, possibly inside a flattened nested config."""

    path: tuple[str, ...]  # attribute path from the top config, e.g. ("augment", "flip")
    name: str  # the field name
    kind: _Kind
    spec: OptionSpec
    default: Any

    @property
    def key(self) -> str:
        return self.spec.flag or flag_name(self.name)


def _nested_class(annotation: Any) -> type | None:
    return annotation if isinstance(annotation, type) and dataclasses.is_dataclass(annotation) else None


def section_of(cls: type) -> str | None:
    return getattr(cls, "SECTION", None)


def option_fields(cls: type, prefix: tuple[str, ...] = ()) -> Iterator[OptionField]:
    """The options of `cls`'s own section (flattened nested configs included, nested sections not)."""
    hints = _type_hints(cls)
    for item in dataclasses.fields(cls):
        nested = _nested_class(hints[item.name])
        if nested is not None:
            if section_of(nested) is None:
                yield from option_fields(nested, (*prefix, item.name))
            continue
        spec = item.metadata.get("option")
        if spec is None:
            continue
        default = item.default_factory() if item.default_factory is not dataclasses.MISSING else item.default
        yield OptionField((*prefix, item.name), item.name, _kind(hints[item.name]), spec, default)


def nested_sections(cls: type) -> dict[str, type]:
    """Field name -> config class, for nested configs with a section of their own."""
    hints = _type_hints(cls)
    found = {}
    for item in dataclasses.fields(cls):
        nested = _nested_class(hints[item.name])
        if nested is not None and section_of(nested) is not None:
            found[item.name] = nested
    return found


def check_options(config: Any) -> None:
    """Check every option field of `config` (type, choices, range); called from `__post_init__`.
    Integers given for float options become floats. Raises `ConfigError` naming the option."""
    section = section_of(type(config))  # None for a config flattened into its parent's section
    hints = _type_hints(type(config))
    for item in dataclasses.fields(config):
        spec = item.metadata.get("option")
        if spec is None:
            continue
        kind = _kind(hints[item.name])
        value = getattr(config, item.name)
        key = spec.flag or flag_name(item.name)
        try:
            checked = coerce(kind, value)
        except ValueError as error:
            raise ConfigError(f"{_option_name(section, key)}: {error}") from None
        if checked is not value:
            object.__setattr__(config, item.name, checked)
        _check_range(section, key, spec, checked)


def _option_name(section: str | None, key: str) -> str:
    return f"--{key} ([{section}] {key})" if section else f"--{key}"


def _check_range(section: str | None, key: str, spec: OptionSpec, value: Any) -> None:
    if value is None or isinstance(value, bool | str | list):
        return
    low, high = spec.minimum, spec.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f"between {low} and {high}"
            if low is not None and high is not None
            else (f"at least {low}" if low is not None else f"at most {high}")
        )
        unit = f" {spec.unit}" if spec.unit else ""
        raise ConfigError(f"{_option_name(section, key)} must be {bounds}{unit}, not {value}")


# ------------------------------------------------------------------ command line


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e12 else f"{value:g}"


def _help(item: OptionField) -> str:
    parts = [item.spec.help]
    details = []
    if item.spec.unit:
        details.append(item.spec.unit)
    if item.kind.base is not bool and item.default not in (None, []):
        details.append(f"default {item.default}")
    if item.spec.minimum is not None or item.spec.maximum is not None:
        details.append(f"range {_number(item.spec.minimum)}..{_number(item.spec.maximum)}")
    if details:
        parts.append(f"({'; '.join(details)})")
    return " ".join(parts).replace("%", "%%")


def dest(section: str, item: OptionField) -> str:
    return f"{section}.{'.'.join(item.path)}"


def _flag_dests(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {option: action for action in parser._actions for option in action.option_strings}


def all_sections(cls: type) -> dict[str, type]:
    """Section -> config class: `cls`'s own and every section nested in it, at any depth."""
    found = {section_of(cls) or "": cls}
    for nested in nested_sections(cls).values():
        found.update(all_sections(nested))
    return found


def add_flags(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    exclude: Mapping[str, tuple[str, ...]] | None = None,
) -> None:
    """Add a flag for every option of `cls` and of the sections nested in it, except the field
    names in `exclude[section]`. Values land in the namespace as `section.path`
    (`extract.crop_size`), absent when not given, so a config file's values win over defaults and
    flags over both. A flag already added for another section (swap: `--device` for train and
    convert) then sets that option in every section that has it."""
    for section, config_class in all_sections(cls).items():
        group = parser.add_argument_group(f"{section} options")
        existing = _flag_dests(parser)
        for item in option_fields(config_class):
            if not item.spec.cli or item.name in (exclude or {}).get(section, ()):
                continue
            flag = f"--{item.key}"
            target = dest(section, item)
            if flag in existing:
                action = existing[flag]
                targets = getattr(action, "all_targets", [action.dest])
                targets.append(target)
                action.all_targets = targets  # type: ignore[attr-defined]
                continue
            kwargs: dict[str, Any] = {"dest": target, "default": argparse.SUPPRESS, "help": _help(item)}
            if item.kind.base is bool:
                kwargs["action"] = argparse.BooleanOptionalAction
            elif item.kind.base is list:
                kwargs.update(nargs="+", metavar=item.spec.metavar or "VALUE")
            else:
                kwargs["type"] = _parse_value(item)
                if item.kind.choices:
                    kwargs["choices"] = item.kind.choices
                else:
                    kwargs["metavar"] = _metavar(item)
            action = group.add_argument(flag, **kwargs)
            action.all_targets = [target]  # type: ignore[attr-defined]


def _metavar(item: OptionField) -> str:
    if item.spec.metavar:
        return item.spec.metavar
    if item.spec.unit:
        return item.spec.unit.upper().replace(" ", "_")
    return "N" if item.kind.base is int else "X"


def _parse_value(item: OptionField) -> Any:
    base = item.kind.base

    def parse(text: str) -> Any:
        if item.kind.optional and text.lower() in ("none", ""):
            return None
        return base(text)

    parse.__name__ = base.__name__  # argparse names the type in its error message
    return parse


def given_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """`section.path` -> value for every stage flag the user gave (shared flags fanned out)."""
    values = vars(args)
    given: dict[str, Any] = {}
    for action in parser._actions:
        for target in getattr(action, "all_targets", []):
            if action.dest in values:
                given[target] = values[action.dest]
    return given


# ------------------------------------------------------------------ config files


class ConfigFile:
    """A parsed TOML config file: its sections, and where each key is (for error messages)."""

    def __init__(self, path: Path, sections: dict[str, Any], text: str) -> None:
        self.path = path
        self.sections = sections
        self.text = text

    def line_of(self, section: str, key: str) -> int | None:
        current = None
        for number, line in enumerate(self.text.splitlines(), start=1):
            header = re.match(r"\s*\[\s*([^\]]+?)\s*\]", line)
            if header:
                current = header.group(1).strip('"')
                continue
            if current == section and re.match(rf"\s*\"?{re.escape(key)}\"?\s*=", line):
                return number
        return None

    def where(self, section: str, key: str) -> str:
        line = self.line_of(section, key)
        return f"{self.path}:{line}" if line else str(self.path)


def read_config_file(path: str | Path, known_sections: Mapping[str, type]) -> ConfigFile:
    """Read a TOML config file. Every table must be one of `known_sections` (section -> config
    class, the sections this command reads) and every key an option of it; `ConfigError` names the
    file, the line and the key otherwise, or when the file is not readable TOML."""
    file_path = Path(path)
    try:
        text = file_path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file_path}: config file not found; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"{file_path}: is a folder, not a config file") from None
    except PermissionError:
        raise ConfigError(f"{file_path}: config file cannot be read (permission denied)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file_path}: not a text file; a config file is TOML (UTF-8)") from None
    except OSError as error:
        raise ConfigError(f"{file_path}: config file cannot be read ({error.strerror})") from None
    try:
        sections = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file_path}: not valid TOML ({error}); fix the file") from None
    config = ConfigFile(file_path, sections, text)
    for section, values in sections.items():
        if section not in known_sections:
            known = ", ".join(f"[{name}]" for name in known_sections)
            raise ConfigError(
                f"{config.where(section, '')}: unknown section [{section}]; this command reads {known}"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{file_path}: '{section}' must be a table ([{section}]), not a value")
        fields_by_key = {item.key: item for item in option_fields(known_sections[section])}
        for key, value in values.items():
            item = fields_by_key.get(key)
            if item is None:
                close = [
                    k for k in fields_by_key if k.replace("-", "") == key.replace("_", "").replace("-", "")
                ]
                hint = (
                    f"; did you mean '{close[0]}'?"
                    if close
                    else f"; see the [{section}] keys in --print-config"
                )
                raise ConfigError(f"{config.where(section, key)}: unknown key '{key}' in [{section}]{hint}")
            try:
                _check_range(None, key, item.spec, coerce(item.kind, value))
            except (ValueError, ConfigError) as error:
                raise ConfigError(f"{config.where(section, key)}: [{section}] {key}: {error}") from None
    return config


def file_values(config_file: ConfigFile | None, section: str, cls: type) -> dict[str, Any]:
    """`section.path` -> value for the keys of one section in a config file."""
    if config_file is None:
        return {}
    values = config_file.sections.get(section, {})
    by_key = {item.key: item for item in option_fields(cls)}
    return {dest(section, by_key[key]): value for key, value in values.items()}


def option_values(cls: type, by_name: Mapping[str, Any]) -> dict[str, Any]:
    """`section.path` values from options given by field name (`{"flip": True}` for
    `TrainConfig.augment.flip`), None values left out; `ConfigError` for an unknown name."""
    section = section_of(cls) or ""
    fields_by_name = {item.name: item for item in option_fields(cls)}
    unknown = sorted(set(by_name) - set(fields_by_name))
    if unknown:
        raise ConfigError(
            f"unknown {section} option(s) {', '.join(unknown)}; known: {', '.join(sorted(fields_by_name))}"
        )
    return {
        dest(section, fields_by_name[name]): value for name, value in by_name.items() if value is not None
    }


def values_of(config: Any) -> dict[str, Any]:
    """`section.path` -> value of every option of `config`'s own section (as `build` takes them)."""
    section = section_of(type(config)) or ""
    return {dest(section, item): _get(config, item.path) for item in option_fields(type(config))}


def build(cls: type, values: Mapping[str, Any], base: Any | None = None) -> Any:
    """An instance of `cls` from `section.path` values (file values overridden by flags by the
    caller), starting from `base` (default: `cls()`); nested configs built the same way."""
    section = section_of(cls) or ""
    instance = base if base is not None else cls()
    return _build_into(instance, section, (), values)


def _build_into(instance: Any, section: str, prefix: tuple[str, ...], values: Mapping[str, Any]) -> Any:
    changes: dict[str, Any] = {}
    hints = _type_hints(type(instance))
    for item in dataclasses.fields(instance):
        nested = _nested_class(hints[item.name])
        current = getattr(instance, item.name)
        if nested is not None:
            nested_section = section_of(nested)
            if nested_section is not None:
                new = _build_into(current, nested_section, (), values)
            else:
                new = _build_into(current, section, (*prefix, item.name), values)
            if new is not current:
                changes[item.name] = new
            continue
        key = f"{section}.{'.'.join((*prefix, item.name))}"
        if key in values:
            changes[item.name] = values[key]
    return dataclasses.replace(instance, **changes) if changes else instance


# ------------------------------------------------------------------ printing


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _get(instance: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        instance = getattr(instance, name)
    return instance


def to_toml(configs: Mapping[str, Any]) -> str:
    """The configs (section -> instance; nested sections included) as a config file. Options whose
    value is None are written as comments (TOML has no null)."""
    lines: list[str] = []
    seen: set[str] = set()

    def emit(section: str, instance: Any) -> None:
        if section in seen:
            return
        seen.add(section)
        lines.append(f"[{section}]")
        for item in option_fields(type(instance)):
            value = _get(instance, item.path)
            lines.append(f"# {item.spec.help}")
            lines.append(
                f"# {item.key} =  (not set)" if value is None else f"{item.key} = {_toml_value(value)}"
            )
        lines.append("")
        for name, _cls in nested_sections(type(instance)).items():
            nested = getattr(instance, name)
            emit(section_of(type(nested)) or name, nested)

    for section, instance in configs.items():
        emit(section, instance)
    return "\n".join(lines)


def markdown_table(classes: Mapping[str, type], commands: Mapping[str, list[str]]) -> str:
    """A Markdown table of every option of `classes` (section -> class, nested sections included):
    where it is declared, its flag, its config-file key, type, default and range, and the commands
    (`commands[section]`) that take it."""
    rows = [
        "| option | declared in | flag | config key | type | default | range | commands |",
        "|---|---|---|---|---|---|---|---|",
    ]
    seen: set[str] = set()
    for cls in classes.values():
        for section, config_class in all_sections(cls).items():
            if section in seen:
                continue
            seen.add(section)
            for item in option_fields(config_class):
                owner = config_class
                for name in item.path[:-1]:
                    owner = _nested_class(_type_hints(owner)[name]) or owner
                declared = f"`{owner.__module__.removeprefix('facetransfer.')}.{owner.__name__}.{item.name}`"
                kind = _describe_type(item.kind).removesuffix(" (or nothing)")
                default = "not set" if item.default is None else repr(item.default)
                low, high = _number(item.spec.minimum), _number(item.spec.maximum)
                bounds = (
                    f"{low}..{high}" + (f" {item.spec.unit}" if item.spec.unit else "") if low or high else ""
                )
                flag = f"`--{item.key}`" if item.spec.cli else "(file only)"
                rows.append(
                    f"| {item.spec.help} | {declared} | {flag} | `[{section}] {item.key}` | {kind} | "
                    f"`{default}` | {bounds} | {', '.join(commands.get(section, []))} |"
                )
    return "\n".join(rows) + "\n"
