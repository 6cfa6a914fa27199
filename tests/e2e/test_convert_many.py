"""Many shots with one model: `convert` over three GRID shots writes three outputs, a rerun skips
all three, and a corrupt target in a list fails alone while the others are converted; `swap
--targets` trains one model on two targets' pooled faces and converts both."""

from __future__ import annotations

import json
import time
from pathlib import Path

import av
import numpy as np
import pytest

from facetransfer.cli import main
from facetransfer.extract import ExtractConfig, extract_faceset
from facetransfer.faceset import open_faceset
from facetransfer.media import probe, read_frames

pytestmark = pytest.mark.e2e

SHOT_S = 1.0
SHOT_FRAMES = 25


def _shot(source: Path, output: Path) -> Path:
    """The first second of a GRID clip as H.264 (a short shot keeps the test quick)."""
    with av.open(str(output), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "16", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 360, 288, "yuv420p"
        for frame in read_frames(source, end_s=SHOT_S):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame.image, format="rgb24")))
        container.mux(stream.encode())
    return output


@pytest.fixture(scope="module")
def shots(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three target shots (three GRID women), a source shot, and a `tiny` model trained a few steps."""
    from facetransfer.train.loop import resolve_config, train

    folder = tmp_path_factory.mktemp("shots")
    grid = shared_data / "video" / "grid"
    paths = {
        name: _shot(grid / f"{name}.mpg", folder / f"{name}.mp4") for name in ("lbbc2a", "brbk7n", "lrwp9a")
    }
    source = _shot(grid / "bbaf2n.mpg", tmp_path_factory.mktemp("source") / "bbaf2n.mp4")
    facesets = tmp_path_factory.mktemp("facesets")
    extract_faceset([source], facesets / "source", ExtractConfig(crop_size=64))
    extract_faceset([paths["lbbc2a"]], facesets / "target", ExtractConfig(crop_size=64))
    model = facesets.parent / "model"
    config = resolve_config(model, preset="tiny", train_options={"iterations": 4, "preview_every": 0})
    train(facesets / "source", facesets / "target", model, config)
    return {**paths, "folder": folder, "model": model}


def test_three_targets_then_a_rerun_skips_them(shots: dict[str, Path], tmp_path: Path, capsys) -> None:
    output = tmp_path / "results"
    targets = [str(shots[name]) for name in ("lbbc2a", "brbk7n", "lrwp9a")]
    assert main(["convert", *targets, "-m", str(shots["model"]), "-o", str(output), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["converted"], summary["skipped"], summary["failed"]) == (3, 0, 0)
    outputs = sorted(output.iterdir())
    assert [path.name for path in outputs] == ["brbk7n.mp4", "lbbc2a.mp4", "lrwp9a.mp4"]
    for path in outputs:
        assert probe(path).frame_count == SHOT_FRAMES
    for result in summary["results"]:  # the face of each shot was found and swapped
        assert result["summary"]["faces_swapped"] >= SHOT_FRAMES - 2
    modified = [path.stat().st_mtime_ns for path in outputs]

    started = time.perf_counter()
    # a folder of videos stands for its videos
    assert main(["convert", str(shots["folder"]), "-m", str(shots["model"]), "-o", str(output)]) == 0
    assert time.perf_counter() - started < 5.0
    captured = capsys.readouterr()
    assert "3 targets: 0 converted, 3 skipped" in captured.out
    assert [path.stat().st_mtime_ns for path in outputs] == modified


def test_a_corrupt_target_fails_alone(shots: dict[str, Path], tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(shots["lbbc2a"].read_bytes()[:3000])
    listing = tmp_path / "shots.txt"
    listing.write_text(f"# the shots of one scene\n{broken.name}\n\n{shots['brbk7n']}\n")
    output = tmp_path / "results"
    status = main(["convert", "--target-list", str(listing), "-m", str(shots["model"]), "-o", str(output)])
    captured = capsys.readouterr()
    assert status == 2
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert (
        len(errors) == 1
        and errors[0].startswith("facetransfer convert: error: ")
        and "broken.mp4" in errors[0]
    )
    assert "Traceback" not in captured.err
    assert "2 targets: 1 converted, 0 skipped (already there), 1 failed" in captured.out
    assert sorted(path.name for path in output.iterdir()) == ["brbk7n.mp4"]  # no half-written output
    assert probe(output / "brbk7n.mp4").frame_count == SHOT_FRAMES


def test_swap_targets_trains_one_model_on_both(
    shared_data: Path, shots: dict[str, Path], tmp_path: Path
) -> None:
    output = tmp_path / "results"
    source = shared_data / "video" / "grid" / "bbaf2n.mpg"
    arguments = [
        "swap", str(source), "--targets", str(shots["lbbc2a"]), str(shots["brbk7n"]), "-o", str(output),
        "--preset", "tiny", "--iterations", "4", "--crop-size", "64", "--preview-every", "0",
    ]  # fmt: skip
    assert main(arguments) == 0
    assert sorted(path.name for path in output.iterdir()) == ["brbk7n.mp4", "lbbc2a.mp4"]
    for name in ("brbk7n", "lbbc2a"):
        assert probe(output / f"{name}.mp4").frame_count == SHOT_FRAMES
    workdir = tmp_path / "results.work"
    pooled = open_faceset(workdir / "target")
    parts = [open_faceset(folder) for folder in sorted((workdir / "targets").iterdir())]
    assert len(parts) == 2 and len(pooled) == sum(len(part) for part in parts) >= 2 * (SHOT_FRAMES - 2)
    assert len({record.face_id for record in pooled.records}) == len(pooled)
    # each target's faces keep their own source in the pool, so each converts from its own faces
    assert sorted(Path(source["path"]).name for source in pooled.manifest.sources) == [
        "brbk7n.mp4",
        "lbbc2a.mp4",
    ]
    report = json.loads((workdir / "report.json").read_text())
    assert report["failed"] == {} and len(report["outputs"]) == 2
    # one model: both outputs come from the same checkpoint step
    train_stage = next(stage for stage in report["stages"] if stage["name"] == "train")
    assert train_stage["details"]["step"] == 4
    first = next(iter(read_frames(output / "lbbc2a.mp4")))
    assert (
        np.abs(first.image.astype(int) - next(iter(read_frames(shots["lbbc2a"]))).image.astype(int)).max()
        > 40
    )

    assert main(arguments) == 0  # a rerun skips every stage
    report = json.loads((workdir / "report.json").read_text())
    assert all(stage["skipped"] for stage in report["stages"])
