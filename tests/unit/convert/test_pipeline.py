"""The conversion driver on a synthetic target: output shape and timing, untouched background, swapped
face, extra outputs, face selection, and the one-line errors that leave nothing behind."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import (
    SYNTH_FACE_FRAMES,
    SYNTH_FRAMES,
    SYNTH_HEIGHT,
    SYNTH_WIDTH,
    make_model_dir,
    synthetic_frame,
    synthetic_landmarks,
    write_synthetic_faceset,
)
from facetransfer.cli import main
from facetransfer.convert.config import EncodeOptions, FaceSettings
from facetransfer.convert.pipeline import ConvertConfig, _Stages, convert_video
from facetransfer.convert.predictor import Predictor
from facetransfer.convert.schedule import FaceScheduler, records_for_target
from facetransfer.errors import CheckpointError, ConfigError, OutputExistsError
from facetransfer.faces.masks import face_hull_points
from facetransfer.faceset import open_faceset
from facetransfer.media import Frame
from facetransfer.provenance import ProvenanceConfig

# the watermark changes every pixel slightly; these tests compare pixels away from the face exactly
NO_MARKS = ProvenanceConfig(enabled=False)


def _decode(path: Path) -> tuple[list[np.ndarray], list[float], float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, times = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.pts * frame.time_base))
        return frames, times, float(stream.average_rate)


def _face_box(index: int, grow: int = 12) -> tuple[slice, slice]:
    """The box of the face hull (jaw and raised brows) grown by `grow` pixels (the feathered edge)."""
    points = face_hull_points(synthetic_landmarks(index))
    x0, y0 = np.floor(points.min(0)).astype(int) - grow
    x1, y1 = np.ceil(points.max(0)).astype(int) + grow
    return slice(max(0, y0), y1), slice(max(0, x0), x1)


def _leftovers(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.startswith("."))


@pytest.fixture()
def converted(synthetic_target, tiny_model_dir, tmp_path):
    video, faceset = synthetic_target
    config = ConvertConfig(
        faceset=str(faceset),
        mask_video=str(tmp_path / "mask.mp4"),
        frames_dir=str(tmp_path / "frames"),
        batch_size=3,
        face=FaceSettings(mask="hull"),
        encode=EncodeOptions(crf=8, encoder_preset="ultrafast"),
    )
    summary = convert_video(video, tiny_model_dir, tmp_path / "out.mp4", config)
    return video, tmp_path, summary


def test_output_keeps_frames_fps_size_and_timestamps(converted) -> None:
    video, folder, summary = converted
    source, source_times, source_fps = _decode(video)
    output, output_times, output_fps = _decode(folder / "out.mp4")
    assert len(output) == len(source) == SYNTH_FRAMES == summary.frames
    assert output[0].shape == (SYNTH_HEIGHT, SYNTH_WIDTH, 3)
    assert output_fps == pytest.approx(source_fps)
    np.testing.assert_allclose(output_times, source_times, atol=1e-3)
    assert summary.frames_swapped == summary.faces_swapped == SYNTH_FACE_FRAMES
    assert _leftovers(folder) == []


def test_background_is_untouched_and_the_face_changed(converted) -> None:
    video, folder, _ = converted
    source, _, _ = _decode(video)
    output, _, _ = _decode(folder / "out.mp4")
    # Codec tolerance: what re-encoding alone does to this sharp synthetic texture (yuv420p chroma).
    tolerance = np.abs(output[-1].astype(int) - source[-1].astype(int)).mean() + 0.3
    assert tolerance < 2.0
    for index in range(SYNTH_FRAMES):
        away = np.ones(source[index].shape[:2], bool)
        away[_face_box(index)] = False
        difference = np.abs(output[index].astype(int) - source[index].astype(int))
        assert difference[away].mean() < tolerance, index
        face = difference[_face_box(index, grow=-18)].mean()
        if index < SYNTH_FACE_FRAMES:
            assert face > 8.0, (index, face)  # an untrained model renders noise: far from the input
        else:
            assert face < tolerance, (index, face)  # no face record: the frame passes through


def test_mask_video_and_frames_dir(converted) -> None:
    _video, folder, summary = converted
    masks, _, _ = _decode(folder / "mask.mp4")
    assert len(masks) == SYNTH_FRAMES
    assert masks[0][_face_box(0, grow=-18)].mean() > 200
    assert masks[0][:, :8].max() < 16 and masks[-1].max() < 16  # background and the faceless frame
    frames = sorted((folder / "frames").glob("*.png"))
    assert [path.name for path in frames][:2] == ["frame_000000.png", "frame_000001.png"]
    assert len(frames) == SYNTH_FRAMES
    assert summary.extras == [str(folder / "mask.mp4"), str(folder / "frames")]


def test_image_and_folder_targets(tiny_model_dir, tmp_path) -> None:
    import cv2

    image = tmp_path / "still.png"
    cv2.imwrite(str(image), cv2.cvtColor(synthetic_frame(0), cv2.COLOR_RGB2BGR))
    faceset = write_synthetic_faceset(tmp_path / "faceset", image)
    summary = convert_video(
        image,
        tiny_model_dir,
        tmp_path / "swapped.png",
        ConvertConfig(faceset=str(faceset), provenance=NO_MARKS, face=FaceSettings(mask="hull")),
    )
    result = cv2.cvtColor(cv2.imread(str(tmp_path / "swapped.png")), cv2.COLOR_BGR2RGB)
    assert summary.frames == 1 and result.shape == synthetic_frame(0).shape
    assert np.abs(result.astype(int) - synthetic_frame(0))[_face_box(0, grow=-18)].mean() > 8
    assert (result[:, :10] == synthetic_frame(0)[:, :10]).all()

    folder = tmp_path / "stills"
    folder.mkdir()
    for index in range(3):
        cv2.imwrite(
            str(folder / f"img{index + 1}.png"), cv2.cvtColor(synthetic_frame(index), cv2.COLOR_RGB2BGR)
        )
    faceset = write_synthetic_faceset(tmp_path / "faceset2", folder)
    convert_video(
        folder,
        tiny_model_dir,
        tmp_path / "swapped_dir",
        ConvertConfig(faceset=str(faceset), provenance=NO_MARKS, face=FaceSettings(mask="hull")),
    )
    assert sorted(p.name for p in (tmp_path / "swapped_dir").glob("*.png")) == [
        "img1.png",
        "img2.png",
        "img3.png",
    ]


def test_main_person_is_chosen_unless_all_faces(synthetic_target, tmp_path) -> None:
    video, _ = synthetic_target
    faceset = open_faceset(
        write_synthetic_faceset(tmp_path / "fs", video, identities=[0, 0, 1, 0, 0, 1, 0, 0])
    )
    main_person = records_for_target(faceset, video, all_faces=False)
    assert [record.frame_index for record in main_person] == [0, 1, 3, 4, 6, 7]
    assert len(records_for_target(faceset, video, all_faces=True)) == SYNTH_FACE_FRAMES
    faceset.manifest.sources = [{"path": "elsewhere/a.mp4"}, {"path": "elsewhere/b.mp4"}]
    with pytest.raises(ConfigError, match="extracted from"):
        records_for_target(faceset, video, all_faces=False)


def test_scheduler_smooths_per_track_and_reports_jitter(synthetic_target) -> None:
    _video, faceset_dir = synthetic_target
    records = open_faceset(faceset_dir).records
    generator = np.random.default_rng(0)
    for record in records:
        record.landmarks_frame = record.landmarks_frame + generator.normal(0, 1.0, (68, 2)).astype(np.float32)
    frames = [Frame(index, index / 10.0, synthetic_frame(index)) for index in range(SYNTH_FRAMES)]
    scheduler = FaceScheduler(records, 64, "full", smooth=0.7, verify_identity=False)
    faces = [scheduler.faces_for(frame) for frame in frames]
    assert [len(found) for found in faces] == [1] * SYNTH_FACE_FRAMES + [0] * (
        SYNTH_FRAMES - SYNTH_FACE_FRAMES
    )
    assert faces[0][0].crop.shape == (64, 64, 3) and faces[0][0].track_id == 0
    report = scheduler.jitter_report()
    assert report["smoothed_shiver"] < 0.6 * report["raw_shiver"]
    unsmoothed = FaceScheduler(records, 64, "full", smooth=0.0, verify_identity=False)
    for frame in frames[:4]:
        found = unsmoothed.faces_for(frame)
    np.testing.assert_allclose(found[0].landmarks_frame, records[3].landmarks_frame, atol=1e-4)


def test_a_scene_cut_restarts_smoothing_and_drops_a_track_that_changes_person(synthetic_target) -> None:
    """Frames 0-3 show one scene, 4-7 another whose face the tracker linked to the same track; the
    smoothing must restart at the cut, and (when swapping one person) a track whose face changed
    identity across the cut is not swapped after it."""
    _video, faceset_dir = synthetic_target
    records = open_faceset(faceset_dir).records

    def frame(index: int) -> Frame:
        image = synthetic_frame(index)
        if index >= 4:
            image = np.ascontiguousarray(255 - image)  # another shot: every colour changes
        return Frame(index, index / 10.0, image)

    class AlwaysAnotherPerson:
        def same_person(self, before, after) -> bool:
            return False

    for verify, expected in ((False, [1] * 8), (True, [1] * 4 + [0] * 4)):
        scheduler = FaceScheduler(records, 64, "full", smooth=1.0, verify_identity=verify)
        if verify:
            scheduler.identity = AlwaysAnotherPerson()  # type: ignore[assignment]
        found = [scheduler.faces_for(frame(index)) for index in range(SYNTH_FACE_FRAMES)]
        assert [len(faces) for faces in found] == expected
        assert scheduler.cut_frames == [4]
        if not verify:
            # Restarted at the cut: the first face after it is exactly its raw landmarks.
            np.testing.assert_allclose(found[4][0].landmarks_frame, records[4].landmarks_frame, atol=1e-4)
        else:
            assert scheduler.dropped_tracks == {0}


def test_coverage_mismatch_is_refused_before_writing(synthetic_target, tmp_path) -> None:
    video, faceset = synthetic_target
    model = make_model_dir(tmp_path / "face_model", coverage="face")
    with pytest.raises(ConfigError, match="coverage"):
        convert_video(video, model, tmp_path / "out.mp4", ConvertConfig(faceset=str(faceset)))
    assert not (tmp_path / "out.mp4").exists() and _leftovers(tmp_path) == []


def test_without_a_faceset_the_given_extractor_makes_one(synthetic_target, tiny_model_dir, tmp_path) -> None:
    video, _faceset = synthetic_target
    with pytest.raises(ConfigError, match="extract_for_model"):
        convert_video(video, tiny_model_dir, tmp_path / "none.mp4", ConvertConfig(provenance=NO_MARKS))
    assert _leftovers(tmp_path) == [] and not (tmp_path / "none.mp4").exists()

    calls: list[dict[str, object]] = []

    def extract_target(target: Path, output: Path, **options: object) -> None:
        calls.append({"target": target, **options})
        write_synthetic_faceset(output, target)

    summary = convert_video(
        video,
        tiny_model_dir,
        tmp_path / "out.mp4",
        ConvertConfig(all_faces=True, provenance=NO_MARKS, encode=EncodeOptions(encoder_preset="ultrafast")),
        extract_target=extract_target,
    )
    # the model's crop size and coverage, the conversion's detector and face choice
    assert calls == [
        {"target": video, "crop_size": 64, "coverage": "full", "detector": "mediapipe", "all_faces": True}
    ]
    assert summary.faces_from == "extracted on the fly" and summary.frames_swapped == SYNTH_FACE_FRAMES
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.mp4"]  # the temporary faceset is gone


def test_model_folder_without_checkpoint_is_refused(synthetic_target, tmp_path) -> None:
    video, faceset = synthetic_target
    model = make_model_dir(tmp_path / "model")
    for path in sorted((model / "checkpoints").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (model / "latest").unlink()
    with pytest.raises(CheckpointError, match="checkpoint"):
        convert_video(video, model, tmp_path / "out.mp4", ConvertConfig(faceset=str(faceset)))
    with pytest.raises(CheckpointError):
        convert_video(video, tmp_path / "nothing", tmp_path / "out.mp4", ConvertConfig(faceset=str(faceset)))
    assert not (tmp_path / "out.mp4").exists()


def test_output_equal_to_input_or_unwritable_is_refused(synthetic_target, tiny_model_dir, tmp_path) -> None:
    video, faceset = synthetic_target
    with pytest.raises(OutputExistsError, match="overwrite the input"):
        convert_video(video, tiny_model_dir, video, ConvertConfig(faceset=str(faceset), overwrite=True))
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code = main(
        [
            "convert",
            str(video),
            "-m",
            str(tiny_model_dir),
            "-o",
            str(blocker / "out.mp4"),
            "--faceset",
            str(faceset),
        ]
    )
    assert code == 2
    with pytest.raises(ConfigError, match="mask video"):
        convert_video(
            video,
            tiny_model_dir,
            tmp_path / "o.mp4",
            ConvertConfig(faceset=str(faceset), mask_video=str(tmp_path / "m.png")),
        )


@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_a_failure_midway_leaves_nothing(
    synthetic_target, tiny_model_dir, tmp_path, monkeypatch, failure
) -> None:
    video, faceset = synthetic_target
    calls = {"n": 0}
    original = Predictor.predict

    def failing(self, crops):
        calls["n"] += 1
        if calls["n"] > 1:
            raise failure("simulated out-of-memory")
        return original(self, crops)

    monkeypatch.setattr(Predictor, "predict", failing)
    config = ConvertConfig(
        faceset=str(faceset), batch_size=2, mask_video=str(tmp_path / "m.mp4"), frames_dir=str(tmp_path / "f")
    )
    with pytest.raises(failure):
        convert_video(video, tiny_model_dir, tmp_path / "out.mp4", config)
    assert sorted(os.listdir(tmp_path)) == []


def test_cli_converts_and_reports(synthetic_target, tiny_model_dir, tmp_path, capsys) -> None:
    video, faceset = synthetic_target
    output = tmp_path / "cli.mp4"
    arguments = [
        "convert",
        str(video),
        "-m",
        str(tiny_model_dir),
        "-o",
        str(output),
        "--faceset",
        str(faceset),
    ]
    assert (
        main(
            [
                *arguments,
                "--color",
                "mkl",
                "--blend",
                "poisson",
                "--erode-px",
                "2",
                "--blur-px",
                "4",
                "--encoder-preset",
                "ultrafast",
            ]
        )
        == 0
    )
    assert output.is_file() and "10 frames" in capsys.readouterr().out
    assert main(arguments) == 2  # exists, no --overwrite
    assert "already exists" in capsys.readouterr().err


def test_a_ctrl_c_while_waiting_for_the_stages_waits_until_they_have_ended() -> None:
    # The main thread is interrupted while a stage is still working: the stages are told to stop,
    # and waiting goes on until that stage has really ended (nothing may close the writer under it).
    stages = _Stages()
    ended = threading.Event()

    def slow_stage() -> None:
        time.sleep(1.0)
        ended.set()

    stages.thread("slow", slow_stage)
    main_thread = threading.main_thread().ident or 0
    threading.Timer(0.2, lambda: signal.pthread_kill(main_thread, signal.SIGINT)).start()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        stages.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert ended.is_set()
    assert isinstance(stages.error, KeyboardInterrupt) and stages.stop.is_set()
