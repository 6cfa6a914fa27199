"""`facetransfer evaluate OUTPUT_VIDEO --source SOURCE... --target TARGET_VIDEO`: measure a swap
(identity, pose and expression kept, flicker, blend seam, faces lost). Keys of `--json` and of the
report's metrics.json are documented in docs/EVALUATE.md."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from facetransfer.faces.detectors import DETECTORS


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
    parser.add_argument(
        "--gallery",
        nargs="+",
        default=[],
        metavar="PATH",
        help="people who are neither source nor target, for identity retrieval: images, folders, or "
        "folders of person folders (default: none; retrieval compares source and target only)",
    )
    parser.add_argument(
        "--max-frames", type=int, default=None, metavar="N", help="evaluate the first N frames"
    )
    parser.add_argument("--every-n", type=int, default=1, metavar="N", help="evaluate every N-th frame")
    parser.add_argument(
        "--no-identity", action="store_true", help="skip the identity metrics (the slowest part)"
    )
    parser.add_argument(
        "--identity-every",
        type=int,
        default=None,
        metavar="N",
        help="embed faces on every N-th evaluated frame (default: every frame, thinned to ~150 frames)",
    )
    parser.add_argument(
        "--source-faces", type=int, default=30, metavar="N", help="source faces averaged (default 30)"
    )
    parser.add_argument(
        "--detector", choices=sorted(DETECTORS), default="mediapipe", help="face detector backend"
    )
    parser.add_argument(
        "--no-gallery-cache", action="store_true", help="do not read or write cached gallery embeddings"
    )
    parser.add_argument("--worst", type=int, default=8, metavar="N", help="worst frames shown per metric")
    parser.set_defaults(func=run)


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
    print(row("flicker excess (warp)", "flicker_warp_excess", ".2f"))
    print(row("flicker excess (MAD)", "flicker_mad_excess", ".2f"))
    print(row("seam colour (dE)", "seam_color", ".2f"))
    print(row("seam gradient excess", "seam_gradient_excess", ".2f"))


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facetransfer.evaluate import EvaluateConfig, evaluate_swap, write_report

    config = EvaluateConfig(
        max_frames=args.max_frames,
        every_n=args.every_n,
        detector=args.detector,
        identity=not args.no_identity,
        identity_every=args.identity_every,
        source_faces=args.source_faces,
        gallery=list(args.gallery),
        gallery_cache=not args.no_gallery_cache,
        worst_frames=args.worst,
    )
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
