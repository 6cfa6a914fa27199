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


@pytest.fixture(scope="session")
def odd_sized_target(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 25 frames of GRID `lbbc2a` cut to 359x287 (H.264 4:4:4, which allows odd sizes)."""
    import av
    import numpy as np

    from facetransfer.media import read_frames

    path = tmp_path_factory.mktemp("odd") / "lbbc2a_359x287.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "12", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 359, 287, "yuv444p"
        for frame in read_frames(shared_data / "video" / "grid" / "lbbc2a.mpg", end_s=1.0):
            image = np.ascontiguousarray(frame.image[:287, :359])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path
