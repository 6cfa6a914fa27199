"""`facetransfer train` on the command line: options, config files, resume, errors, `info`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from facetransfer.cli import main

FAST = ["--preset", "tiny", "--threads", "1", "--preview-every", "0", "--device", "cpu"]


def test_train_then_resume_then_refuse_a_contradicting_flag(
    face_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = (str(path) for path in face_pair)
    model_dir = tmp_path / "model"
    config_file = tmp_path / "options.toml"
    config_file.write_text('[train]\nbatch-size = 2\ncolor-transfer = "rct"\nflip = true\n')
    assert (
        main(
            [
                "train",
                source,
                target,
                "-o",
                str(model_dir),
                *FAST,
                "--iterations",
                "2",
                "--config",
                str(config_file),
            ]
        )
        == 0
    )
    assert "step 2 (stopped by iterations" in capsys.readouterr().out
    saved = json.loads((model_dir / "config.json").read_text())
    assert saved["train"]["batch_size"] == 2 and saved["train"]["augment"]["color_transfer"] == "rct"
    assert saved["model"]["name"] == "df" and saved["data"]["coverage"] == "face"

    assert main(["train", source, target, "-o", str(model_dir), "--threads", "1", "--iterations", "3"]) == 0
    assert "step 3" in capsys.readouterr().out

    assert (
        main(["train", source, target, "-o", str(model_dir), "--resolution", "128", "--iterations", "4"]) == 2
    )
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("facetransfer train: error: ") and "resolution to 128" in error

    assert main(["info", str(model_dir), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (
        info["kind"] == "model" and info["step"] == 3 and info["model"] == "df" and info["resolution"] == 64
    )


def test_bad_options_are_one_line_errors(
    face_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = (str(path) for path in face_pair)
    assert main(["train", source, target, "-o", str(tmp_path / "a"), *FAST, "--resolution", "72"]) == 2
    assert "multiple of 16" in capsys.readouterr().err
    assert main(["train", source, target, "-o", str(tmp_path / "b"), *FAST, "--batch-size", "0"]) == 2
    assert "--batch-size ([train] batch-size) must be between 1 and 4096, not 0" in capsys.readouterr().err
    assert main(["train", source, str(tmp_path / "missing"), "-o", str(tmp_path / "c"), *FAST]) == 2
    assert "not a faceset" in capsys.readouterr().err
    assert main(["train", source, target, "-o", str(tmp_path / "d"), *FAST, "--architecture", "dfl"]) == 2
    err = capsys.readouterr().err
    assert (
        "--architecture 'dfl': no such model; choose one of: df, liae" in err
        and len(err.strip().splitlines()) == 1
    )
    assert not (tmp_path / "d").exists()


def test_the_command_line_starts_without_pytorch() -> None:
    # Building the parser (every command's options, presets included) must not import torch: the
    # commands that do not train or convert start in a fraction of a second.
    code = "import sys; from facetransfer.cli import build_parser as b; b(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
