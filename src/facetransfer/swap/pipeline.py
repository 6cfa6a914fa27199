"""`swap`: from source media and a target video to the finished video in one call.

Stages, each written into the work folder and skipped on a rerun when its inputs and options are
unchanged: extract the source person, extract the target person, train (resuming toward the
budget), convert, and optionally write a side-by-side comparison. `report.json` records what ran.
"""

from __future__ import annotations

import logging
import platform
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from facetransfer import __version__
from facetransfer.convert.outputs import check_signer, output_kind
from facetransfer.convert.pipeline import convert_video
from facetransfer.errors import ConfigError, FacetransferError, Interrupted, NoFaceError, OutputExistsError
from facetransfer.extract.config import ExtractConfig
from facetransfer.extract.pipeline import extract_faceset
from facetransfer.faceset import open_faceset
from facetransfer.faceset.io import is_faceset
from facetransfer.fsutil import write_json_atomic
from facetransfer.media import probe
from facetransfer.modelfolder.bases import resolve_base
from facetransfer.modelfolder.checkpoints import latest_checkpoint, read_state
from facetransfer.modelfolder.config import PREVIEWS_DIR, RunConfig, is_model_dir
from facetransfer.models.registry import check_name
from facetransfer.options import values_of
from facetransfer.presets import get_preset
from facetransfer.provenance import (
    ProvenanceConfig,
    Watermarker,
    can_sign,
    container_metadata,
    new_payload,
    sign_file,
)
from facetransfer.safety import check_output, is_tool_file
from facetransfer.swap.config import SwapConfig
from facetransfer.swap.state import (
    REPORT_NAME,
    STATE_NAME,
    WorkState,
    file_identity,
    fingerprint,
    is_report_file,
    is_state_file,
)
from facetransfer.train.loop import budget_reached, default_preset_name, resolve_config, run_budget_s, train
from facetransfer.train.timing import measure_seconds_per_step

logger = logging.getLogger(__name__)

PREVIOUS_MODEL = "model.previous"


@dataclass
class StageReport:
    name: str
    skipped: bool
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class SwapReport:
    output: str
    workdir: str
    comparison: str | None
    previews: str | None
    preset: str
    stages: list[StageReport]
    options: dict[str, Any]
    versions: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def default_workdir(output: Path) -> Path:
    return output.with_name(f"{output.stem}.work")


def _versions() -> dict[str, str]:
    import av
    import cv2
    import numpy
    import torch

    return {
        "facetransfer": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "av": av.__version__,
    }


def _check_paths(inputs: Sequence[Path], output: Path, comparison: Path | None, workdir: Path) -> None:
    """Before any work: the output, the comparison and everything the swap writes into the work
    folder neither is nor holds an input, and what is already there is this tool's own (see
    `facetransfer.safety`)."""
    check_output(output, inputs, overwrite=True, is_ours=is_tool_file, what="output video")
    if comparison is not None:
        check_output(
            comparison, [*inputs, output], overwrite=True, is_ours=is_tool_file, what="comparison video"
        )
    check_work_folder(workdir, [*inputs, output])


def check_work_folder(
    workdir: Path,
    protected: Sequence[Path],
    target_what: str = "target faceset",
    more: Sequence[tuple[str, Callable[[Path], bool], str]] = (),
) -> None:
    """Everything a swap writes into `workdir` (and `more` entries: name, marker test, what it is)
    neither is nor holds a `protected` path, and what is already there is this tool's own."""
    owned: list[tuple[str, Callable[[Path], bool], str]] = [
        ("source", is_faceset, "source faceset"),
        ("target", is_faceset, target_what),
        ("model", is_model_dir, "model folder"),
        (PREVIOUS_MODEL, is_model_dir, "previous model folder"),
        (STATE_NAME, is_state_file, "work folder state"),
        (REPORT_NAME, is_report_file, "swap report"),
        *more,
    ]
    for name, is_ours, what in owned:
        check_output(workdir / name, protected, overwrite=True, is_ours=is_ours, what=what)


