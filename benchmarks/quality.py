"""Swap quality on fixed pairs with a fixed protocol.

For each pair (two GRID pairs, and the real-world pair: the six CREMA-D clips into
`video/real/outdoor_young_man.mp4`), each preset and each base (`--bases none auto PATH`: from
scratch, from the preset's shipped base, from a base folder or file): extract both facesets once,
train a new model to each of the step counts (`--steps 500 1700`: the same model goes on from one to
the next), convert the target at each, and evaluate the result (`facetransfer.evaluate`). The
stages run through the command line (`python -m facetransfer ...`), the most stable interface;
evaluation runs in this process. Prints one table row per pair, start and step count and appends
the table, with the date, preset, budget and machine, to docs/BENCHMARKS.md (`--record`). The
DeepFaceLab paper's FaceForensics++ numbers are printed beside it for context; docs/EVALUATE.md
says how the definitions differ.

Usage: python benchmarks/quality.py [--presets tiny cpu] [--steps N ...] [--bases none auto ...]
    [--masks skin hull] [--recipes default sharpen ...] [--pairs bbaf2n:lbbc2a cremad:real]
    [--data ../shared/data] [--work DIR [--resume]]
    [--json OUT.json] [--record docs/BENCHMARKS.md | --no-record]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PAIRS: tuple[tuple[str, str], ...] = (("bbaf2n", "lbbc2a"), ("sbwe5n", "lbax4n"), ("cremad", "real"))
"""GRID clip names; `cremad` is the six CREMA-D clips as one source, `real` the outdoor clip."""
# Training budget (iterations of a new model) per preset: the fixed part of the protocol.
BUDGETS: dict[str, int] = {"tiny": 500, "cpu": 3000, "gpu128": 20000, "gpu256": 40000}
# DeepFaceLab paper (Perov et al. 2020, arXiv:2005.05535), FaceForensics++ table.
# Training recipes to compare (`--recipes`): extra `train` options of a new model.
RECIPES: dict[str, list[str]] = {
    "default": [],
    "sharpen": ["--sharpen-fraction", "0.25"],
    "balance-yaw": ["--balance-yaw"],
    "lr-dropout": ["--lr-dropout", "0.3"],
    "eyes-mouth": ["--eyes-mouth-weight", "300"],
    "gan": ["--gan-weight", "0.1"],
}
REFERENCE: dict[str, dict[str, float]] = {
    "DeepFaceLab": {"ssim": 0.73, "perceptual": 0.39, "verification": 0.61, "landmarks": 0.73, "pose": 1.12},
    "DeepFakes": {"ssim": 0.71, "perceptual": 0.41, "verification": 0.69, "landmarks": 1.15, "pose": 4.75},
}


@dataclass
class PairResult:
    """One row of the table."""

    source: str
    target: str
    preset: str
    base: str
    mask: str
    recipe: str
    iterations: int
    model: str
    parameters: int
    extract_s: float
    train_s: float
    convert_s: float
    evaluate_s: float
    frames: int
    source_retrieval: float | None
    target_retrieval: float | None
    identity_to_source: float | None
    identity_to_target: float | None
    pose_error_deg: float | None
    expression_error: float | None
    detail_ratio: float | None
    shimmer_ratio: float | None
    flicker_excess: float | None
    seam_color: float | None
    forehead_color: float | None
    faces_missing: int
    report: str


def run_cli(arguments: list[str], log: Path) -> float:
    """Run `python -m facetransfer ARGUMENTS`, output to `log`; seconds taken. Raises SystemExit with
    the log's tail when the command fails."""
    started = time.perf_counter()
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"$ facetransfer {' '.join(arguments)}\n")
        handle.flush()
        result = subprocess.run(
            [sys.executable, "-m", "facetransfer", "-q", *arguments],
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            check=False,
        )
    if result.returncode != 0:
        tail = "".join(log.read_text(encoding="utf-8").splitlines(keepends=True)[-20:])
        raise SystemExit(f"facetransfer {arguments[0]} failed (exit {result.returncode}); log {log}:\n{tail}")
    return time.perf_counter() - started


