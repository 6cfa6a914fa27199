"""The container image and the cloud recipe, as far as they can be checked without a container or a
cloud: the Dockerfile pins the torch the Makefile pins and installs the same requirement files, the
entry point describes the machine and then runs facetransfer, and the command each SkyPilot task
runs is one the command line accepts."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from facetransfer.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "registry.example/facetransfer:gpu"


def test_dockerfile_installs_what_the_makefile_installs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    pinned = re.search(r'"torch==([0-9.]+)"', makefile)
    assert pinned, "the Makefile no longer pins torch"
    assert re.search(rf"^ARG TORCH_VERSION={re.escape(pinned.group(1))}$", dockerfile, re.MULTILINE)
    assert re.search(r"pip install -r \S*requirements\.txt", dockerfile)
    assert re.search(r"pip install --no-deps -r \S*requirements-nodeps\.txt", dockerfile)
    assert "requirements-dev.txt" not in dockerfile
    assert re.search(r"^USER 1000:1000$", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["/usr/local/bin/facetransfer-entrypoint"]' in dockerfile


def _entrypoint(*arguments: str, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    environment["FACETRANSFER_QUIET_START"] = "1" if quiet else "0"
    return subprocess.run(
        [str(ROOT / "deploy" / "entrypoint.sh"), *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def test_entrypoint_describes_the_machine_then_runs_facetransfer() -> None:
    result = _entrypoint("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("facetransfer ")
    assert re.search(r"kind: machine", result.stderr) and re.search(r"cpu_cores: \d+", result.stderr)
    passthrough = _entrypoint("sh", "-c", "echo ran $0", "as-is", quiet=True)
    assert (passthrough.returncode, passthrough.stdout, passthrough.stderr) == (0, "ran as-is\n", "")
    failing = _entrypoint("convert", quiet=True)  # facetransfer's own status comes back
    assert failing.returncode == 2 and "facetransfer convert: error:" in failing.stderr


def _run_block(path: Path) -> str:
    """The `run: |` block of a task file (the last key, by this project's convention)."""
    text = path.read_text(encoding="utf-8")
    return textwrap.dedent(text.split("\nrun: |\n", 1)[1])


def _facetransfer_arguments(path: Path, environment: dict[str, str]) -> list[str]:
    """What the task's `docker run` would hand the image's entry point, with `docker` stubbed."""
    stub = "docker() { printf '%s\\n' \"$@\"; }\nid() { echo 1000; }\n"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", stub + _run_block(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "IMAGE": IMAGE, **environment},
        timeout=30,
        check=True,
    )
    words = result.stdout.splitlines()
    return words[words.index(IMAGE) + 1 :]


@pytest.mark.parametrize(
    ("name", "environment", "command"),
    [
        ("train", {"PAIR": "p", "PRESET": "gpu128", "TOTAL_MINUTES": "240", "SAVE_EVERY_MIN": "10"}, "train"),
        (
            "swap",
            {
                "JOB": "j",
                "SOURCE": "a.mp4",
                "TARGETS": "s1.mp4 s2.mp4",
                "PRESET": "gpu128",
                "TOTAL_MINUTES": "9",
            },
            "swap",
        ),
    ],
)
def test_task_runs_a_command_the_cli_accepts(name: str, environment: dict[str, str], command: str) -> None:
    arguments = _facetransfer_arguments(ROOT / "deploy" / f"{name}.yaml", environment)
    parsed = build_parser().parse_args(arguments)  # exits on an unknown option
    assert parsed.command == command
    assert all(word.startswith(("/work", "-")) or not word.startswith("/") for word in arguments), shlex.join(
        arguments
    )
    if name == "swap":
        assert parsed.targets == ["/work/s1.mp4", "/work/s2.mp4"] and parsed.output == "/work/results"
    else:
        assert (parsed.source, parsed.target, parsed.output) == (
            "/work/source",
            "/work/target",
            "/work/model",
        )