def _ensure_workdir(workdir: Path) -> None:
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        probe_file = workdir / ".write-test"
        probe_file.write_bytes(b"")
        probe_file.unlink()
    except OSError as error:
        raise FacetransferError(
            f"{workdir}: work folder cannot be written ({error.strerror}); choose another --workdir"
        ) from error


def _start_fresh(workdir: Path) -> None:
    """Forget every stage; keep the previous model as `model.previous` (a trained model is never lost)."""
    model = workdir / "model"
    if model.exists():
        previous = workdir / PREVIOUS_MODEL
        if previous.exists():
            shutil.rmtree(previous)
        model.rename(previous)
        logger.info("--fresh: the previous model is kept in %s", previous)
    for name in ("source", "target", STATE_NAME):  # each checked to be ours by `_check_paths`
        path = workdir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _extract_stage(
    state: WorkState,
    name: str,
    inputs: Sequence[Path],
    folder: Path,
    config: ExtractConfig,
    progress: Callable[[str], None],
) -> StageReport:
    started = time.perf_counter()
    stage_fingerprint = fingerprint({"inputs": [file_identity(p) for p in inputs], "options": asdict(config)})
    if state.is_done(name, stage_fingerprint) and is_faceset(folder):
        faces = len(open_faceset(folder))
        return StageReport(name, True, 0.0, {"faces": faces, "faceset": str(folder)})
    progress(f"{name}: extracting faces from {', '.join(str(p) for p in inputs)}")
    summary = extract_faceset(inputs, folder, replace(config, overwrite=True))
    state.mark_done(name, stage_fingerprint, faces=summary.faces_kept)
    details = {"faces": summary.faces_kept, "frames": summary.frames, "faceset": str(folder)}
    return StageReport(name, False, round(time.perf_counter() - started, 2), details)


def _train_stage(
    state: WorkState,
    source: Path,
    target: Path,
    model_dir: Path,
    config: RunConfig,
    preset: str,
    faces: tuple[int, int],
    progress: Callable[[str], None],
) -> StageReport:
    started = time.perf_counter()
    resuming = is_model_dir(model_dir) and latest_checkpoint(model_dir) is not None
    values = {**values_of(config.model), **values_of(config.train)}
    run_config = resolve_config(model_dir, preset, values=values)  # a resumed model must match
    step, elapsed_s = 0, 0.0
    if resuming:
        checkpoint = latest_checkpoint(model_dir)
        assert checkpoint is not None
        saved = read_state(checkpoint)
        step, elapsed_s = saved.step, saved.elapsed_s
    train_config = run_config.train
    if budget_reached(train_config, step, elapsed_s):
        return StageReport("train", True, 0.0, {"step": step, "model": str(model_dir)})
    seconds_per_step = measure_seconds_per_step(run_config)
    run_s = run_budget_s(train_config, elapsed_s)
    steps_left = None if train_config.iterations is None else train_config.iterations - step
    estimate_s = min(
        steps_left * seconds_per_step if steps_left is not None else float("inf"),
        run_s if run_s is not None else float("inf"),
    )
    budget = f"to step {train_config.iterations}" if train_config.iterations is not None else ""
    if run_s is not None:
        budget += f"{' or ' if budget else ''}{run_s / 60:.1f} more minutes"
    progress(
        f"train: {faces[0]} source faces, {faces[1]} target faces; model {run_config.model.name} "
        f"{run_config.model.resolution} px (preset {preset}), batch {train_config.batch_size}, "
        f"{'resuming from step ' + str(step) + ', ' if step else _start_of(run_config)}{budget}; "
        f"about {estimate_s / 60:.1f} min at {seconds_per_step:.2f} s/step (measured warm-up)"
    )
    result = train(source, target, model_dir, run_config)
    if result.stopped_by == "signal":
        raise Interrupted(f"{model_dir}: training stopped at step {result.step} and saved; rerun to resume")
    state.mark_done(
        "train", fingerprint({"step": result.step}), step=result.step, data=[str(source), str(target)]
    )
    details = {
        "model": str(model_dir),
        "start_step": result.start_step,
        "step": result.step,
        "stopped_by": result.stopped_by,
    }
    return StageReport("train", False, round(time.perf_counter() - started, 2), details)


