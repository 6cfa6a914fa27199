"""`facetransfer live` on a video standing in for a camera: played in real time for a few seconds,
the written frames have the face changed, the background as it was, the label drawn and the
watermark in; with --benchmark every frame comes out, none dropped."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from facetransfer.cli import main
from facetransfer.faces.detectors import create_detector
from facetransfer.provenance import verify_file
from model_folders import make_model_folder

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # an untrained model renders a blur: unmistakably changed where the face was
    return make_model_folder(tmp_path_factory.mktemp("live") / "model", "df", seed=4)


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_live_on_a_video_as_camera_swaps_and_marks(
    model: Path, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = shared_data / "video/grid/lbbc2a.mpg"
    output = tmp_path / "live.mp4"
    status = main(
        [
            "live",
            "-m",
            str(model),
            "--input",
            str(target),
            "--output",
            str(output),
            "--seconds",
            "2.5",
            "--json",
        ]
    )
    assert status == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert "fps, latency p50" in captured.err  # the periodic line
    assert summary["frames_output"] >= 10
    assert summary["frames_captured"] == summary["frames_output"] + summary["frames_dropped"]
    assert summary["frames_with_face"] >= 0.8 * summary["frames_output"]
    assert summary["latency_ms_p50"] > 0 and summary["latency_ms_p95"] >= summary["latency_ms_p50"]

    written = _frames(output)
    inputs = _frames(target)
    assert len(written) == summary["frames_output"]
    height, width = inputs[0].shape[:2]
    assert written[0].shape == (height, width, 3)
    x0, y0, x1, y1 = (int(v) for v in create_detector("mediapipe").detect(inputs[0])[0].bbox)
    face = np.zeros((height, width), bool)
    face[y0:y1, x0:x1] = True
    away = np.ones((height, width), bool)  # far from the face, and not under the label
    away[max(0, y0 - 40) : y1 + 40, max(0, x0 - 40) : x1 + 40] = False
    away[int(0.8 * height) :, int(0.5 * width) :] = False
    label = np.zeros((height, width), bool)
    label[int(0.9 * height) : int(0.96 * height), int(0.75 * width) : int(0.95 * width)] = True
    for image in written[:: max(1, len(written) // 6)]:
        # the input frame this one was made from: the closest background
        source = min(inputs, key=lambda frame: float(np.abs(frame[away].astype(int) - image[away]).mean()))
        difference = np.abs(image.astype(int) - source.astype(int)).mean(axis=2)
        assert difference[away].mean() < 2.5  # the watermark and H.264: a level or two
        assert difference[face].mean() > 8.0  # the face is another
        assert difference[label].mean() > 20.0  # the visible label

    report = verify_file(output)
    assert report.watermark.found and report.watermark.share_found >= 0.9
    assert report.metadata.present and report.manifest.present


def test_live_benchmark_takes_every_frame(
    model: Path, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from facetransfer.export import export_model

    exported = export_model(model, tmp_path / "model.onnx").output
    output = tmp_path / "bench.mp4"
    status = main(
        [
            "-q",
            "live",
            "-m",
            exported,
            "--input",
            str(shared_data / "video/grid/bbaf2n.mpg"),
            "--output",
            str(output),
            "--benchmark",
            "--label",
            "none",
            "--no-provenance",
            "--json",
        ]
    )
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames_output"] == summary["frames_captured"] == 75
    assert summary["frames_dropped"] == 0
    assert summary["model"].startswith("df onnx")
    assert len(_frames(output)) == 75
    assert verify_file(output).watermark.found is False  # --no-provenance, and no label either