def _model_info(model: Path) -> dict[str, Any]:
    """`describe_model` of a model folder ({} when there is none yet)."""
    if not (model / "config.json").is_file():
        return {}
    from facetransfer.train import describe_model

    return describe_model(model)


def _mean(summary: dict[str, Any], key: str) -> float | None:
    value = summary[key]["mean"]
    return None if value is None else float(value)


def clips(data: Path, name: str) -> list[Path]:
    """The video(s) a pair names: a GRID clip, `cremad` (six clips of one man) or `real`."""
    if name == "cremad":
        return sorted((data / "video" / "cremad").glob("1001_DFA_*.flv"))
    if name == "real":
        return [data / "video" / "real" / "outdoor_young_man.mp4"]
    return [data / "video" / "grid" / f"{name}.mpg"]


def base_tag(base: str) -> str:
    return {"none": "scratch", "auto": "shipped"}.get(base, Path(base).stem)


def run_pair(
    data: Path,
    source: str,
    target: str,
    preset: str,
    base: str,
    steps: list[int],
    work: Path,
    device: str,
    resume: bool = False,
    threads: int = 0,
    mask: str = "skin",
    recipe: str = "default",
) -> list[PairResult]:
    """Extract, train, convert and evaluate one pair in `work/<source>_to_<target>/`, one model per
    preset, base, face mask (`mask`: training's `--face-mask`, conversion's `--mask MASK*learned`)
    and recipe (`RECIPES`), evaluated at each of `steps`. With `resume`, facesets, models and swaps
    already there are reused (times of skipped stages are 0)."""
    folder = work / f"{source}_to_{target}"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "log.txt"
    source_videos, target_video = clips(data, source), clips(data, target)[0]
    extract_s = 0.0
    for videos, faceset in ((source_videos, folder / "source"), ([target_video], folder / "target")):
        if not (faceset / "faceset.json").is_file():
            extract_s += run_cli(["extract", *map(str, videos), "-o", str(faceset), "--overwrite"], log)
    tag = f"{preset}_{base_tag(base)}_{mask}" + ("" if recipe == "default" else f"_{recipe}")
    model = folder / f"model_{tag}"
    rows = []
    for iterations in sorted(steps):
        trained = _model_info(model)
        if int(trained.get("step", 0)) < iterations:
            train_args = ["train", str(folder / "source"), str(folder / "target"), "-o", str(model)]
            if not trained:  # a new model; an existing one keeps its own architecture
                train_args += ["--preset", preset, "--base", base, "--face-mask", mask, *RECIPES[recipe]]
            train_args += ["--iterations", str(iterations), "--seed", "0", "--device", device]
            train_args += ["--save-every-steps", str(iterations), "--threads", str(threads)]
            run_cli(train_args, log)
            trained = _model_info(model)
        swap = folder / f"swap_{tag}_{iterations}.mp4"
        convert_s = 0.0
        if not (resume and swap.is_file()):
            convert_args = ["convert", str(target_video), "-m", str(model), "-o", str(swap)]
            convert_args += ["--faceset", str(folder / "target"), "--overwrite", "--device", device]
            convert_args += ["--mask", f"{mask}*learned"]
            convert_s = run_cli(convert_args, log)
        rows.append(
            _evaluated(
                data,
                source_videos,
                target_video,
                swap,
                trained,
                extract_s,
                convert_s,
                preset,
                base,
                mask,
                recipe,
                iterations,
            )
        )
        extract_s = 0.0
    return rows


