"""Provenance end to end on a GRID clip, along the path a conversion takes: frames marked with
`Watermarker`, written by `VideoWriter` with `container_metadata` and the target's audio, then signed
in place with `sign_file`; then `facetransfer verify` on it, on re-encoded and half-size copies, and
on every original file in ../shared/data.

(`convert` does not call the provenance stage yet; when it does, this file should also convert with
a tiny model, as tests/e2e/test_convert.py does, and check its output the same way.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from facetransfer.cli import main
from facetransfer.media import probe, read_frames
from facetransfer.provenance import make_payload, sign_file, verify_file
from provenance_helpers import psnr_db, reencode_file, write_marked_video
from shared_media import unmarked_media

pytestmark = pytest.mark.e2e

PAYLOAD = make_payload(0xE2E000)
TARGET = "video/grid/lbbc2a.mpg"


@pytest.fixture(autouse=True)
def private_config_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("xdg_config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def output(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("provenance_e2e")
    path = folder / "swapped.mp4"
    marked = write_marked_video(shared_data / TARGET, path, PAYLOAD)
    originals = [frame.image for frame in read_frames(shared_data / TARGET)]
    return {"path": path, "folder": folder, "marked": marked, "originals": originals}


def _verify_json(path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, dict]:
    status = main(["verify", str(path), "--json", *flags])
    return status, json.loads(capsys.readouterr().out)


def test_output_carries_all_three_marks(
    output: dict, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path: Path = output["path"]
    summary = sign_file(path, shared_data / TARGET, payload=PAYLOAD)
    assert summary["self_signed"] and summary["signed"]
    info, source = probe(path), probe(shared_data / TARGET)
    assert (info.frame_count, info.width, info.height, info.has_audio) == (75, 360, 288, True)
    assert info.fps == pytest.approx(source.fps)
    status, report = _verify_json(path, capsys, "--frames", "75")
    assert status == 0
    manifest, watermark, metadata = report["manifest"], report["watermark"], report["metadata"]
    assert manifest["present"] and manifest["valid"] and manifest["self_signed"]
    assert "compositeWithTrainedAlgorithmicMedia" in manifest["digital_source_type"]
    assert manifest["watermark_payload"] == watermark["payload"] == f"{PAYLOAD:08x}"
    assert watermark["frames_sampled"] == 75 and watermark["share_found"] >= 0.95
    assert metadata["present"] and "facetransfer" in metadata["text"]


def test_invisible_psnr_at_least_40_db(output: dict) -> None:
    values = [
        psnr_db(original, marked)
        for original, marked in zip(output["originals"], output["marked"], strict=True)
    ]
    assert min(values) >= 40.0
    # The flat blue backdrop gets about one luma level: look at the top-right corner.
    original, marked = output["originals"][0], output["marked"][0]
    backdrop = marked[10:90, 250:350].astype(np.float64) - original[10:90, 250:350]
    assert float(np.sqrt(np.mean(backdrop**2))) < 1.3


def test_reencoded_at_crf28_keeps_the_watermark(output: dict, capsys: pytest.CaptureFixture[str]) -> None:
    copy = output["folder"] / "reencoded_crf28.mp4"
    reencode_file(output["path"], copy, crf=28)
    status, report = _verify_json(copy, capsys, "--frames", "75")
    assert status == 0
    assert not report["manifest"]["present"]  # a re-encode drops the manifest, as expected
    assert report["watermark"]["share_found"] >= 0.9
    assert report["watermark"]["frames_decoded"] >= 0.9 * 75  # each frame on its own, too
    assert report["watermark"]["payload"] == f"{PAYLOAD:08x}"


def test_half_size_keeps_the_watermark(output: dict, capsys: pytest.CaptureFixture[str]) -> None:
    copy = output["folder"] / "half.mp4"
    reencode_file(output["path"], copy, crf=23, scale=0.5)
    assert probe(copy).width == 180
    status, report = _verify_json(copy, capsys, "--frames", "75")
    assert status == 0
    assert report["watermark"]["share_found"] >= 0.8
    assert report["watermark"]["payload"] == f"{PAYLOAD:08x}"


def test_every_original_file_verifies_unmarked(shared_data: Path) -> None:
    files = unmarked_media(shared_data)
    assert len(files) > 40
    marked = []
    for path in files:
        report = verify_file(path, max_frames=20)
        if report.marked:
            marked.append(str(path))
    assert marked == []
