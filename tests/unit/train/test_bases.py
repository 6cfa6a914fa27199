"""Bases: `pretrain` on a pool, then new models that start from a base or from a pair model.

The pool here is made of two small facesets (no detection: fast); `test_pool.py` covers photos."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from facetransfer.cli import main
from facetransfer.extract.config import ExtractConfig
from facetransfer.modelfolder.bases import apply_base, export_base, read_base_file, shipped_base_path
from facetransfer.modelfolder.checkpoints import sha256_file
from facetransfer.models.registry import MODELS, build_model
from facetransfer.presets import PRESETS
from facetransfer.pretrain.run import pretrain, resolve_pretrain_config

FAST = ["--preset", "tiny", "--threads", "1", "--preview-every", "0", "--device", "cpu"]


def _weights(model_dir: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "checkpoints" / f"step_{step:08d}" / "model.safetensors"))


def _pretrained(tmp_path: Path, face_pair: tuple[Path, Path], architecture: str, steps: int) -> Path:
    base_dir = tmp_path / f"base_{architecture}"
    values = {"model.name": architecture, "train.iterations": steps, "train.threads": 1}
    values.update({"train.preview_every": 0, "train.device": "cpu"})
    config = resolve_pretrain_config(base_dir, "tiny", values)
    pretrain(list(face_pair), base_dir, config, extract=ExtractConfig(crop_size=64, coverage="face"))
    return base_dir


def test_pretrain_pools_both_sides_and_resumes(
    face_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base_dir = _pretrained(tmp_path, face_pair, "df", 2)
    saved = json.loads((base_dir / "config.json").read_text())
    assert saved["data"]["kind"] == "base" and saved["data"]["faces"] == 16
    assert saved["train"]["augment"]["flip"] and not saved["train"]["augment"]["random_warp"]
    assert saved["train"]["balance_yaw"] and saved["train"]["base"] == "none"
    # a rerun without inputs resumes on the pool kept in the folder
    assert main(["pretrain", "-o", str(base_dir), "--iterations", "4", "--threads", "1"]) == 0
    assert "base at step 4" in capsys.readouterr().out
    assert main(["info", str(base_dir), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "base" and info["step"] == 4 and info["pool"]["faces"] == 16
    assert len(info["pool"]["sources"]) == 2


@pytest.mark.parametrize(
    ("architecture", "reinitialised"), [("df", ()), ("liae", ()), ("liae", ("inter_both",))]
)
def test_a_new_model_copies_the_kept_parts_of_a_base(
    face_pair: tuple[Path, Path],
    tmp_path: Path,
    architecture: str,
    reinitialised: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(MODELS[architecture], "BASE_REINITIALISED", reinitialised)
    base_dir = _pretrained(tmp_path, face_pair, architecture, 2)
    base_weights = _weights(base_dir, 2)
    source, target = (str(path) for path in face_pair)
    model_dir = tmp_path / "model"
    arguments = ["train", source, target, "-o", str(model_dir), *FAST, "--iterations", "0"]
    assert main([*arguments, "--base", str(base_dir)]) == 0
    start = _weights(model_dir, 0)
    record = json.loads((model_dir / "config.json").read_text())["data"]["base"]
    expected_reinitialised = list(reinitialised)
    assert record["kind"] == "base" and record["step"] == 2
    assert record["reinitialised"] == expected_reinitialised
    assert record["sha256"] == sha256_file(base_dir / "checkpoints" / "step_00000002" / "model.safetensors")
    torch.manual_seed(0)
    fresh = build_model(replace(PRESETS["tiny"].model, name=architecture))
    fresh_weights = fresh.state_dict()
    for key, value in start.items():
        part = key.split(".")[0]
        if part in expected_reinitialised:
            assert not torch.equal(value, base_weights[key]) or value.abs().sum() == 0
            assert torch.equal(value, fresh_weights[key]), key  # the seed's own initial weights
        else:
            assert torch.equal(value, base_weights[key]), key


def test_base_none_is_training_from_scratch(face_pair: tuple[Path, Path], tmp_path: Path) -> None:
    source, target = (str(path) for path in face_pair)
    model_dir = tmp_path / "scratch"
    assert (
        main(["train", source, target, "-o", str(model_dir), *FAST, "--iterations", "0", "--base", "none"])
        == 0
    )
    torch.manual_seed(0)
    fresh = build_model(PRESETS["tiny"].model).state_dict()
    start = _weights(model_dir, 0)
    assert all(torch.equal(start[key], fresh[key]) for key in fresh)
    assert "base" not in json.loads((model_dir / "config.json").read_text())["data"]


def test_reusing_a_pair_model_keeps_its_source_decoder(
    face_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = (str(path) for path in face_pair)
    first = tmp_path / "first"
    assert (
        main(["train", source, target, "-o", str(first), *FAST, "--iterations", "3", "--base", "none"]) == 0
    )
    second = tmp_path / "second"
    assert (
        main(["train", source, target, "-o", str(second), *FAST, "--iterations", "0", "--base", str(first)])
        == 0
    )
    before, after = _weights(first, 3), _weights(second, 0)
    assert all(torch.equal(after[key], before[key]) for key in before if key.startswith("decoder_source."))
    assert json.loads((second / "config.json").read_text())["data"]["base"]["kind"] == "pair"
    capsys.readouterr()
    assert main(["info", str(second), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["base"]["name"] == "first"


def test_a_base_file_round_trips_in_fp16(face_pair: tuple[Path, Path], tmp_path: Path) -> None:
    base_dir = _pretrained(tmp_path, face_pair, "df", 1)
    path = export_base(base_dir, tmp_path / "tiny.safetensors")
    described = read_base_file(path)
    assert described.kind == "base" and described.step == 1 and described.faces == 16
    assert described.model == PRESETS["tiny"].model and described.coverage == "face"
    source, target = (str(p) for p in face_pair)
    model_dir = tmp_path / "from_file"
    assert (
        main(["train", source, target, "-o", str(model_dir), *FAST, "--iterations", "0", "--base", str(path)])
        == 0
    )
    halves = load_file(str(path))
    start = _weights(model_dir, 0)
    assert all(torch.equal(start[key], halves[key].float()) for key in halves)


def test_bad_bases_are_one_line_errors(
    face_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = (str(path) for path in face_pair)
    base_dir = _pretrained(tmp_path, face_pair, "df", 1)
    good = export_base(base_dir, tmp_path / "good.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    not_a_base = tmp_path / "photo.safetensors"
    not_a_base.write_bytes(b"\x00" * 64)
    cases = [
        (["--base", str(truncated)], "truncated.safetensors"),
        (["--base", str(not_a_base)], "photo.safetensors"),
        (["--base", str(tmp_path / "missing")], "no such base"),
        (["--base", str(good), "--architecture", "liae"], "architecture comes from the base"),
        (["--base", str(good), "--resolution", "128"], "architecture comes from the base"),
    ]
    for extra, expected in cases:
        model_dir = tmp_path / "refused"
        assert main(["train", source, target, "-o", str(model_dir), *FAST, "--iterations", "1", *extra]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert lines[-1].startswith("facetransfer train: error: ") and expected in lines[-1], lines
        assert "Traceback" not in "\n".join(lines)
        assert not model_dir.exists()


@pytest.mark.parametrize("preset", ["tiny", "cpu"])
def test_the_shipped_bases_load_offline(preset: str) -> None:
    path = shipped_base_path(preset)
    assert path is not None, f"no base shipped for {preset}"
    described = read_base_file(path, shipped=True)
    assert described.model == PRESETS[preset].model and described.coverage == "full"
    model = build_model(described.model)
    record = apply_base(model, described)
    assert record["path"] == "(shipped)" and set(record["kept"]) == set(model.parts())
    assert all(torch.isfinite(value).all() for value in model.state_dict().values())
