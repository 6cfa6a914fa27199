"""`facetransfer export MODEL_DIR -o OUT.onnx [--format onnx|dfm] [--precision fp32|fp16]`"""

from __future__ import annotations

import argparse
import json
from typing import Any

from facetransfer.commands.configs import add_config_flags, add_stage_flags, print_config, resolve_configs
from facetransfer.export.config import ExportConfig

STAGES = {"export": ExportConfig}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "export",
        help="export a trained model as ONNX or as a DFM file for DeepFaceLive / FaceFusion",
        description="Write the model's swap path (target face in, source face and mask out) as an ONNX "
        "graph with its crop layout in the metadata, or in DeepFaceLab's DFM layout; the export is "
        "checked against PyTorch with onnxruntime before it is kept. See docs/LIVE.md.",
    )
    parser.add_argument("model", metavar="MODEL_DIR", help="model folder from `train`")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output file (.onnx, or .dfm with --format dfm)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_config_flags(parser)
    add_stage_flags(parser, STAGES)
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    from facetransfer.export import export_model

    config = resolve_configs(args, args.parser, STAGES)["export"]
    if args.print_config:
        return print_config({"export": config})
    summary = export_model(args.model, args.output, config)
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        worst = max(summary.max_abs_difference.values())
        print(
            f"{summary.output}: {summary.format} ({summary.precision}, opset {summary.opset}), "
            f"{summary.architecture} at {summary.resolution} px, coverage {summary.coverage}, step "
            f"{summary.step}, {summary.size_bytes / 1e6:.1f} MB; largest difference from PyTorch "
            f"{worst:.1e} (tolerance {summary.tolerance:g})"
        )
    return 0
