"""`facetransfer evaluate OUTPUT_VIDEO --source SOURCE... --target TARGET_VIDEO`: measure a swap
(identity, pose and expression kept, flicker, blend seam, faces lost). Keys of `--json` and of the
report's metrics.json are documented in docs/EVALUATE.md."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from facetransfer.commands.configs import add_config_flags, add_stage_flags, print_config, resolve_configs
from facetransfer.evaluate.config import EvaluateConfig

STAGES = {"evaluate": EvaluateConfig}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "evaluate",
        help="measure a swap: identity, pose, expression, flicker, seam",
        description="Compare a swapped video with the source person and with the original target, frame "
        "by frame, on the target's main face; print a summary and optionally write a report folder "
        "(metrics.json, a plot over time, a sheet of the worst frames).",
    )
    parser.add_argument("output", metavar="OUTPUT_VIDEO", help="the swapped video to measure")
    parser.add_argument(
        "--source",
        nargs="+",
        default=[],
        metavar="SOURCE",
        help="videos, images, image folders or facesets of the source person",
    )
    parser.add_argument(
        "--target", required=True, metavar="TARGET_VIDEO", help="the original target video of the output"
    )
    parser.add_argument("--json", action="store_true", help="print the whole metrics.json payload")
    parser.add_argument("--report", default=None, metavar="DIR", help="write metrics.json and the PNGs here")
    add_config_flags(parser)
    add_stage_flags(parser, STAGES)
    parser.set_defaults(func=run, parser=parser)


def _format(value: float | None, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def print_summary(payload: dict[str, Any]) -> None:
    """A short human-readable summary of a metrics.json payload."""
    summary = payload["summary"]
    faces = payload["faces"]
    retrieval = payload["retrieval"]

    def row(label: str, key: str, spec: str) -> str:
        stats = summary[key]
        return (
            f"{label:>28}: mean {_format(stats['mean'], spec)}  median {_format(stats['median'], spec)}  "
            f"p90 {_format(stats['p90'], spec)}  (n={stats['count']})"
        )

    print(f"{payload['output']} vs target {payload['target']}: {faces['frames_evaluated']} frames")
    print(
        f"{'faces':>28}: {faces['target_faces']} in the target, "
        f"{faces['output_missing']} not found in the output"
    )
    if retrieval["faces"]:
        print(
            f"{'identity retrieval':>28}: source {_format(retrieval['source'], '.1%')}  "
            f"target {_format(retrieval['target'], '.1%')}  gallery {_format(retrieval['gallery'], '.1%')}"
            f"  ({retrieval['faces']} faces against {retrieval['compared_with']})"
        )
        print(row("identity distance to source", "identity_to_source", ".3f"))
        print(row("identity distance to target", "identity_to_target", ".3f"))
    print(row("pose error (deg)", "pose_error_deg", ".2f"))
    print(row("expression error", "expression_error", ".4f"))
    print(row("detail kept (1 = target's)", "detail_ratio", ".2f"))
    print(row("flicker excess (warp)", "flicker_warp_excess", ".2f"))
    print(row("flicker excess (MAD)", "flicker_mad_excess", ".2f"))
    print(row("seam colour (dE)", "seam_color", ".2f"))
    print(row("lower forehead (dE)", "forehead_color", ".2f"))
    print(row("seam gradient excess", "seam_gradient_excess", ".2f"))


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facetransfer.evaluate import evaluate_swap, write_report
    from facetransfer.evaluate.report import check_report_folder

    config = resolve_configs(args, args.parser, STAGES)["evaluate"]
    if args.print_config:
        return print_config({"evaluate": config})
    if args.report:
        inputs = [args.output, *args.source, args.target, *config.gallery]
        check_report_folder(args.report, inputs)
    bar = tqdm(unit="frame", desc="evaluate", disable=args.quiet or None, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        evaluation = evaluate_swap(args.output, args.source, args.target, config, progress)
    finally:
        bar.close()
    payload = evaluation.to_json()
    if args.report:
        payload["report"] = write_report(evaluation, args.report)
    if args.json:
        print(json.dumps(payload, indent=2))
    else:
        print_summary(payload)
        if args.report:
            print(f"{'report':>28}: {args.report}")
    return 0