def _start_of(config: RunConfig) -> str:
    """What a new model starts from, for the plan line."""
    if config.base is None:
        return "from scratch (--base none or no shipped base), "
    return f"from the {config.base.describe()}, "


def _convert_stage(
    state: WorkState,
    target: Path,
    target_faceset: Path,
    model_dir: Path,
    output: Path,
    config: SwapConfig,
    progress: Callable[[str], None],
    stage: str = "convert",
) -> StageReport:
    """`stage`: the name it is remembered by (`swap --targets` converts several)."""
    started = time.perf_counter()
    convert_config = replace(config.convert, faceset=str(target_faceset))
    checkpoint = latest_checkpoint(model_dir)
    step = read_state(checkpoint).step if checkpoint else -1
    stage_fingerprint = fingerprint(
        {
            "target": file_identity(target),
            "step": step,
            "model": str(model_dir),
            "options": asdict(convert_config),
        }
    )
    if state.is_done(stage, stage_fingerprint) and output.exists():
        return StageReport(stage, True, 0.0, {"output": str(output)})
    if output.exists() and not config.overwrite and state.stages.get(stage, {}).get("output") != str(output):
        raise OutputExistsError(
            f"{output}: already exists and was not made by this work folder; pass --overwrite"
        )
    convert_config = replace(convert_config, overwrite=True)
    progress(f"convert: {target} -> {output} with the model at step {step}")
    summary = convert_video(target, model_dir, output, convert_config)
    state.mark_done(stage, stage_fingerprint, output=str(output))
    details = {
        "output": str(output),
        "frames": summary.frames,
        "frames_swapped": summary.frames_swapped,
        "fps": summary.fps,
        "provenance": summary.provenance,
    }
    return StageReport(stage, False, round(time.perf_counter() - started, 2), details)


def _compare_stage(
    state: WorkState,
    target: Path,
    result: Path,
    comparison: Path,
    provenance: ProvenanceConfig,
    stage: str = "compare",
) -> StageReport:
    started = time.perf_counter()
    stage_fingerprint = fingerprint({"target": file_identity(target), "result": file_identity(result)})
    if state.is_done(stage, stage_fingerprint) and comparison.exists():
        return StageReport(stage, True, 0.0, {"output": str(comparison)})
    write_comparison(target, result, comparison, provenance)
    state.mark_done(stage, stage_fingerprint, output=str(comparison))
    return StageReport(stage, False, round(time.perf_counter() - started, 2), {"output": str(comparison)})


def write_comparison(target: Path, result: Path, output: Path, provenance: ProvenanceConfig) -> None:
    """A side-by-side video (target | result) with the target's audio, frame by frame; it carries the
    same provenance marks as the result."""
    import numpy as np

    from facetransfer.media import VideoWriter, read_frames

    info = probe(target)
    width, height = info.display_width, info.display_height
    payload = new_payload() if provenance.enabled else None
    marker = Watermarker(2 * width, height, payload, provenance.watermark_strength) if payload else None
    with VideoWriter(
        output,
        width=2 * width,
        height=height,
        fps=info.frame_rate or info.fps,
        time_base=info.time_base,
        audio_from=target if info.has_audio else None,
        crf=20,
        preset="veryfast",
        metadata=container_metadata(payload) if payload else None,
    ) as writer:
        for left, right in zip(read_frames(target), read_frames(result), strict=False):
            # the result of an odd-sized target is one pixel larger (see VideoWriter): cut it back
            frame = np.hstack([left.image, right.image[:height, :width]])
            writer.write(marker.embed(frame) if marker else frame, timestamp_s=left.timestamp_s)
    if payload and can_sign(output):
        sign_file(output, target, provenance, payload=payload)


