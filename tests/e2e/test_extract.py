"""Extraction on real media from ../shared/data (see its README)."""

import itertools
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from facetransfer.cli import main
from facetransfer.extract import ExtractConfig, extract_faceset
from facetransfer.faces.identity import IdentityEmbedder, distance_matrix, face_box_for_dlib
from facetransfer.faces.landmarks import eye_angle_deg
from facetransfer.faceset import open_faceset
from facetransfer.media import read_image

pytestmark = pytest.mark.e2e


def _check_aligned(faceset_dir: Path, expected_faces: int) -> None:
    faceset = open_faceset(faceset_dir)
    assert len(faceset) == expected_faces
    size = faceset.manifest.crop_size
    for record in faceset.records:
        landmarks_crop = record.landmarks_crop
        assert abs(eye_angle_deg(landmarks_crop)) < 3.0, record.face_id
        assert landmarks_crop.min() >= 0 and landmarks_crop.max() < size, record.face_id
    crop = faceset.read_crop(faceset.records[0])
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8


@pytest.mark.parametrize("clip", ["video/grid/bbaf2n.mpg", "video/cremad/1001_DFA_NEU_XX.flv"])
def test_one_face_per_frame_aligned(shared_data: Path, tmp_path: Path, clip: str) -> None:
    output = tmp_path / "faceset"
    assert main(["extract", str(shared_data / clip), "-o", str(output), "--crop-size", "128"]) == 0
    info = json.loads(json.dumps(open_faceset(output).manifest.sources[0]))
    _check_aligned(output, info["frame_count"])
    assert info["frame_count"] in (75, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70)


def test_sources_are_recorded_relative_to_the_faceset_or_by_name_only(
    shared_data: Path, tmp_path: Path
) -> None:
    """A shared faceset names no home folder: its sources are relative paths (or bare names with
    --anonymous), which still lead to the media from the faceset."""
    image = shared_data / "image/faces/obama.jpg"
    extract_faceset([image], tmp_path / "plain", ExtractConfig(crop_size=64))
    faceset = open_faceset(tmp_path / "plain")
    recorded = faceset.manifest.sources[0]["path"]
    assert not Path(recorded).is_absolute() and (tmp_path / "plain" / recorded).resolve() == image.resolve()
    assert {record.source_path for record in faceset.records} == {recorded}
    extract_faceset([image], tmp_path / "anonymous", ExtractConfig(crop_size=64, anonymous=True))
    anonymous = open_faceset(tmp_path / "anonymous")
    assert anonymous.manifest.sources[0]["path"] == "obama.jpg"
    assert {record.source_path for record in anonymous.records} == {"obama.jpg"}
    assert str(tmp_path) not in (tmp_path / "anonymous" / "faceset.json").read_text()


def test_two_people_with_all_faces(shared_data: Path, tmp_path: Path) -> None:
    image = shared_data / "image/faces/two_people.jpg"
    summary = extract_faceset([image], tmp_path / "all", ExtractConfig(crop_size=96, all_faces=True))
    assert summary.faces_kept == 2
    summary = extract_faceset([image], tmp_path / "main", ExtractConfig(crop_size=96))
    assert summary.faces_kept == 1 and summary.dropped.get("other_person") == 1


def test_multiface_cuts_keeps_the_performer(shared_data: Path, tmp_path: Path) -> None:
    clip = shared_data / "video/hard/hamilton_multiface_cuts.mp4"
    main_summary = extract_faceset([clip], tmp_path / "main", ExtractConfig(crop_size=96))
    all_summary = extract_faceset([clip], tmp_path / "all", ExtractConfig(crop_size=96, all_faces=True))
    assert all_summary.faces_kept > main_summary.faces_kept > 100
    faceset = open_faceset(tmp_path / "main")
    # the performer is found in several tracks separated by scene cuts, all one identity
    tracks = {record.track_id for record in faceset.records}
    assert len(tracks) >= 2
    assert {record.identity_id for record in faceset.records} == {0}
    assert max(record.identity_distance or 0 for record in faceset.records) < 0.6
    frames = sorted(record.frame_index for record in faceset.records)
    assert frames[0] < 30 and frames[-1] > 150
    # from frame 211 on the clip shows the audience (people in profile, in the dark): none is kept
    assert frames[-1] < 211


