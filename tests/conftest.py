"""Shared fixtures for the whole test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FACETRANSFER_TEST_DATA") or REPO_ROOT.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real test media folder (`../shared/data`, or $FACETRANSFER_TEST_DATA); skips when absent."""
    if not (SHARED_DATA / "video").is_dir():
        pytest.skip(f"test media not found at {SHARED_DATA}; set FACETRANSFER_TEST_DATA")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _isolated_config_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep signing keys and caches the tests create out of the real home (subprocesses inherit it)."""
    home = tmp_path_factory.mktemp("config-home")
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["FACETRANSFER_CACHE"] = str(home / "cache")
