"""The container drill (tools/container_drill.sh): the image built from a Debian base made here,
without a registry, runs a `tiny` swap of two GRID clips with /work mounted, and the result carries
its provenance marks. Needs root, debootstrap, buildah and podman, and minutes of network for pip."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from facetransfer.media import probe

ROOT = Path(__file__).resolve().parents[2]
DRILL = Path(os.environ.get("FACETRANSFER_CONTAINER_DRILL", "/tmp/facetransfer-container-drill"))

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_image_builds_and_swaps_with_work_mounted(shared_data: Path) -> None:
    missing = [tool for tool in ("debootstrap", "buildah", "podman") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install debootstrap buildah podman)")
    if os.geteuid() != 0:
        pytest.skip("debootstrap and buildah need root here")
    completed = subprocess.run(
        [str(ROOT / "tools" / "container_drill.sh"), str(DRILL)],
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, "FACETRANSFER_TEST_DATA": str(shared_data)},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "container drill: passed" in completed.stderr
    result = DRILL / "work" / "out" / "result.mp4"
    info, target = probe(result), probe(shared_data / "video" / "grid" / "lbbc2a.mpg")
    assert info.frame_count == target.frame_count and info.has_audio
    assert result.stat().st_uid == 1000  # written by the image's user, not root
    assert completed.stdout.count("result.mp4 (video): MARKED") == 2  # verify, inside and outside
