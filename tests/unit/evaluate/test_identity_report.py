import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from facetransfer.cli import build_parser
from facetransfer.commands.configs import resolve_configs
from facetransfer.evaluate import EvaluateConfig, Evaluation, FrameMetrics, pipeline, write_report
from facetransfer.evaluate.identity import (
    GalleryPerson,
    _gallery_groups,
    _read_cached,
    cache_dir,
    nearest_identity,
)
from facetransfer.evaluate.pipeline import _keep_worst, _reference_embeddings
from facetransfer.evaluate.results import THUMB_PX, WorstFrame


def _unit(index: int) -> np.ndarray:
    vector = np.zeros(128, np.float32)
    vector[index] = 1.0
    return vector


def test_nearest_identity_names_the_closest_reference() -> None:
    gallery = [GalleryPerson("john", _unit(2), 3)]
    source, target = _unit(0), _unit(1)
    assert nearest_identity(_unit(0) * 0.9, source, target, gallery) == "source"
    assert nearest_identity(_unit(1) + 0.1 * _unit(0), source, target, gallery) == "target"
    assert nearest_identity(_unit(2), source, target, gallery) == "gallery:john"
    assert nearest_identity(_unit(2), source, target, []) == "source"  # equidistant: source first


def _touch_image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))


def test_gallery_groups_person_folders_and_single_images(tmp_path: Path) -> None:
    for name in ("b_person", "a_person"):
        for index in (2, 10):
            _touch_image(tmp_path / "people" / name / f"img{index}.jpg")
    _touch_image(tmp_path / "people" / "loose.png")
    (tmp_path / "people" / "empty").mkdir()
    groups = _gallery_groups(tmp_path / "people")
    assert [name for name, _ in groups] == ["a_person", "b_person", "people"]
    assert [p.name for p in groups[0][1]] == ["img2.jpg", "img10.jpg"]
    assert _gallery_groups(tmp_path / "people" / "loose.png") == [
        ("loose", [tmp_path / "people" / "loose.png"])
    ]


def test_the_gallery_is_only_what_was_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # test media laid out next to the working folder, and the variable that used to name a gallery,
    # are not looked for
    johns = tmp_path / "shared" / "data" / "identity" / "johns"
    (johns / "john_a").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setenv("FACETRANSFER_GALLERY", str(johns))
    monkeypatch.setattr(pipeline, "source_embedding", lambda *_args: (_unit(0), 1))
    asked: list[list[str]] = []
    monkeypatch.setattr(pipeline, "load_gallery", lambda paths, *_args: asked.append(list(paths)) or [])
    _reference_embeddings(["source.mp4"], EvaluateConfig(), None)  # type: ignore[arg-type]
    _reference_embeddings(["source.mp4"], EvaluateConfig(gallery=[str(johns)]), None)  # type: ignore[arg-type]
    assert asked == [[], [str(johns)]]


def test_the_gallery_cache_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACETRANSFER_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"version": 1, "name": "x", "faces": 2, "embedding": [0.5] * 128}))
    person = _read_cached(good)
    assert person is not None and person.name == "x" and person.embedding.shape == (128,)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 1, "name": "x", "faces": 2, "embedding": [0.5] * 3}))
    assert _read_cached(bad) is None


def test_keep_worst_keeps_the_largest_values_and_makes_few_thumbnails() -> None:
    heap: list[WorstFrame] = []
    made = []

    def thumbnail() -> np.ndarray:
        made.append(1)
        return np.zeros((2, 2, 3), np.uint8)

    for frame, value in enumerate([0.1, 0.5, 0.3, 0.9, 0.2, float("nan"), 0.7]):
        _keep_worst(heap, value, frame, 3, thumbnail)
    assert sorted((item.value for item in heap), reverse=True) == [0.9, 0.7, 0.5]
    assert len(made) == 5  # 0.2 and nan never made a thumbnail


def _evaluation(frames: int = 12) -> Evaluation:
    rng = np.random.default_rng(0)
    metrics = []
    for index in range(frames):
        item = FrameMetrics(frame=index, target_face=True, output_face=index != 5)
        if index != 5:
            item.identity_to_source = float(rng.uniform(0.3, 0.5))
            item.identity_to_target = float(rng.uniform(0.6, 0.9))
            item.identity_nearest = "source" if index % 4 else "target"
            item.pose_error_deg = item.yaw_error_deg = float(rng.uniform(0, 3))
            item.expression_error = float(rng.uniform(0, 0.1))
        if index:
            item.flicker_warp_output, item.flicker_warp_target = 2.0 + index / 10, 1.5
            item.flicker_warp_excess = item.flicker_warp_output - 1.5
        item.seam_color = 1.0
        metrics.append(item)
    thumb = np.full((THUMB_PX, THUMB_PX, 3), 128, np.uint8)
    return Evaluation(
        output="out.mp4",
        target="target.mp4",
        sources=["source.mp4"],
        gallery=["john"],
        config=EvaluateConfig(worst_frames=4),
        frames=metrics,
        frame_count=frames,
        source_faces=10,
        seconds=1.0,
        worst_identity=[WorstFrame(0.5, 3, thumb), WorstFrame(0.45, 7, thumb)],
        worst_flicker=[],
    )


def test_report_writes_json_plot_and_sheet(tmp_path: Path) -> None:
    evaluation = _evaluation()
    paths = write_report(evaluation, tmp_path / "report")
    payload = json.loads(Path(paths["metrics"]).read_text())
    assert payload["faces"]["output_missing"] == 1 and payload["faces"]["missing_frames"] == [5]
    assert payload["retrieval"]["faces"] == 11
    assert payload["retrieval"]["compared_with"] == "source, target and 1 gallery person"
    assert payload["retrieval"]["target"] == pytest.approx(3 / 11)
    assert payload["summary"]["flicker_warp_excess"]["count"] == 11
    assert payload["per_frame"][5]["pose_error_deg"] is None
    plot = cv2.imread(paths["plot"])
    assert plot is not None and plot.shape[0] > 400 and plot.shape[1] > 600
    assert plot.std() > 10  # something was drawn
    sheet = cv2.imread(paths["sheet"])
    assert sheet is not None and sheet.shape[:2] == (3 * (THUMB_PX + 2) + 2, 4 * (THUMB_PX + 2) + 2)


def test_the_report_says_when_retrieval_had_no_gallery() -> None:
    evaluation = _evaluation()
    evaluation.gallery = []
    retrieval = evaluation.to_json()["retrieval"]
    assert retrieval["compared_with"] == "source and target only (no --gallery)"
    assert retrieval["gallery_people"] == 0 and retrieval["gallery"] == 0.0


def test_cli_parses_evaluate_options() -> None:
    args = build_parser().parse_args(
        ["evaluate", "out.mp4", "--source", "a.mp4", "b.jpg", "--target", "t.mp4", "--max-frames", "5"]
    )
    assert args.source == ["a.mp4", "b.jpg"] and args.target == "t.mp4" and not args.json
    config = resolve_configs(args, args.parser, {"evaluate": EvaluateConfig})["evaluate"]
    assert config == EvaluateConfig(max_frames=5)