def run_swap(
    sources: Sequence[str | Path],
    target: str | Path,
    output: str | Path,
    config: SwapConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> SwapReport:
    """Run the whole pipeline; see the module docstring. Raises `FacetransferError` subclasses with
    one-line messages, before any training for problems with the inputs."""
    config = config or SwapConfig()
    say = progress or (lambda message: logger.info("%s", message))
    source_paths, target_path, output_path = [Path(p) for p in sources], Path(target), Path(output)
    workdir = Path(config.workdir) if config.workdir else default_workdir(output_path)
    comparison_path = (
        output_path.with_name(f"{output_path.stem}.compare{output_path.suffix or '.mp4'}")
        if config.compare
        else None
    )
    references = [Path(p) for p in [*config.reference, *config.target_reference]]
    # every check before anything is written: paths, inputs, the output's kind, the signer, the budget
    _check_paths([*source_paths, target_path, *references], output_path, comparison_path, workdir)
    for path in [*source_paths, *references]:
        probe(path)
    output_kind(probe(target_path), output_path)
    check_signer(config.convert.provenance, output_path)
    preset = config.preset or default_preset_name()
    run_config = RunConfig(
        model=config.model or get_preset(preset).model, train=config.train or get_preset(preset).train
    )
    check_name(run_config.model.name)
    resolve_base(run_config.train.base, preset)  # a missing or damaged base fails before any work
    budget = run_config.train
    if budget.iterations is None and budget.minutes is None and budget.total_minutes is None:
        raise ConfigError("training needs a budget: pass --iterations N, --minutes M or --total-minutes M")
    _ensure_workdir(workdir)
    if config.fresh:
        _start_fresh(workdir)
    if config.preset is None:
        say(f"preset: {preset} ({'CUDA is available' if preset.startswith('gpu') else 'no CUDA device'})")
    state = WorkState.load(workdir)
    stages: list[StageReport] = []

    source_config = replace(config.extract, reference=list(config.reference))
    stages.append(
        _extract_stage(state, "extract_source", source_paths, workdir / "source", source_config, say)
    )
    target_config = replace(config.extract, reference=list(config.target_reference))
    stages.append(
        _extract_stage(state, "extract_target", [target_path], workdir / "target", target_config, say)
    )
    source_faces, target_faces = stages[0].details["faces"], stages[1].details["faces"]
    if source_faces < config.min_source_faces:
        names = ", ".join(str(p) for p in source_paths)
        raise NoFaceError(
            f"{names}: only {source_faces} faces of the source person found, at least "
            f"{config.min_source_faces} are needed to learn a face; add more source footage"
        )

    model_dir = workdir / "model"
    stages.append(
        _train_stage(
            state,
            workdir / "source",
            workdir / "target",
            model_dir,
            run_config,
            preset,
            (source_faces, target_faces),
            say,
        )
    )
    stages.append(_convert_stage(state, target_path, workdir / "target", model_dir, output_path, config, say))
    comparison = None
    if comparison_path is not None:
        stages.append(
            _compare_stage(state, target_path, output_path, comparison_path, config.convert.provenance)
        )
        comparison = str(comparison_path)
    previews = model_dir / PREVIEWS_DIR
    report = SwapReport(
        output=str(output_path),
        workdir=str(workdir),
        comparison=comparison,
        previews=str(previews) if previews.is_dir() else None,
        preset=preset,
        stages=stages,
        options=asdict(config),
        versions=_versions(),
    )
    write_json_atomic(workdir / REPORT_NAME, report.to_json())
    return report
