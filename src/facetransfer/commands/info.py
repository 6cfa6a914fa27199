"""`facetransfer info [PATH] [--json] [--sheet OUT.png]`: describe a video/image, a faceset or a model
folder; with no PATH, the machine (PyTorch, GPUs, CPU cores). The JSON keys are stable (documented in
docs/CLI.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from facetransfer.commands.configs import positive_int
from facetransfer.errors import FacetransferError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "info", help="describe a video, image, faceset or model folder", description=__doc__
    )
    parser.add_argument(
        "path", metavar="PATH", nargs="?", default=None, help="what to describe (none: this machine)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--sheet", metavar="OUT.png", default=None, help="faceset: write a contact sheet of its faces"
    )
    parser.add_argument(
        "--sheet-max",
        type=positive_int,
        default=64,
        metavar="N",
        help="faces on the contact sheet (default 64)",
    )
    parser.set_defaults(func=run)


def faceset_info(path: Path) -> dict[str, Any]:
    from facetransfer.faceset import open_faceset
    from facetransfer.faceset.masks import painted_faces

    faceset = open_faceset(path)
    manifest = faceset.manifest
    return {
        "kind": "faceset",
        "path": str(path),
        "version": manifest.version,
        "faces": len(faceset),
        "frames": faceset.frames,
        "tracks": len({record.track_id for record in faceset.records}),
        "dropped_missing_crops": faceset.dropped,
        "crop_size": manifest.crop_size,
        "coverage": manifest.coverage,
        "template": manifest.template,
        "detector": manifest.detector,
        "landmarker": manifest.landmarker,
        "sources": [source.get("path") for source in manifest.sources],
        "counts": manifest.counts,
        "masks": {**manifest.masks, "painted": len(painted_faces(faceset))} if manifest.masks else None,
        "tool_version": manifest.tool_version,
        "created_utc": manifest.created_utc,
    }


def masked_view(faceset: Any, record: Any) -> Any:
    """The crop with what its mask leaves out tinted dark red (the mask that training and conversion
    use: painted, stored or computed now), so a user sees which faces to paint."""
    from facetransfer.faceset.masks import face_mask
    from facetransfer.sheet import tint_outside

    crop = faceset.read_crop(record)
    return tint_outside(crop, face_mask(faceset, record, crop))


def write_faceset_sheet(path: Path, out: Path, limit: int) -> int:
    from facetransfer.faceset import open_faceset
    from facetransfer.faceset.masks import painted_faces
    from facetransfer.sheet import contact_sheet, write_png

    faceset = open_faceset(path)
    if not faceset.records:
        raise FacetransferError(f"{path}: the faceset has no faces left to show")
    step = max(1, len(faceset.records) // limit)
    chosen = faceset.records[::step][:limit]
    images = [masked_view(faceset, record) for record in chosen]
    painted = {record.face_id for record in painted_faces(faceset)}
    captions = [
        f"f{record.frame_index} t{record.track_id}{' painted' if record.face_id in painted else ''}"
        for record in chosen
    ]
    write_png(out, contact_sheet(images, columns=8, tile_px=128, captions=captions))
    return len(chosen)


def describe(path: Path) -> dict[str, Any]:
    from facetransfer.faceset.io import MANIFEST_NAME

    if (path / MANIFEST_NAME).is_file():  # a faceset, or a damaged one: opening it says what is wrong
        return faceset_info(path)
    if path.is_dir() and ((path / "config.json").is_file() or (path / "checkpoints").is_dir()):
        from facetransfer.modelfolder.describe import describe_model

        return describe_model(path)
    from facetransfer.media import probe

    return probe(path).to_json()


def run(args: argparse.Namespace) -> int:
    if args.path is None:
        from facetransfer.machine import machine_info

        info = machine_info()
        path = Path(".")
    else:
        path = Path(args.path)
        info = describe(path)
    if args.sheet:
        if info["kind"] != "faceset":
            raise FacetransferError(f"{path}: --sheet needs a faceset folder, this is a {info['kind']}")
        from facetransfer.safety import check_output, is_tool_file

        check_output(args.sheet, [path], overwrite=True, is_ours=is_tool_file, what="contact sheet")
        info["sheet"] = str(args.sheet)
        info["sheet_faces"] = write_faceset_sheet(path, Path(args.sheet), args.sheet_max)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:>22}: {value}")
    return 0
