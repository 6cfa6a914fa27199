"""Conversion end to end on the GRID pair: a `tiny` model trained for a few dozen steps on bbaf2n ->
lbbc2a converts lbbc2a.mpg into a video of the same frames, rate, size and sound, with the face
changed and everything away from it as it was."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from facetransfer.cli import main
from facetransfer.convert.config import EncodeOptions
from facetransfer.convert.pipeline import ConvertConfig, convert_video
from facetransfer.extract import ExtractConfig, extract_faceset, extract_for_model
from facetransfer.faces.masks import face_hull_points
from facetransfer.faceset import open_faceset
from facetransfer.media import probe

pytestmark = pytest.mark.e2e

TRAIN_STEPS = 30


@pytest.fixture(scope="module")
def grid(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Facesets of bbaf2n (source) and lbbc2a (target), and a tiny model trained on them."""
    from facetransfer.train.loop import resolve_config, train

    folder = tmp_path_factory.mktemp("grid")
    paths = {"target_video": shared_data / "video/grid/lbbc2a.mpg"}
    for name in ("bbaf2n", "lbbc2a"):
        paths[name] = folder / name
        extract_faceset([shared_data / f"video/grid/{name}.mpg"], paths[name], ExtractConfig(crop_size=128))
    paths["model"] = folder / "model"
    config = resolve_config(
        paths["model"], preset="tiny", train_options={"iterations": TRAIN_STEPS, "preview_every": 0}
    )
    train(paths["bbaf2n"], paths["lbbc2a"], paths["model"], config)
    return paths


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _audio_duration_s(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.rate


def _face_regions(
    faceset_dir: Path, frame_index: int, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """(near, core) boolean masks: the face hull's box grown by 16 px (where the swap may reach), and
    its box shrunk to the middle of the face (where it must show)."""
    record = next(r for r in open_faceset(faceset_dir).records if r.frame_index == frame_index)
    points = face_hull_points(record.landmarks_frame)
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    near = np.zeros((height, width), bool)
    near[max(0, int(y0) - 16) : int(y1) + 16, max(0, int(x0) - 16) : int(x1) + 16] = True
    core = np.zeros((height, width), bool)
    width_px, height_px = x1 - x0, y1 - y0
    core[
        int(y0 + 0.3 * height_px) : int(y1 - 0.2 * height_px),
        int(x0 + 0.25 * width_px) : int(x1 - 0.25 * width_px),
    ] = True
    return near, core


def test_converts_the_target_with_its_sound(grid: dict[str, Path], tmp_path: Path, capsys) -> None:
    output = tmp_path / "swapped.mp4"
    arguments = ["convert", str(grid["target_video"]), "-m", str(grid["model"]), "-o", str(output)]
    # provenance off here: its watermark changes every pixel by about one level (tested below)
    assert main([*arguments, "--faceset", str(grid["lbbc2a"]), "--json", "--no-provenance"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["provenance"]["enabled"] is False
    assert (
        summary["frames_swapped"] == 75
        and summary["jitter"]["smoothed_shiver"] < summary["jitter"]["raw_shiver"]
    )

    info, source = probe(output), probe(grid["target_video"])
    assert (info.frame_count, info.display_width, info.display_height) == (75, 360, 288)
    assert info.fps == pytest.approx(25.0)
    assert info.has_audio
    assert abs(_audio_duration_s(output) - 75 / 25.0) <= 1 / 25.0
    assert (
        abs(_audio_duration_s(output) - min(_audio_duration_s(grid["target_video"]), source.duration_s))
        <= 1 / 25.0
    )

    original, swapped = _frames(grid["target_video"]), _frames(output)
    for index in (0, 37, 74):
        near, core = _face_regions(grid["lbbc2a"], index, 288, 360)
        difference = np.abs(swapped[index].astype(int) - original[index].astype(int)).mean(2)
        assert difference[~near].mean() < 2.0, index  # codec tolerance away from the face
        assert np.percentile(difference[~near], 99) < 12, index
        assert difference[core].mean() > 6.0, index  # the face was replaced


def test_extracts_on_the_fly_without_a_faceset(grid: dict[str, Path], tmp_path: Path) -> None:
    config = ConvertConfig(encode=EncodeOptions(encoder_preset="ultrafast"))
    on_the_fly = convert_video(
        grid["target_video"], grid["model"], tmp_path / "fly.mp4", config, extract_target=extract_for_model
    )
    with_faceset = convert_video(
        grid["target_video"],
        grid["model"],
        tmp_path / "set.mp4",
        ConvertConfig(faceset=str(grid["lbbc2a"]), encode=EncodeOptions(encoder_preset="ultrafast")),
    )
    assert on_the_fly.faces_from == "extracted on the fly" and on_the_fly.frames_swapped == 75
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fly.mp4",
        "set.mp4",
    ]  # the temporary faceset is gone
    first, second = _frames(tmp_path / "fly.mp4"), _frames(tmp_path / "set.mp4")
    _, core = _face_regions(grid["lbbc2a"], 40, 288, 360)
    # Same detector and landmarks: the two conversions agree (up to the codec).
    assert np.abs(first[40].astype(int) - second[40].astype(int))[core].mean() < 3.0
    assert (
        with_faceset.jitter == on_the_fly.jitter
        or abs(with_faceset.jitter["raw_shiver"] - on_the_fly.jitter["raw_shiver"]) < 1e-3
    )


def test_errors_are_one_line_and_leave_nothing(
    grid: dict[str, Path], shared_data: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    model = str(grid["model"])
    cases = [
        # no face at all in the target
        [
            "convert",
            str(shared_data / "video/noface/indoor_short.mp4"),
            "-m",
            model,
            "-o",
            str(out / "a.mp4"),
        ],
        # a model folder with no checkpoint
        ["convert", str(grid["target_video"]), "-m", str(tmp_path), "-o", str(out / "b.mp4")],
        # the output is the input
        ["convert", str(grid["target_video"]), "-m", model, "-o", str(grid["target_video"])],
    ]
    for arguments in cases:
        assert main(arguments) == 2, arguments
        error = capsys.readouterr().err.strip().splitlines()
        assert error[-1].startswith("facetransfer convert: error:"), error
    # a faceset of another coverage than the model's
    other = tmp_path / "face_coverage"
    (other / "crops").mkdir(parents=True)
    manifest = json.loads((grid["lbbc2a"] / "faceset.json").read_text())
    (other / "faceset.json").write_text(json.dumps({**manifest, "coverage": "face"}))
    (other / "faces.jsonl").write_text("")
    arguments = [
        "convert",
        str(grid["target_video"]),
        "-m",
        model,
        "-o",
        str(out / "c.mp4"),
        "--faceset",
        str(other),
    ]
    assert main(arguments) == 2
    assert "coverage" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_output_carries_the_provenance_marks(grid: dict[str, Path], tmp_path: Path) -> None:
    from facetransfer.provenance import verify_file

    output = tmp_path / "marked.mp4"
    config = ConvertConfig(faceset=str(grid["lbbc2a"]), encode=EncodeOptions(encoder_preset="ultrafast"))
    summary = convert_video(grid["target_video"], grid["model"], output, config)
    assert summary.provenance["marks"] == ["c2pa", "watermark", "metadata"]
    assert summary.provenance["c2pa"]["self_signed"]
    report = verify_file(output).to_json()
    assert report["marked"] and report["manifest"]["valid"] and report["metadata"]["present"]
    assert report["manifest"]["digital_source_type"].endswith("compositeWithTrainedAlgorithmicMedia")
    assert report["watermark"]["share_found"] >= 0.9
