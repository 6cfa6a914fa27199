"""`facetransfer extract INPUT... -o FACESET_DIR`"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from facetransfer.faces.align import COVERAGES
from facetransfer.faces.detectors import DETECTORS


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "extract",
        help="extract aligned faces of one person into a faceset",
        description="Detect, align and track the faces of one person in videos, images or image folders, "
        "and write them as a faceset folder.",
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="videos, images or image folders of one person"
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="FACESET_DIR", help="faceset folder to create"
    )
    parser.add_argument(
        "--every-n", type=int, default=1, metavar="N", help="use every N-th frame (default 1)"
    )
    parser.add_argument("--start", type=float, default=None, metavar="S", help="start time in seconds")
    parser.add_argument("--end", type=float, default=None, metavar="S", help="end time in seconds")
    parser.add_argument(
        "--size", type=int, default=256, metavar="PX", help="crop size in pixels (default 256)"
    )
    parser.add_argument(
        "--coverage", choices=COVERAGES, default="full", help="how much of the head a crop holds"
    )
    parser.add_argument(
        "--detector", choices=sorted(DETECTORS), default="mediapipe", help="face detector backend"
    )
    parser.add_argument(
        "--reference", nargs="+", default=[], metavar="IMAGE", help="keep only this person's faces"
    )
    parser.add_argument(
        "--all-faces", action="store_true", help="keep every face, not only the main person's"
    )
    parser.add_argument(
        "--identity-threshold", type=float, default=0.6, help="max embedding distance to the reference"
    )
    parser.add_argument(
        "--min-size", type=float, default=24.0, metavar="PX", help="drop faces smaller than this"
    )
    parser.add_argument("--min-score", type=float, default=0.5, help="drop detections scored below this")
    parser.add_argument("--max-blur", type=float, default=1.0, help="drop faces blurrier than this (0-1)")
    parser.add_argument(
        "--redetect-every", type=int, default=5, metavar="N", help="run the detector every N frames"
    )
    parser.add_argument("--jpeg", action="store_true", help="store crops as JPEG instead of PNG")
    parser.add_argument(
        "--debug-dir", default=None, metavar="DIR", help="write frames with boxes and landmarks here"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing faceset at --output")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facetransfer.extract.pipeline import ExtractConfig, extract_faceset

    config = ExtractConfig(
        crop_size=args.size,
        coverage=args.coverage,
        detector=args.detector,
        every_n=args.every_n,
        start_s=args.start,
        end_s=args.end,
        reference=list(args.reference),
        all_faces=args.all_faces,
        identity_threshold=args.identity_threshold,
        min_size=args.min_size,
        min_score=args.min_score,
        max_blur=args.max_blur,
        redetect_every=args.redetect_every,
        image_format="jpg" if args.jpeg else "png",
        debug_dir=args.debug_dir,
        overwrite=args.overwrite,
    )
    bar = tqdm(unit="frame", desc="extract", disable=args.quiet or None, file=sys.stderr)

    def progress(frames: int, faces: int, total: int) -> None:
        bar.total = total
        bar.update(frames - bar.n)
        bar.set_postfix(faces=faces, refresh=False)

    try:
        summary = extract_faceset(args.inputs, args.output, config, progress)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        dropped = ", ".join(
            f"{count} {reason.replace('_', ' ')}" for reason, count in summary.dropped.items()
        )
        print(
            f"{summary.output}: {summary.faces_kept} faces kept from {summary.frames} frames "
            f"({summary.faces_found} found, {summary.tracks} tracks, {summary.identities} people seen"
            f"{'; dropped: ' + dropped if dropped else ''}) in {summary.seconds:.1f} s"
        )
    return 0
