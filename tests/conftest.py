"""Shared fixtures for the whole test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public test media folder (`../shared/data` next to the repository); skips when absent."""
    if not (SHARED_DATA / "video").is_dir():
        pytest.skip(f"test media not found at {SHARED_DATA}; see the README's test data section")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _isolated_config_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep signing keys and caches the tests create out of the real home folder (subprocesses inherit it)."""
    home = tmp_path_factory.mktemp("config-home")
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["FACETRANSFER_CACHE"] = str(home / "cache")
