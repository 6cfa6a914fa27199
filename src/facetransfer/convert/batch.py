"""Many shots with one model: several targets converted into one output folder, one output each.

Each output is written atomically by `convert_video`, so an output that is there (and is this tool's)
is complete: a rerun skips it, and only the targets still missing are converted; `--overwrite`
converts them all again. A target that fails (unreadable, no face, an output path held by a file
this tool did not make) is reported and the others go on. The model is loaded once, and only when a
target needs it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from facetransfer.convert.config import ConvertConfig
from facetransfer.convert.outputs import same_file
from facetransfer.errors import ConfigError, FacetransferError, MediaError, OutputExistsError
from facetransfer.media import IMAGE_EXTENSIONS, OUTPUT_FORMATS, VIDEO_EXTENSIONS, probe
from facetransfer.safety import check_not_input, is_output_folder, is_tool_file

if TYPE_CHECKING:
    from facetransfer.convert.pipeline import TargetExtractor

logger = logging.getLogger(__name__)

DEFAULT_VIDEO_SUFFIX = ".mp4"
"""Output suffix of a video target whose own container is not one the writer makes (.mpg, .avi...)."""

Status = Literal["converted", "skipped", "failed"]


def read_target_list(path: str | os.PathLike[str]) -> list[Path]:
    """The targets named in a list file: one path per line; blank lines and lines starting with `#`
    are left out; a relative path is relative to the list file's folder."""
    list_path = Path(path)
    try:
        text = list_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MediaError(
            f"{list_path}: no such target list; pass a text file with one path per line"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise MediaError(f"{list_path}: the target list cannot be read ({reason}); check the file") from None
    lines = [line.strip() for line in text.splitlines()]
    targets = [list_path.parent / line for line in lines if line and not line.startswith("#")]
    if not targets:
        raise MediaError(f"{list_path}: the target list names no file; put one path per line")
    return targets


def _videos_in(folder: Path) -> list[Path]:
    from facetransfer.media.reader import natural_sort_key

    try:
        entries = [Path(entry.path) for entry in os.scandir(folder)]
    except OSError as error:
        raise MediaError(f"{folder}: cannot be listed ({error.strerror}); check its permissions") from None
    videos = [
        path
        for path in entries
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in VIDEO_EXTENSIONS
    ]
    return sorted(videos, key=lambda path: natural_sort_key(path.name))


def expand_targets(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The targets `paths` stand for: a file as it is; a folder holding videos, each of its videos
    (not recursive); any other folder as one target (a folder of images)."""
    targets: list[Path] = []
    for item in paths:
        path = Path(item)
        videos = _videos_in(path) if path.is_dir() else []
        targets.extend(videos or [path])
    return targets


def output_name(target: Path) -> str:
    """The name of a target's output inside the output folder: a video keeps its stem (and its
    container when the writer makes it, else `.mp4`), an image its name (`.png` for other formats),
    an image folder its name."""
    suffix = target.suffix.lower()
    if target.is_dir():
        return target.name
    if suffix in IMAGE_EXTENSIONS:
        return target.name if suffix in (".png", ".jpg", ".jpeg") else f"{target.stem}.png"
    return target.stem + (target.suffix if suffix in OUTPUT_FORMATS else DEFAULT_VIDEO_SUFFIX)


def output_paths(targets: Sequence[Path], output_dir: Path) -> list[Path]:
    """Each target's output in `output_dir`; two targets that would share a name are refused."""
    outputs: list[Path] = []
    seen: dict[str, Path] = {}
    for target in targets:
        name = output_name(target)
        if name in seen:
            if same_file(seen[name], target):
                raise ConfigError(f"{target}: named twice among the targets; name each target once")
            raise ConfigError(
                f"{target}: its output {output_dir / name} would be {seen[name]}'s as well; "
                "rename one of them or convert them into different folders"
            )
        seen[name] = target
        outputs.append(output_dir / name)
    return outputs


def is_finished(output: Path) -> bool:
    """An output this tool wrote is there: complete, since every output is renamed into place last."""
    return is_output_folder(output) if output.is_dir() else is_tool_file(output)


@dataclass
class TargetResult:
    """What became of one target: `converted`, `skipped` (its output was there) or `failed` (`error`
    holds the one-line message)."""

    target: str
    output: str
    status: Status
    error: str | None = None
    seconds: float = 0.0
    summary: dict[str, Any] | None = None


@dataclass
class BatchSummary:
    output_dir: str
    model: str
    results: list[TargetResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: Status) -> int:
        return sum(result.status == status for result in self.results)

    @property
    def succeeded(self) -> bool:
        return self.count("failed") == 0

    def to_json(self) -> dict[str, Any]:
        payload = asdict(self)
        payload.update({status: self.count(status) for status in ("converted", "skipped", "failed")})
        return payload


def error_line(target: Path, error: FacetransferError) -> str:
    """The error's message, led by the target when it does not name it already."""
    message = str(error)
    return message if str(target) in message else f"{target}: {message}"


def convert_targets(
    targets: Sequence[str | os.PathLike[str]],
    model_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    config: ConvertConfig | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    extract_target: TargetExtractor | None = None,
    on_result: Callable[[TargetResult], None] | None = None,
) -> BatchSummary:
    """Convert every target (videos, images or image folders) with the model of `model_dir` into
    `output_dir` (created), one output each (`output_name`), skipping those already there.

    `progress(frames_done, frames_total, target_number)` counts the frames of every target to convert;
    `on_result` is called as each target finishes. With `config.faceset`, that one faceset must hold
    every target among its sources (one made from several inputs, or `faceset.pool.pool_facesets`);
    else each target is extracted with `extract_target` (see `convert_video`). Raises a
    `FacetransferError` only for what concerns them all (the output folder, options, the model);
    a target's own failure is in its `TargetResult`.
    """
    from facetransfer.convert.pipeline import convert_video
    from facetransfer.convert.predictor import Predictor, load_predictor

    config = config or ConvertConfig()
    started = time.perf_counter()
    target_paths = [Path(target) for target in targets]
    folder, model_path = Path(output_dir), Path(model_dir)
    if not target_paths:
        raise ConfigError("no targets to convert; pass target files, folders of videos or a list file")
    if config.mask_video or config.frames_dir:
        raise ConfigError(
            "--mask-video and --frames-dir name one file or folder: with several targets, convert the "
            "targets that need them one at a time"
        )
    inputs = [*target_paths, model_path, *([Path(config.faceset)] if config.faceset else [])]
    check_not_input(folder, inputs, "output folder")
    if folder.exists() and not folder.is_dir():
        raise OutputExistsError(
            f"{folder}: a file is there; with several targets the output is a folder; choose another path"
        )
    outputs = output_paths(target_paths, folder)
    summary = BatchSummary(output_dir=str(folder), model=str(model_path))

    def finish(result: TargetResult) -> None:
        summary.results.append(result)
        if on_result is not None:
            on_result(result)

    pending: list[tuple[int, Path, Path, int]] = []
    for number, (target, output) in enumerate(zip(target_paths, outputs, strict=True)):
        if not config.overwrite and is_finished(output):
            finish(TargetResult(str(target), str(output), "skipped"))
            continue
        try:
            frames = probe(target).frame_count
        except FacetransferError as error:
            finish(TargetResult(str(target), str(output), "failed", error_line(target, error)))
            continue
        pending.append((number, target, output, frames))
    if pending:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputExistsError(
                f"{folder}: the output folder cannot be made ({error.strerror}); choose another path"
            ) from None

    total = sum(frames for *_, frames in pending)
    done_before = 0
    predictor: Predictor | None = None
    for number, target, output, frames in pending:
        target_started = time.perf_counter()
        try:
            if predictor is None:
                predictor = load_predictor(model_path, config.device, config.checkpoint)
            before = done_before

            def target_progress(done: int, _total: int, before: int = before, number: int = number) -> None:
                if progress is not None:
                    progress(before + done, total, number)

            result = convert_video(
                target,
                model_path,
                output,
                config,
                target_progress,
                extract_target=extract_target,
                predictor=predictor,
            )
        except FacetransferError as error:
            if predictor is None:  # the model cannot be loaded: no target can be converted
                raise
            finish(
                TargetResult(
                    str(target),
                    str(output),
                    "failed",
                    error_line(target, error),
                    round(time.perf_counter() - target_started, 2),
                )
            )
        else:
            finish(
                TargetResult(
                    str(target),
                    str(output),
                    "converted",
                    seconds=round(time.perf_counter() - target_started, 2),
                    summary=result.to_json(),
                )
            )
        done_before += frames
        if progress is not None:
            progress(done_before, total, number)
    summary.results.sort(key=lambda result: target_paths.index(Path(result.target)))
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
