"""A swap started from the command line is taken over with its inputs and options."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from facetransfer.commands.configs import known_sections
from facetransfer.commands.swap import STAGES
from facetransfer.errors import FacetransferError
from facetransfer.extract.config import ExtractConfig
from facetransfer.options import read_config_file
from facetransfer.presets import get_preset, with_options
from facetransfer.swap.config import SwapConfig
from facetransfer.ui.adopt import adopt
from facetransfer.ui.jobs import read_spec


def _faceset(folder: Path, sources: list[str]) -> None:
    folder.mkdir(parents=True)
    (folder / "faceset.json").write_text(json.dumps({"sources": [{"path": path} for path in sources]}))


def test_a_finished_command_line_swap_is_taken_over(tmp_path: Path) -> None:
    media, workdir = tmp_path / "media", tmp_path / "jobs" / "result.work"
    media.mkdir()
    (media / "a.mpg").write_bytes(b"a")
    (media / "b.mpg").write_bytes(b"b")
    _faceset(workdir / "source", ["../../../media/a.mpg"])
    _faceset(workdir / "target", [str(media / "b.mpg")])
    tiny = get_preset("tiny")
    config = SwapConfig(
        preset="tiny",
        compare=True,
        extract=ExtractConfig(crop_size=96),
        model=tiny.model,
        train=with_options(tiny.train, iterations=30),
    )
    report = {
        "output": "jobs/result.mp4",
        "workdir": str(workdir),
        "stages": [],
        "preset": "tiny",
        "options": asdict(config),
    }
    (workdir / "report.json").write_text(json.dumps(report))

    spec = adopt(workdir)
    assert spec.sources == [str(media / "a.mpg")] and spec.target == str(media / "b.mpg")
    assert spec.output == str(tmp_path / "jobs" / "result.mp4") and spec.name == "result"
    assert read_spec(workdir) == spec
    file = read_config_file(workdir / "ui" / "swap.toml", known_sections(STAGES))
    assert file.sections == {
        "swap": {"preset": "tiny", "compare": True},
        "extract": {"crop-size": 96},
        "train": {"iterations": 30},
    }


def test_inputs_that_moved_are_one_line(tmp_path: Path) -> None:
    workdir = tmp_path / "gone.work"
    _faceset(workdir / "source", ["../../moved.mpg"])
    _faceset(workdir / "target", ["../../moved.mpg"])
    with pytest.raises(FacetransferError, match=r"moved\.mpg is not there") as caught:
        adopt(workdir)
    assert "\n" not in str(caught.value)
    assert not (workdir / "ui").exists()
