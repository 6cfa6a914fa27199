"""`facetransfer convert TARGET -m MODEL_DIR -o OUTPUT [--faceset TARGET_FACESET] [options]`"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from facetransfer.commands.provenance_flags import add_provenance_arguments, config_from_args
from facetransfer.convert.blend import BLEND_MODES, MASK_KINDS
from facetransfer.convert.color import COLOR_MODES, DEFAULT_COLOR_MODE
from facetransfer.faces.detectors import DETECTORS


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "convert",
        help="swap the faces of a target video with a trained model",
        description="Render every face of the target person through the model's source decoder, blend it "
        "back into the frames and write the video with its original sound (or an image / image folder).",
    )
    parser.add_argument("target", metavar="TARGET", help="target video, image or image folder")
    parser.add_argument("-m", "--model", required=True, metavar="MODEL_DIR", help="model folder from `train`")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTPUT",
        help="output video (.mp4/.mkv/.mov), image or folder",
    )
    faces = parser.add_argument_group("faces")
    faces.add_argument(
        "--faceset",
        default=None,
        metavar="DIR",
        help="the target's faceset (its landmarks and tracks); default: extract now",
    )
    faces.add_argument(
        "--all-faces", action="store_true", help="swap every face, not only the target person's"
    )
    faces.add_argument(
        "--detector",
        choices=sorted(DETECTORS),
        default="mediapipe",
        help="detector for extraction on the fly",
    )
    faces.add_argument(
        "--smooth",
        type=float,
        default=0.5,
        metavar="0..1",
        help="temporal smoothing of landmarks; 0 = off (default 0.5)",
    )
    look = parser.add_argument_group("look")
    look.add_argument(
        "--mask", choices=MASK_KINDS, default="hull*learned", help="blend mask (default hull*learned)"
    )
    look.add_argument(
        "--erode",
        type=int,
        default=None,
        metavar="PX",
        help="shrink the mask by PX output pixels (negative grows); default 3%% of the face",
    )
    look.add_argument(
        "--blur",
        type=int,
        default=None,
        metavar="PX",
        help="feather the mask edge over PX output pixels; default 10%% of the face",
    )
    look.add_argument(
        "--color",
        choices=COLOR_MODES,
        default=DEFAULT_COLOR_MODE,
        help=f"colour transfer inside the mask (default {DEFAULT_COLOR_MODE})",
    )
    look.add_argument(
        "--blend", choices=BLEND_MODES, default="alpha", help="alpha (default) or poisson (seamless clone)"
    )
    look.add_argument(
        "--face-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="scale the swapped face about its centre (0.5..2)",
    )
    look.add_argument(
        "--sharpen",
        type=float,
        default=0.0,
        metavar="AMOUNT",
        help="unsharp-mask amount for the face (0 = off)",
    )
    run_group = parser.add_argument_group("run")
    run_group.add_argument(
        "--batch-size", type=int, default=16, metavar="N", help="faces per model call (default 16)"
    )
    run_group.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1 ...")
    run_group.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads for the model (default: half the cores)",
    )
    run_group.add_argument(
        "--precision",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="model arithmetic; auto: bfloat16 on CUDA and on CPUs with native bf16, else float32",
    )
    run_group.add_argument(
        "--checkpoint", default="latest", help="latest (default), best, or a checkpoint folder name"
    )
    out = parser.add_argument_group("output")
    out.add_argument("--codec", choices=("h264", "h265"), default="h264", help="video codec (default h264)")
    out.add_argument(
        "--crf", type=int, default=18, help="constant rate factor, 0-51 (default 18, visually lossless)"
    )
    out.add_argument("--preset", default="medium", help="x264/x265 speed preset (default medium)")
    out.add_argument(
        "--frames-dir", default=None, metavar="DIR", help="also write every output frame as PNG here"
    )
    out.add_argument(
        "--mask-video",
        default=None,
        metavar="PATH",
        help="also write the blend mask as a video (for compositing)",
    )
    out.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    out.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_provenance_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facetransfer.convert.pipeline import ConvertConfig, convert_video
    from facetransfer.extract import extract_for_model

    config = ConvertConfig(
        faceset=args.faceset,
        all_faces=args.all_faces,
        mask=args.mask,
        erode_px=args.erode,
        blur_px=args.blur,
        color=args.color,
        blend=args.blend,
        face_scale=args.face_scale,
        sharpen=args.sharpen,
        smooth=args.smooth,
        batch_size=args.batch_size,
        device=args.device,
        precision=args.precision,
        model_threads=args.threads,
        checkpoint=args.checkpoint,
        codec=args.codec,
        crf=args.crf,
        preset=args.preset,
        frames_dir=args.frames_dir,
        mask_video=args.mask_video,
        detector=args.detector,
        overwrite=args.overwrite,
        provenance=config_from_args(args),
    )
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:  # created on the first frame, so extraction on the fly has its own line
            bar = tqdm(
                total=total or None, unit="frame", desc="convert", disable=args.quiet or None, file=sys.stderr
            )
        bar.update(done - bar.n)

    try:
        summary = convert_video(
            args.target, args.model, args.output, config, progress, extract_target=extract_for_model
        )
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        print(
            f"{summary.output}: {summary.frames} frames, {summary.faces_swapped} faces swapped in "
            f"{summary.frames_swapped} frames ({summary.faces_from}) in {summary.seconds:.1f} s, "
            f"{summary.fps:.1f} frames/s"
        )
    return 0
