"""`swap --targets`: one source, several target shots, one model for them all.

Each target's person is extracted on its own (`targets/<n>-<name>/`), their facesets are pooled into
the target side (`target/`, `faceset.pool.pool_facesets`), one model is trained on the source and
the pool, and every target is converted into the OUTPUT folder (one output each, named as
`convert` names them). Every stage is remembered in `stages.json` as in a single swap, so a rerun
skips what is done. A target that cannot be read or holds no face is reported and left out; the
others go on, and `SwapManyReport.failed` says which failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from facetransfer.convert.batch import output_paths
from facetransfer.convert.outputs import check_signer, output_kind
from facetransfer.errors import ConfigError, FacetransferError, NoFaceError, OutputExistsError
from facetransfer.faceset.io import is_faceset
from facetransfer.faceset.pool import pool_facesets
from facetransfer.fsutil import write_json_atomic
from facetransfer.media import probe
from facetransfer.modelfolder.config import PREVIEWS_DIR, RunConfig
from facetransfer.models.registry import check_name
from facetransfer.presets import get_preset
from facetransfer.safety import check_not_input, check_output, is_tool_file
from facetransfer.swap.config import SwapConfig
from facetransfer.swap.pipeline import (
    StageReport,
    _compare_stage,
    _convert_stage,
    _ensure_workdir,
    _extract_stage,
    _start_fresh,
    _train_stage,
    _versions,
    check_work_folder,
    default_workdir,
)
from facetransfer.swap.state import (
    REPORT_NAME,
    WorkState,
    fingerprint,
)
from facetransfer.train.loop import default_preset_name

TARGETS_DIR = "targets"


@dataclass
class SwapManyReport:
    """What `run_swap_targets` did: `outputs` maps each target to its output; `failed` each target
    left out to its one-line error."""

    output: str
    workdir: str
    outputs: dict[str, str]
    failed: dict[str, str]
    comparisons: list[str]
    previews: str | None
    preset: str
    stages: list[StageReport]
    options: dict[str, Any]
    versions: dict[str, str]
    targets: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def target_folder_names(targets: Sequence[Path]) -> list[str]:
    """The work folder's name for each target's faceset: `<n>-<file name>` (distinct, readable)."""
    return [f"{number:02d}-{target.name}" for number, target in enumerate(targets)]


def _comparison_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.compare{output.suffix or '.mp4'}")


def _check_paths(
    inputs: Sequence[Path], output_dir: Path, outputs: Sequence[Path], workdir: Path, names: Sequence[str]
) -> None:
    """Before any work: nothing the swap writes is, holds or lies inside an input, and what is
    already there is this tool's own (see `facetransfer.safety`)."""
    check_not_input(output_dir, inputs, "output folder")
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputExistsError(f"{output_dir}: a file is there; with --targets OUTPUT is a folder")
    for output in outputs:
        check_output(output, inputs, overwrite=True, is_ours=is_tool_file, what="output video")
    targets = [(f"{TARGETS_DIR}/{name}", is_faceset, "target faceset") for name in names]
    check_work_folder(workdir, [*inputs, output_dir], "pooled target faceset", targets)


def _pool_stage(state: WorkState, facesets: Sequence[Path], pooled: Path) -> StageReport:
    started = time.perf_counter()
    stage_fingerprint = fingerprint(
        {"facesets": [state.stages.get(f"extract_target:{p.name}") for p in facesets]}
    )
    if state.is_done("pool_targets", stage_fingerprint) and is_faceset(pooled):
        return StageReport("pool_targets", True, 0.0, state.stages["pool_targets"].get("details", {}))
    faceset = pool_facesets(facesets, pooled, overwrite=True)
    details = {"faces": len(faceset), "facesets": len(facesets), "faceset": str(pooled)}
    state.mark_done("pool_targets", stage_fingerprint, details=details)
    return StageReport("pool_targets", False, round(time.perf_counter() - started, 2), details)


