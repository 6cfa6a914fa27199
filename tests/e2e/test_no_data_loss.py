"""No command deletes or replaces what it did not make: every command's output placed onto an input,
on a folder holding an input, inside an input folder and on a foreign file or folder, with and without
`--overwrite`, is refused with one line and exit status 2, and every file is left as it was."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from facetransfer.cli import main

pytestmark = pytest.mark.e2e

PLACEMENTS = ("onto_input", "holds_input", "inside_input", "foreign")


def _tree(root: Path) -> dict[str, str]:
    """Every path under `root` (hidden ones included) with the sha256 of each file."""
    listing = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        listing[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return listing


@pytest.fixture(scope="module")
def project(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """proj/clip.mp4 (a target video), proj/imgs/ (three frames as PNG), proj/source/man.mpg,
    proj/target/woman.mpg, proj/faces/{source,target} (facesets), proj/model (a 2-step tiny model),
    foreign/ (a user's folder) and foreign.mp4 / foreign.png (a user's files)."""
    import cv2

    from facetransfer.media import read_frames

    root = tmp_path_factory.mktemp("no-data-loss")
    proj = root / "proj"
    (proj / "imgs").mkdir(parents=True)
    (proj / "source").mkdir()
    (proj / "target").mkdir()
    grid = shared_data / "video" / "grid"
    shutil.copy(grid / "lbbc2a.mpg", proj / "clip.mp4")
    shutil.copy(grid / "bbaf2n.mpg", proj / "source" / "man.mpg")
    shutil.copy(grid / "lbbc2a.mpg", proj / "target" / "woman.mpg")
    for frame in read_frames(grid / "lbbc2a.mpg", end_s=0.12):
        cv2.imwrite(
            str(proj / "imgs" / f"{frame.index:03d}.png"), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)
        )
    assert (
        main(
            [
                "-q",
                "extract",
                str(grid / "bbaf2n.mpg"),
                "-o",
                str(proj / "faces" / "source"),
                "--crop-size",
                "96",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "-q",
                "extract",
                str(grid / "lbbc2a.mpg"),
                "-o",
                str(proj / "faces" / "target"),
                "--crop-size",
                "96",
            ]
        )
        == 0
    )
    model = proj / "model"
    arguments = ["train", str(proj / "faces" / "source"), str(proj / "faces" / "target"), "-o", str(model)]
    assert main(["-q", *arguments, "--preset", "tiny", "--iterations", "2", "--preview-every", "0"]) == 0
    foreign = root / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("a user's notes\n")
    for name in ("source", "target", "model"):  # what swap would write, taken by the user's own files
        (foreign / name).mkdir()
        (foreign / name / "keep.txt").write_text("mine\n")
    shutil.copy(grid / "bbaf2n.mpg", root / "foreign.mp4")
    shutil.copy(proj / "imgs" / "000.png", root / "foreign.png")
    return root


def _command(root: Path, command: str, placement: str) -> list[str]:
    """The command line of `command` with its output put at `placement`."""
    proj = root / "proj"
    video, imgs = str(proj / "clip.mp4"), str(proj / "imgs")
    faces_source, faces_target = str(proj / "faces" / "source"), str(proj / "faces" / "target")
    outputs = {
        "extract": {
            "onto_input": str(proj / "clip.mp4"),
            "holds_input": str(proj),
            "inside_input": str(proj / "imgs" / "faces"),
            "foreign": str(root / "foreign"),
        },
        "train": {
            "onto_input": faces_source,
            "holds_input": str(proj / "faces"),
            "inside_input": str(proj / "faces" / "source" / "model"),
            "foreign": str(root / "foreign"),
        },
        "convert": {
            "onto_input": imgs,
            "holds_input": str(proj),
            "inside_input": str(proj / "imgs" / "swapped"),
            "foreign": str(root / "foreign"),
        },
        "evaluate": {
            "onto_input": video,
            "holds_input": str(proj),
            "inside_input": str(proj / "imgs" / "report"),
            "foreign": str(root / "foreign"),
        },
        "info": {
            "onto_input": str(proj / "faces" / "source" / "faceset.json"),
            "holds_input": str(proj / "faces"),
            "inside_input": str(proj / "faces" / "source" / "sheet.png"),
            "foreign": str(root / "foreign.png"),
        },
    }
    if command == "extract":
        return ["extract", video, imgs, "-o", outputs["extract"][placement]]
    if command == "train":
        return ["train", faces_source, faces_target, "-o", outputs["train"][placement], "--iterations", "3"]
    if command == "convert":
        model = str(proj / "model")
        return ["convert", imgs, "-m", model, "--faceset", faces_target, "-o", outputs["convert"][placement]]
    if command == "evaluate":
        target = str(root / "foreign.mp4")
        return ["evaluate", video, "--target", target, "--report", outputs["evaluate"][placement]]
    if command == "info":
        return ["info", faces_source, "--sheet", outputs["info"][placement]]
    # swap: the work folder and the output video placed
    source, target = str(proj / "source" / "man.mpg"), str(proj / "target" / "woman.mpg")
    base = ["swap", source, imgs, target, "--preset", "tiny", "--iterations", "2"]
    if placement == "onto_input":
        return [*base, "-o", target]
    if placement == "holds_input":  # the work folder holds the inputs' folders at source/ and target/
        return [*base, "-o", str(root / "result.mp4"), "--workdir", str(proj)]
    if placement == "inside_input":
        return [*base, "-o", str(root / "result.mp4"), "--workdir", str(proj / "imgs" / "work")]
    return [*base, "-o", str(root / "foreign.mp4")]


OVERWRITABLE = ("extract", "train", "convert", "swap")


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("command", ["extract", "train", "convert", "swap", "evaluate", "info"])
def test_an_output_never_replaces_an_input_or_a_foreign_thing(
    project: Path, command: str, placement: str, overwrite: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    if overwrite and command not in OVERWRITABLE:
        pytest.skip(f"{command} has no --overwrite")
    if overwrite and command == "train":
        pytest.skip("train resumes a model folder and never replaces one")
    before = _tree(project)
    arguments = _command(project, command, placement) + (["--overwrite"] if overwrite else [])
    capsys.readouterr()
    status = main(["-q", *arguments])
    error = capsys.readouterr().err
    assert status == 2, error
    lines = [line for line in error.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in error, error
    assert _tree(project) == before


def test_extract_onto_the_folder_of_its_input_keeps_the_folder(project: Path) -> None:
    """The first finding: `extract proj/clip.mp4 -o proj --overwrite` replaced proj with a faceset."""
    proj = project / "proj"
    before = _tree(proj)
    assert main(["-q", "extract", str(proj / "clip.mp4"), "-o", str(proj), "--overwrite"]) == 2
    assert main(["-q", "extract", str(proj / "imgs"), "-o", str(project / "foreign.mp4"), "--overwrite"]) == 2
    assert _tree(proj) == before and (project / "foreign.mp4").is_file()


def test_swap_with_the_inputs_inside_its_work_folder_deletes_nothing(project: Path) -> None:
    """The second finding: swap replaced proj/source and proj/target (holding the videos) with facesets."""
    before = _tree(project)
    assert main(["-q", *_command(project, "swap", "holds_input")]) == 2
    assert _tree(project) == before


def test_overwrite_replaces_the_tools_own_outputs(project: Path, tmp_path: Path) -> None:
    """--overwrite still replaces a faceset and a converted image folder made by the tool; an empty
    folder is taken as an output."""
    proj = project / "proj"
    faceset = tmp_path / "faces"
    faceset.mkdir()  # empty: nothing to lose
    assert main(["-q", "extract", str(proj / "imgs"), "-o", str(faceset)]) == 0
    assert main(["-q", "extract", str(proj / "imgs"), "-o", str(faceset)]) == 2
    assert main(["-q", "extract", str(proj / "imgs"), "-o", str(faceset), "--overwrite"]) == 0
    assert (faceset / "faceset.json").is_file()
    swapped = tmp_path / "swapped"
    arguments = ["convert", str(proj / "imgs"), "-m", str(proj / "model"), "-o", str(swapped)]
    assert main(["-q", *arguments, "--faceset", str(proj / "faces" / "target")]) == 0
    assert sorted(p.name for p in swapped.glob("*.png")) == ["000.png", "001.png", "002.png"]
    assert main(["-q", *arguments, "--overwrite"]) == 0
    video = tmp_path / "swapped.mp4"
    arguments = ["convert", str(proj / "target" / "woman.mpg"), "-m", str(proj / "model"), "-o", str(video)]
    assert main(["-q", *arguments, "--faceset", str(proj / "faces" / "target"), "--no-provenance"]) == 0
    assert main(["-q", *arguments, "--faceset", str(proj / "faces" / "target"), "--overwrite"]) == 0
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
