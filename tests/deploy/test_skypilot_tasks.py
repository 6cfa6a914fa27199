"""The SkyPilot task files in deploy/ pass SkyPilot's own validation, offline: each loads with its
Python API into a task that trains on one spot GPU with a bucket mounted, and a task file with a
mistake in it is refused. Runs where SkyPilot is installed (`make deploy-check`: .venv-cloud)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

sky = pytest.importorskip(
    "sky", reason="SkyPilot is not installed here; `make deploy-check` runs this in .venv-cloud"
)
yaml = pytest.importorskip("yaml")

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
TASKS = sorted(DEPLOY.glob("*.yaml"))
ENV = [("BUCKET", "facetransfer-ci-bucket")]


def _load(path: Path) -> dict[str, Any]:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def test_both_task_files_are_there() -> None:
    assert [path.name for path in TASKS] == ["swap.yaml", "train.yaml"]


@pytest.mark.parametrize("path", TASKS, ids=lambda path: path.name)
def test_task_validates_as_a_spot_job_with_the_bucket_mounted(path: Path) -> None:
    task = sky.Task.from_yaml_config(_load(path), env_overrides=ENV)
    assert task.name == f"facetransfer-{path.stem}"
    assert task.resources, "no resources"
    for resources in task.resources:
        assert resources.use_spot
        assert sum(resources.accelerators.values()) == 1
        assert resources.job_recovery["strategy"] == "EAGER_NEXT_REGION"
    storage = task.storage_mounts["/bucket"]
    assert storage.name == "facetransfer-ci-bucket"
    assert storage.mode.value == "MOUNT_CACHED"
    assert "docker run" in task.run and "--gpus all" in task.run


@pytest.mark.parametrize("path", TASKS, ids=lambda path: path.name)
def test_a_broken_task_is_refused(path: Path) -> None:
    config = _load(path)
    config["resources"]["use_spot"] = "sometimes"  # not a boolean
    with pytest.raises(ValueError):
        sky.Task.from_yaml_config(config, env_overrides=ENV)
    config = _load(path)
    config["resources"]["accelerator"] = config["resources"].pop("accelerators")  # a misspelt key
    with pytest.raises(ValueError):
        sky.Task.from_yaml_config(config, env_overrides=ENV)
    with pytest.raises(ValueError, match="BUCKET"):  # the bucket must be named
        sky.Task.from_yaml_config(_load(path))