def run_swap_targets(
    sources: Sequence[str | Path],
    targets: Sequence[str | Path],
    output_dir: str | Path,
    config: SwapConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> SwapManyReport:
    """Swap the source person into every target (see the module docstring). Raises
    `FacetransferError` subclasses with one-line messages for what concerns every target (paths,
    options, the source, the budget); a single target's failure is in `SwapManyReport.failed`, and
    an error is raised only when every target failed."""
    config = config or SwapConfig()
    say = progress or (lambda message: None)
    source_paths, target_paths, folder = (
        [Path(p) for p in sources],
        [Path(p) for p in targets],
        Path(output_dir),
    )
    if not target_paths:
        raise ConfigError("--targets names no target; pass one or more target videos")
    workdir = Path(config.workdir) if config.workdir else default_workdir(folder)
    outputs = output_paths(target_paths, folder)
    names = target_folder_names(target_paths)
    references = [Path(p) for p in [*config.reference, *config.target_reference]]
    _check_paths([*source_paths, *target_paths, *references], folder, outputs, workdir, names)
    for path in [*source_paths, *references]:
        probe(path)
    failed: dict[str, str] = {}
    usable: list[int] = []
    for number, (target, output) in enumerate(zip(target_paths, outputs, strict=True)):
        try:
            output_kind(probe(target), output)
            usable.append(number)
        except FacetransferError as error:
            failed[str(target)] = str(error)
            say(f"left out: {error}")
    for number in usable:
        check_signer(config.convert.provenance, outputs[number])
    preset = config.preset or default_preset_name()
    run_config = RunConfig(
        model=config.model or get_preset(preset).model, train=config.train or get_preset(preset).train
    )
    check_name(run_config.model.name)
    budget = run_config.train
    if budget.iterations is None and budget.minutes is None and budget.total_minutes is None:
        raise ConfigError("training needs a budget: pass --iterations N, --minutes M or --total-minutes M")
    _ensure_workdir(workdir)
    if config.fresh:
        _start_fresh(workdir)  # the per-target facesets are remade: their fingerprints are forgotten
    state = WorkState.load(workdir)
    stages: list[StageReport] = []

    source_config = replace(config.extract, reference=list(config.reference))
    source_stage = _extract_stage(
        state, "extract_source", source_paths, workdir / "source", source_config, say
    )
    stages.append(source_stage)
    source_faces = source_stage.details["faces"]
    if source_faces < config.min_source_faces:
        raise NoFaceError(
            f"{', '.join(str(p) for p in source_paths)}: only {source_faces} faces of the source person "
            f"found, at least {config.min_source_faces} are needed to learn a face; add more source footage"
        )
    target_config = replace(config.extract, reference=list(config.target_reference))
    extracted: list[int] = []
    for number in usable:
        faceset = workdir / TARGETS_DIR / names[number]
        try:
            stage = _extract_stage(
                state, f"extract_target:{names[number]}", [target_paths[number]], faceset, target_config, say
            )
        except FacetransferError as error:
            failed[str(target_paths[number])] = str(error)
            say(f"left out: {error}")
            continue
        stages.append(stage)
        extracted.append(number)
    if not extracted:
        raise NoFaceError(
            f"{', '.join(str(p) for p in target_paths)}: no target could be used; see the errors above"
        )
    facesets = [workdir / TARGETS_DIR / names[number] for number in extracted]
    pool = _pool_stage(state, facesets, workdir / "target")
    stages.append(pool)

    model_dir = workdir / "model"
    stages.append(
        _train_stage(
            state,
            workdir / "source",
            workdir / "target",
            model_dir,
            run_config,
            preset,
            (source_faces, pool.details["faces"]),
            say,
        )
    )
    converted: dict[str, str] = {}
    comparisons: list[str] = []
    for number in extracted:
        target, output = target_paths[number], outputs[number]
        try:
            stages.append(
                _convert_stage(
                    state,
                    target,
                    facesets[extracted.index(number)],
                    model_dir,
                    output,
                    config,
                    say,
                    stage=f"convert:{names[number]}",
                )
            )
            if config.compare:
                comparison = _comparison_path(output)
                stages.append(
                    _compare_stage(
                        state,
                        target,
                        output,
                        comparison,
                        config.convert.provenance,
                        stage=f"compare:{names[number]}",
                    )
                )
                comparisons.append(str(comparison))
        except FacetransferError as error:
            failed[str(target)] = str(error)
            say(f"left out: {error}")
            continue
        converted[str(target)] = str(output)
    previews = model_dir / PREVIEWS_DIR
    report = SwapManyReport(
        output=str(folder),
        workdir=str(workdir),
        outputs=converted,
        failed=failed,
        comparisons=comparisons,
        previews=str(previews) if previews.is_dir() else None,
        preset=preset,
        stages=stages,
        options=asdict(config),
        versions=_versions(),
        targets=[str(target) for target in target_paths],
    )
    write_json_atomic(workdir / REPORT_NAME, report.to_json())
    return report