def _evaluated(
    data: Path,
    source_videos: list[Path],
    target_video: Path,
    swap: Path,
    trained: dict[str, Any],
    extract_s: float,
    convert_s: float,
    preset: str,
    base: str,
    mask: str,
    recipe: str,
    iterations: int,
) -> PairResult:
    from facetransfer.evaluate import EvaluateConfig, evaluate_swap, write_report

    started = time.perf_counter()
    gallery = [str(data / "identity" / "johns")]  # the five people of the table's note
    evaluation = evaluate_swap(swap, source_videos, target_video, EvaluateConfig(gallery=gallery))
    report = swap.with_suffix(".report")
    write_report(evaluation, report)
    evaluate_s = time.perf_counter() - started
    summary = evaluation.summary()
    retrieval = evaluation.retrieval()
    shimmer_output, shimmer_target = (
        _mean(summary, "flicker_warp_output"),
        _mean(summary, "flicker_warp_target"),
    )
    return PairResult(
        source=source_videos[0].stem if len(source_videos) == 1 else source_videos[0].parent.name,
        target=target_video.stem,
        preset=preset,
        base=base_tag(base),
        mask=mask,
        recipe=recipe,
        iterations=iterations,
        model=f"{trained.get('model')} {trained.get('resolution')} px",
        parameters=int(trained.get("parameters") or 0),
        extract_s=round(extract_s, 1),
        train_s=round(float(trained.get("elapsed_s") or 0.0), 1),  # over all runs of the model
        convert_s=round(convert_s, 1),
        evaluate_s=round(evaluate_s, 1),
        frames=len(evaluation.frames),
        source_retrieval=retrieval["source"],
        target_retrieval=retrieval["target"],
        identity_to_source=_mean(summary, "identity_to_source"),
        identity_to_target=_mean(summary, "identity_to_target"),
        pose_error_deg=_mean(summary, "pose_error_deg"),
        expression_error=_mean(summary, "expression_error"),
        detail_ratio=_mean(summary, "detail_ratio"),
        shimmer_ratio=(
            shimmer_output / shimmer_target if shimmer_output is not None and shimmer_target else None
        ),
        flicker_excess=_mean(summary, "flicker_warp_excess"),
        seam_color=_mean(summary, "seam_color"),
        forehead_color=_mean(summary, "forehead_color"),
        faces_missing=int(evaluation.faces()["output_missing"]),
        report=str(report),
    )


