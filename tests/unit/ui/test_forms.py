"""The swap form is generated from the `swap` command's option declarations."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from facetransfer.cli import build_parser
from facetransfer.errors import ConfigError
from facetransfer.options import read_config_file
from facetransfer.ui import forms


def _swap_flags() -> set[str]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    swap = subparsers.choices["swap"]
    return {  # the flags generated from option declarations (they carry `all_targets`)
        option.removeprefix("--")
        for action in swap._actions
        if hasattr(action, "all_targets")
        for option in action.option_strings
        if option.startswith("--") and not option.startswith("--no-")
    }


def test_every_swap_option_is_in_the_form() -> None:
    in_form = {field["flag"] for field in forms.schema()["fields"]}
    assert _swap_flags() - {"workdir"} == in_form  # the app sets the work folder itself


def test_main_options_come_first_and_model_defaults_follow_the_preset() -> None:
    fields = forms.schema()["fields"]
    main = [field["flag"] for field in fields if field["main"]]
    assert main[:2] == ["preset", "minutes"] or main[0] == "preset"
    assert all(field["main"] for field in fields[: len(main)])
    resolution = next(field for field in fields if field["flag"] == "resolution")
    assert resolution["preset_defaults"]["tiny"] == 64 and resolution["preset_defaults"]["gpu256"] == 256


def test_a_shared_flag_sets_every_section_like_the_command_line() -> None:
    values = forms.parse_values({"device": "cpu", "crf": 20, "flip": True, "minutes": 2, "label": ""})
    assert values == {
        "train.device": "cpu",
        "convert.device": "cpu",
        "convert.encode.crf": 20,
        "train.augment.flip": True,
        "train.minutes": 2.0,
    }


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            {"crop-size": 5, "minutes": 1},
            r"--crop-size \(\[extract\] crop-size\) must be between 32 and 2048",
        ),
        ({"color": "purple", "minutes": 1}, "expected one of"),
        ({"crf": "high", "minutes": 1}, "expected an integer"),
        ({"preset": "tiny"}, "training needs a budget"),
        ({"no-such-option": 1}, "not an option of swap"),
    ],
)
def test_bad_values_are_one_line(given: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        forms.check_values(forms.parse_values(given))
    assert "\n" not in str(caught.value)


def test_the_config_file_reads_back_as_the_same_options(tmp_path: Path) -> None:
    from facetransfer.commands.configs import known_sections
    from facetransfer.commands.swap import STAGES
    from facetransfer.options import file_values

    values = forms.parse_values(
        {
            "preset": "tiny",
            "iterations": 30,
            "compare": True,
            "color": "rct",
            "device": "cpu",
            "label": 'say "hi"',
            "reference": ["/a b/c.jpg"],
        }
    )
    path = tmp_path / "swap.toml"
    path.write_text(forms.config_toml(values))
    sections = known_sections(STAGES)
    config = read_config_file(path, sections)
    read_back = {}
    for section, cls in sections.items():
        read_back.update(file_values(config, section, cls))
    assert read_back == values
    assert forms.check_values(values) == "tiny"
