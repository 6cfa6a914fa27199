"""The swap form, generated from the option declarations of the `swap` command (`STAGES` and
`NOT_FLAGS` of `facetransfer.commands.swap`), so an option added there appears here. A field is a
flag: where the command line fans one flag out to several sections (`--device` for training and
conversion), so does the form. The values the user set become the `--config` file of the run."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from facetransfer.commands.swap import NOT_FLAGS, STAGES
from facetransfer.errors import ConfigError
from facetransfer.options import OptionField, all_sections, build, coerce, dest, option_fields
from facetransfer.presets import PRESETS, ModelConfig, TrainConfig, get_preset
from facetransfer.swap.config import SwapConfig

SET_BY_THE_APP = {"swap": ("workdir",)}
"""Options the app chooses itself: each swap's work folder is `NAME.work` in the app's folder."""
MAIN_OPTIONS = (
    "preset",
    "base",
    "minutes",
    "iterations",
    "total-minutes",
    "compare",
    "color",
    "mask",
    "blend",
    "smooth",
    "crf",
    "label",
)
"""The flags shown at the top of the form, in this order; every other option is under "All options"."""
BUDGET_FLAGS = ("iterations", "minutes", "total-minutes")
PRESET_SECTIONS = {"model": ModelConfig, "train": TrainConfig}


@dataclass(frozen=True)
class Target:
    section: str
    item: OptionField

    @property
    def dest(self) -> str:
        return dest(self.section, self.item)


@dataclass(frozen=True)
class FormField:
    """One input of the form: a flag and the options it sets."""

    flag: str
    targets: tuple[Target, ...]

    @property
    def first(self) -> OptionField:
        return self.targets[0].item

    def to_json(self) -> dict[str, Any]:
        item, section = self.first, self.targets[0].section
        kind = item.kind
        payload: dict[str, Any] = {
            "flag": self.flag,
            "section": section,
            "sections": [target.section for target in self.targets],
            "help": item.spec.help,
            "type": kind.base.__name__,
            "choices": list(kind.choices) if kind.choices else None,
            "optional": kind.optional,
            "default": _json_value(item.default),
            "unit": item.spec.unit,
            "minimum": item.spec.minimum,
            "maximum": item.spec.maximum,
            "main": self.flag in MAIN_OPTIONS,
        }
        if section in PRESET_SECTIONS:  # the preset decides the default of model and train options
            payload["preset_defaults"] = {
                name: _json_value(_get(getattr(preset, section), item.path))
                for name, preset in PRESETS.items()
            }
        return payload


def _get(instance: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        instance = getattr(instance, name)
    return instance


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return list(value) if isinstance(value, tuple) else value


@cache
def form_fields() -> tuple[FormField, ...]:
    """Every option `facetransfer swap` takes as a flag, and `reference` lists, in the command's order."""
    by_flag: dict[str, list[Target]] = {}
    for cls in STAGES.values():
        for section, config_class in all_sections(cls).items():
            left_out = (*NOT_FLAGS.get(section, ()), *SET_BY_THE_APP.get(section, ()))
            for item in option_fields(config_class):
                if not item.spec.cli or item.name in left_out:
                    continue
                by_flag.setdefault(item.key, []).append(Target(section, item))
    return tuple(FormField(flag, tuple(targets)) for flag, targets in by_flag.items())


def schema() -> dict[str, Any]:
    """What the page needs to draw the form: the fields, the main ones first, and the presets."""
    fields = [field.to_json() for field in form_fields()]
    order = {flag: index for index, flag in enumerate(MAIN_OPTIONS)}
    fields.sort(key=lambda field: (not field["main"], order.get(field["flag"], 0)))
    return {
        "fields": fields,
        "presets": [{"name": preset.name, "description": preset.description} for preset in PRESETS.values()],
        "budget_flags": list(BUDGET_FLAGS),
    }


def parse_values(given: Mapping[str, Any]) -> dict[str, Any]:
    """Flag -> value from the page to `section.path` -> value (as `facetransfer.options.build` takes
    them), each checked against its declaration; empty values are left out. `ConfigError` names the
    option and what it expected."""
    fields = {field.flag: field for field in form_fields()}
    values: dict[str, Any] = {}
    for flag, value in given.items():
        field = fields.get(flag)
        if field is None:
            raise ConfigError(f"--{flag}: not an option of swap; reload the page")
        if value is None or value == "" or value == []:
            continue
        for target in field.targets:
            try:
                values[target.dest] = coerce(target.item.kind, value)
            except ValueError as error:
                raise ConfigError(f"--{flag} ([{target.section}] {flag}): {error}") from None
    return values


CHECKED_WITH_PRESET = "cpu"
"""Without a preset the worker picks one by the device it finds (gpu128 or cpu); the ranges and the
budget are checked the same with either, so the app need not load PyTorch to look for CUDA."""


def check_values(values: Mapping[str, Any]) -> str | None:
    """Build the configs the `swap` command would build from `values` (ranges and choices checked);
    the preset's name (None: the worker's default). `ConfigError` names the first bad option, or a
    missing budget."""
    config = build(SwapConfig, values)
    preset = get_preset(config.preset or CHECKED_WITH_PRESET)
    build(ModelConfig, values, preset.model)
    train = build(TrainConfig, values, preset.train)
    if train.iterations is None and train.minutes is None and train.total_minutes is None:
        raise ConfigError("training needs a budget: set minutes, iterations or total minutes")
    return config.preset


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def config_toml(values: Mapping[str, Any]) -> str:
    """The options the user set as a `--config` file: one table per section, keys as the long flags."""
    lines = ["# the options set in the facetransfer ui form (facetransfer swap ... --config FILE)"]
    targets = {target.dest: target for field in form_fields() for target in field.targets}
    sections: dict[str, list[str]] = {}
    for key, value in values.items():
        target = targets[key]
        sections.setdefault(target.section, []).append(f"{target.item.key} = {_toml_value(value)}")
    for section, entries in sections.items():
        lines += ["", f"[{section}]", *entries]
    return "\n".join(lines) + "\n"
