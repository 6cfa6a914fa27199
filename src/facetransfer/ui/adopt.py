"""Taking over a swap started from the command line: its inputs come from its facesets (which
record their sources relative to themselves), its output from its report or the work folder's name,
and its options from `report.json` (every option of a finished run) or, for a run that never
finished, from the model folder's `config.json` (the model and training options). The app then
writes `ui/job.json` and `ui/swap.toml` beside them and runs the swap as for its own."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from facetransfer.errors import FacetransferError
from facetransfer.fsutil import write_text_atomic
from facetransfer.modelfolder.config import CONFIG_NAME as MODEL_CONFIG_NAME
from facetransfer.modelfolder.config import RunConfig
from facetransfer.options import values_of
from facetransfer.presets import get_preset
from facetransfer.safety import read_json_object
from facetransfer.ui import forms
from facetransfer.ui.files import IMAGE_SUFFIXES
from facetransfer.ui.jobs import CONFIG_NAME, JobSpec, job_name_of, read_spec, ui_dir, write_spec

SECTION_PATHS = {
    "swap": (),
    "extract": ("extract",),
    "convert": ("convert",),
    "provenance": ("convert", "provenance"),
    "model": ("model",),
    "train": ("train",),
}
"""Where each section's options are in `report.json`'s `options` (the swap config as a dict)."""


def _faceset_inputs(faceset: Path, what: str) -> list[str]:
    manifest = read_json_object(faceset / "faceset.json")
    if manifest is None or not isinstance(manifest.get("sources"), list) or not manifest["sources"]:
        raise FacetransferError(
            f"{faceset}: no {what} faceset to read the inputs from; continue the swap from the command line"
        )
    paths = []
    for source in manifest["sources"]:
        recorded = Path(str(source.get("path", "")))
        path = recorded if recorded.is_absolute() else (faceset / recorded).resolve()
        if not path.exists():
            raise FacetransferError(
                f"{faceset}: its {what} {recorded} is not there (moved, or recorded without its folder "
                "by --anonymous); continue the swap from the command line"
            )
        paths.append(str(path))
    return paths


def _walk(options: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = options
    for name in path:
        if not isinstance(value, dict) or name not in value:
            raise KeyError(name)
        value = value[name]
    return value


def report_values(options: dict[str, Any], preset: str | None) -> dict[str, Any]:
    """`section.path` values of the options a finished swap recorded that differ from what the app's
    form would give without them (the declared defaults, the preset's for the model and training)."""
    preset_options: dict[str, Any] = {}
    if preset:
        chosen = get_preset(preset)
        preset_options = {"model": asdict(chosen.model), "train": asdict(chosen.train)}
    values: dict[str, Any] = {}
    for field in forms.form_fields():
        for target in field.targets:
            try:
                value = _walk(options, (*SECTION_PATHS[target.section], *target.item.path))
                default = (
                    _walk(preset_options[target.section], target.item.path)
                    if target.section in preset_options
                    else target.item.default
                )
            except KeyError:
                continue
            if value != default:
                values[target.dest] = value
    return values


def adopt(workdir: Path) -> JobSpec:
    """The app's record of a work folder the command line made (written once, then reused)."""
    spec = read_spec(workdir)
    if spec is not None:
        return spec
    sources = _faceset_inputs(workdir / "source", "source")
    targets = _faceset_inputs(workdir / "target", "target")
    report = read_json_object(workdir / "report.json")
    name = job_name_of(workdir)
    target = Path(targets[0])
    if report is not None and isinstance(report.get("options"), dict):
        values = report_values(report["options"], report.get("preset"))
        recorded = Path(str(report.get("output", "")))
        output = recorded if recorded.is_absolute() else workdir.parent / recorded.name
    else:
        payload = read_json_object(workdir / "model" / MODEL_CONFIG_NAME)
        values = {}
        if payload is not None:
            run = RunConfig.from_json(payload)
            values = {**values_of(run.model), **values_of(run.train)}
        suffix = target.suffix.lower() if target.suffix.lower() in IMAGE_SUFFIXES else ".mp4"
        output = workdir.parent / f"{name}{suffix}"
    spec = JobSpec(name=name, sources=sources, target=str(target), output=str(output), created_utc="")
    ui_dir(workdir).mkdir(exist_ok=True)
    write_text_atomic(ui_dir(workdir) / CONFIG_NAME, forms.config_toml(values))
    write_spec(workdir, spec)
    return spec