def machine() -> str:
    """CPU model and core count, and the GPU's name when CUDA is there."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    described = f"{cpu}, {os.cpu_count()} cores"
    try:
        import torch

        if torch.cuda.is_available():
            described += f", {torch.cuda.get_device_name(0)}"
        else:
            described += ", no GPU"
    except ImportError:
        pass
    return described


def _cell(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


HEADER = (
    "| pair | preset | start | mask | recipe | model | steps | train s | source retrieval "
    "| id dist to source | id dist to target | pose err deg | expression err | detail kept "
    "| shimmer / target's | flicker excess | seam dE | forehead dE | faces missing |"
)
RULE = "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"


def table_row(row: PairResult) -> str:
    return (
        f"| {row.source} -> {row.target} | {row.preset} | {row.base} | {row.mask} | {row.recipe} "
        f"| {row.model}, {row.parameters / 1e6:.2f} M "
        f"| {row.iterations} | {row.train_s:.0f} "
        f"| {_cell(row.source_retrieval, '.0%')} | {_cell(row.identity_to_source, '.3f')} "
        f"| {_cell(row.identity_to_target, '.3f')} | {_cell(row.pose_error_deg, '.2f')} "
        f"| {_cell(row.expression_error, '.4f')} | {_cell(row.detail_ratio, '.2f')} "
        f"| {_cell(row.shimmer_ratio, '.2f')} | {_cell(row.flicker_excess, '.2f')} "
        f"| {_cell(row.seam_color, '.2f')} | {_cell(row.forehead_color, '.1f')} "
        f"| {row.faces_missing}/{row.frames} |"
    )


def reference_table() -> list[str]:
    lines = [
        "| DeepFaceLab paper, FaceForensics++ | SSIM | perceptual loss | verification | landmarks | pose |",
        "|---|---|---|---|---|---|",
    ]
    for method, values in REFERENCE.items():
        cells = " | ".join(
            str(values[key]) for key in ("ssim", "perceptual", "verification", "landmarks", "pose")
        )
        lines.append(f"| {method} | {cells} |")
    return lines


def markdown_block(rows: list[PairResult], when: str, described_machine: str) -> str:
    budgets = ", ".join(sorted({f"{row.preset} {row.iterations} steps" for row in rows}))
    lines = [
        f"### Swap quality, {when} (`benchmarks/quality.py`)",
        "",
        f"Machine: {described_machine}. Budget: {budgets}, a new model per pair and start (scratch: "
        "`--base none`; shipped: the preset's shipped base), seed 0; default "
        "extract, convert and evaluate options; all 75 frames evaluated. Metric definitions: "
        "[EVALUATE.md](EVALUATE.md) (means over frames; retrieval against the target and the five "
        "`identity/johns`).",
        "",
        HEADER,
        RULE,
        *(table_row(row) for row in rows),
        "",
        "Beside it, for context only (different data and different definitions, see "
        "[EVALUATE.md](EVALUATE.md#against-the-deepfacelab-paper)):",
        "",
        *reference_table(),
        "",
    ]
    return "\n".join(lines)


def record(path: Path, block: str) -> None:
    """Append `block` to the benchmarks document (created with a title when missing)."""
    existing = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    if not existing.endswith("\n"):
        existing += "\n"
    text = existing + "\n" + block
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--presets", nargs="+", default=["tiny"], choices=sorted(BUDGETS))
    parser.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=None,
        help="evaluate at these steps (default: the preset's budget)",
    )
    parser.add_argument(
        "--bases", nargs="+", default=["none"], help="none (from scratch), auto (the shipped base), or paths"
    )
    parser.add_argument(
        "--masks", nargs="+", default=["skin"], choices=["skin", "hull"], help="face masks to compare"
    )
    parser.add_argument(
        "--recipes", nargs="+", default=["default"], choices=sorted(RECIPES), help="recipes to compare"
    )
    parser.add_argument(
        "--pairs",
        nargs="+",
        default=None,
        metavar="SRC:TGT",
        help="GRID clip names, cremad or real (default: the fixed three)",
    )
    parser.add_argument("--work", type=Path, default=None, help="keep the facesets, models and reports here")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="training threads (0: one per core)")
    parser.add_argument(
        "--resume", action="store_true", help="reuse facesets, models and swaps already in --work"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    parser.add_argument("--record", type=Path, default=REPO / "docs" / "BENCHMARKS.md")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()

    pairs = [tuple(pair.split(":", 1)) for pair in args.pairs] if args.pairs else list(PAIRS)
    work = args.work or Path(tempfile.mkdtemp(prefix="facetransfer_quality_"))
    described_machine = machine()
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    print(f"work folder {work}; {described_machine}", file=sys.stderr)
    print(HEADER)
    print(RULE)
    rows: list[PairResult] = []
    for preset in args.presets:
        steps = args.steps or [BUDGETS[preset]]
        for source, target in pairs:
            for base in args.bases:
                for mask, recipe in itertools.product(args.masks, args.recipes):
                    for row in run_pair(
                        args.data,
                        source,
                        target,
                        preset,
                        base,
                        steps,
                        work,
                        args.device,
                        args.resume,
                        args.threads,
                        mask,
                        recipe,
                    ):
                        rows.append(row)
                        print(table_row(row), flush=True)
    print()
    print("\n".join(reference_table()))
    if args.json:
        payload = {"date": when, "machine": described_machine, "rows": [asdict(row) for row in rows]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if not args.no_record:
        record(args.record, markdown_block(rows, when, described_machine))
        print(f"recorded in {args.record}", file=sys.stderr)


if __name__ == "__main__":
    main()