def test_identity_embeddings_separate_people(shared_data: Path) -> None:
    embedder = IdentityEmbedder()
    from facetransfer.faces import MeshLandmarker, create_detector

    detector, landmarker = create_detector("mediapipe"), MeshLandmarker()
    names, embeddings = [], []
    for path in sorted((shared_data / "identity/johns").glob("*/*.jpg")):
        image = cv2.copyMakeBorder(read_image(path), 75, 75, 75, 75, cv2.BORDER_REPLICATE)
        detections = detector.detect(image)
        assert detections, path
        landmarks = landmarker.landmarks68(image, detections[0].bbox)
        assert landmarks is not None, path
        embeddings.append(embedder.embed_chips([embedder.chip(image, face_box_for_dlib(landmarks))])[0])
        names.append(path.parent.name)
    distances = distance_matrix(np.stack(embeddings), np.stack(embeddings))
    pairs = list(itertools.combinations(range(len(names)), 2))
    same = np.array([distances[i, j] for i, j in pairs if names[i] == names[j]])
    different = np.array([distances[i, j] for i, j in pairs if names[i] != names[j]])
    assert len(set(names)) == 5
    assert (same[:, None] < different[None, :]).mean() >= 0.95


def test_reference_keeps_only_that_person(shared_data: Path, tmp_path: Path) -> None:
    faces = shared_data / "image/faces"
    inputs = [faces / "obama2.jpg", shared_data / "image/hard/obama3.jpg", faces / "biden.jpg"]
    config = ExtractConfig(crop_size=96, reference=[str(faces / "obama.jpg")])
    extract_faceset(inputs, tmp_path / "ref", config)
    kept = {Path(record.source_path).name for record in open_faceset(tmp_path / "ref").records}
    assert kept == {"obama2.jpg", "obama3.jpg"}


def _bad_inputs(shared_data: Path, tmp_path: Path) -> list[Path]:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "text.mp4"
    text.write_text("not a video\n")
    truncated = tmp_path / "truncated.mp4"
    source = (shared_data / "video/hard/street_multiface_1080p.mp4").read_bytes()
    truncated.write_bytes(source[: len(source) // 3])
    # camera.png is left out: the skimage "cameraman" shows a real man in profile behind his camera,
    # and extraction rightly finds his face (see test_cameraman_is_a_face)
    noface = [p for p in sorted((shared_data / "image/noface").iterdir()) if p.name != "camera.png"]
    return [*sorted((shared_data / "video/noface").iterdir()), *noface, empty, text, truncated]


def test_bad_and_faceless_inputs_fail_cleanly(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in _bad_inputs(shared_data, tmp_path):
        output = tmp_path / f"out_{path.stem}"
        assert main(["extract", str(path), "-o", str(output), "--crop-size", "64"]) == 2, path
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert str(path) in error and "Traceback" not in error, error
        assert not output.exists(), path
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".out_{path.stem}")]


def test_cameraman_is_a_face(shared_data: Path, tmp_path: Path) -> None:
    summary = extract_faceset(
        [shared_data / "image/noface/camera.png"], tmp_path / "c", ExtractConfig(crop_size=64)
    )
    record = open_faceset(tmp_path / "c").records[0]
    assert summary.faces_kept == 1 and abs(record.yaw_deg) > 30  # a profile


def test_refuses_to_overwrite_without_flag(shared_data: Path, tmp_path: Path) -> None:
    image = shared_data / "image/faces/obama.jpg"
    output = tmp_path / "faceset"
    assert main(["extract", str(image), "-o", str(output), "--crop-size", "64"]) == 0
    stamp = (output / "faceset.json").stat().st_mtime_ns
    assert main(["extract", str(image), "-o", str(output), "--crop-size", "64"]) == 2
    assert (output / "faceset.json").stat().st_mtime_ns == stamp
    assert main(["extract", str(image), "-o", str(output), "--crop-size", "64", "--overwrite"]) == 0
    shutil.rmtree(output)


def test_retinaface_backend_and_debug_frames(shared_data: Path, tmp_path: Path) -> None:
    debug = tmp_path / "debug"
    config = ExtractConfig(crop_size=64, detector="retinaface", debug_dir=str(debug), end_s=0.5)
    summary = extract_faceset([shared_data / "video/grid/lbbc2a.mpg"], tmp_path / "r", config)
    assert summary.faces_kept == summary.frames == 13
    assert len(list(debug.glob("*.jpg"))) == 13


def test_info_json_and_sheet(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "faceset"
    assert (
        main(
            [
                "extract",
                str(shared_data / "video/grid/lbbc2a.mpg"),
                "-o",
                str(output),
                "--crop-size",
                "64",
                "--every-n",
                "5",
            ]
        )
        == 0
    )
    capsys.readouterr()
    sheet = tmp_path / "sheet.png"
    assert main(["info", str(output), "--json", "--sheet", str(sheet)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "faceset" and info["faces"] == 15 and info["frames"] == 15
    assert cv2.imread(str(sheet)).shape[0] > 64
    assert main(["info", str(shared_data / "video/grid/lbbc2a.mpg"), "--json"]) == 0
    media = json.loads(capsys.readouterr().out)
    assert media["kind"] == "video" and media["frame_count"] == 75 and media["has_audio"]
