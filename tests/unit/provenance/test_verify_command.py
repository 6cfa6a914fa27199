"""`facetransfer verify`: exit status 0 for a marked file, 1 for an unmarked one, 2 for bad input;
the JSON report."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from facetransfer.cli import main
from facetransfer.provenance import Watermarker, make_payload, sign_file, tag_image_file, verify_file
from provenance_helpers import reencode_file, write_marked_video

PAYLOAD = make_payload(0x7E5700)
GRID = "video/grid/bbaf2n.mpg"


@pytest.fixture(scope="module")
def marked_mp4(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("verify") / "marked.mp4"
    write_marked_video(shared_data / GRID, output, PAYLOAD, frames=30)
    return output


def _json_report(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, dict]:
    status = main(["verify", str(path), "--json"])
    return status, json.loads(capsys.readouterr().out)


def test_marked_video_exits_0_with_all_marks(
    marked_mp4: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sign_file(marked_mp4, shared_data / GRID, payload=PAYLOAD)
    status, report = _json_report(capsys, marked_mp4)
    assert status == 0 and report["marked"] is True
    assert report["manifest"]["present"] and report["manifest"]["valid"] and report["manifest"]["self_signed"]
    assert report["watermark"]["found"] and report["watermark"]["payload"] == f"{PAYLOAD:08x}"
    assert report["watermark"]["share_found"] >= 0.9 and report["watermark"]["frames_sampled"] == 30
    assert report["metadata"]["present"]
    assert set(report) == {"path", "kind", "manifest", "watermark", "metadata", "marked"}
    # The text report names each mark.
    assert main(["verify", str(marked_mp4)]) == 0
    text = capsys.readouterr().out
    assert "C2PA manifest: present, valid" in text and "self-signed" in text
    assert f"payload {PAYLOAD:08x}" in text and "metadata tag: present" in text


def test_watermark_alone_is_enough(
    marked_mp4: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "reencoded.mp4"
    reencode_file(marked_mp4, copy, crf=28)  # drops the manifest and the tags
    status, report = _json_report(capsys, copy)
    assert status == 0
    assert not report["manifest"]["present"] and not report["metadata"]["present"]
    assert report["watermark"]["found"] and report["watermark"]["share_found"] >= 0.9


def test_unmarked_video_exits_1(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, report = _json_report(capsys, shared_data / GRID)
    assert status == 1 and report["marked"] is False
    assert not report["watermark"]["found"] and report["watermark"]["frames_sampled"] > 30
    assert report["watermark"]["payload"] is None


def test_images(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A portrait on a plain background; on heavily textured photos the default-strength mark is
    # often too weak to read from a single image (see docs/PROVENANCE.md).
    source = shared_data / "image/faces/biden.jpg"
    assert main(["verify", str(source)]) == 1
    capsys.readouterr()
    image = cv2.cvtColor(cv2.imread(str(source)), cv2.COLOR_BGR2RGB)
    marked = Watermarker(image.shape[1], image.shape[0], PAYLOAD).embed(image)
    output = tmp_path / "marked.png"
    cv2.imwrite(str(output), cv2.cvtColor(marked, cv2.COLOR_RGB2BGR))
    tag_image_file(output, PAYLOAD)
    sign_file(output, source, payload=PAYLOAD)
    report = verify_file(output)
    assert report.kind == "image" and report.marked
    assert report.manifest.valid and report.metadata.present
    assert report.watermark.found and report.watermark.payload == f"{PAYLOAD:08x}"
    # JPEG at quality 90 keeps the watermark.
    jpeg = tmp_path / "marked.jpg"
    cv2.imwrite(str(jpeg), cv2.cvtColor(marked, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert verify_file(jpeg).watermark.found


def test_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path / "missing.mp4")]) == 2
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert main(["verify", str(empty)]) == 2
    assert main(["verify", str(tmp_path)]) == 2  # a folder
    assert "error" in capsys.readouterr().err


def test_random_noise_video_is_unmarked(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.png"
    cv2.imwrite(str(path), rng.integers(0, 256, size=(200, 300, 3), dtype=np.uint8))
    assert not verify_file(path).marked
