"""Fixtures for the provenance tests. Every test gets its own XDG_CONFIG_HOME, so the local signing
chain is never created in the real home folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facetransfer.media import read_frames

GRID_CLIP = "video/grid/bbaf2n.mpg"


@pytest.fixture(autouse=True)
def private_config_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("xdg_config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def grid_frames(shared_data: Path) -> list[np.ndarray]:
    """Every third frame of a GRID clip (25 RGB frames, 360x288)."""
    return [frame.image for frame in read_frames(shared_data / GRID_CLIP, every_n=3)]
