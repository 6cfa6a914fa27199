"""Face masks: accuracy against hand-traced masks, cost per face and in extraction, contact sheets.

1. Accuracy: on the hand-labelled set (`benchmarks/mask_labels.json`, read by `mask_set.py`: faces
   of the shared media, each with a traced face outline and traced occluders), the IoU of the
   automatic masks (`hull`, `skin`) against the truth, overall and per tag (fringe, glasses, hand,
   beard, dark skin, profile, ...), and with `--fit` the IoU of a mask model fitted on some of the
   labels (as a user's painted masks, with the skin masks of the rest) on the other labels.
2. Cost: milliseconds per face of each method at the faceset's 256 px crops; and `extract` of a GRID
   clip with and without stored masks, the share the masks add (best of `--repeats` runs each).
3. Sheets (`--sheets DIR`): crop | hull | skin mask | truth for the labelled faces (local only: most
   of those images may not be redistributed), and crop | hull | skin for GRID clips and for GRID
   faces with painted occluders (a fringe, a hand-coloured block, a microphone), which the docs show.

With `--model DIR`, also `convert` of a GRID clip with `hull*learned` and `skin*learned` masks, with
the target's faceset (stored masks) and without (masks computed from each crop).

Usage: python benchmarks/masks.py [--data ../shared/data] [--sheets DIR] [--fit] [--model DIR]
    [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from facetransfer.faces import landmarks as lm
from facetransfer.faces.maskmethods import MASK_METHODS, automatic_mask
from facetransfer.faceset import open_faceset
from facetransfer.sheet import contact_sheet, tint_outside, write_png
from mask_set import LabelledFace, load_label_set

REPO = Path(__file__).resolve().parents[1]
GRID_SHEET_CLIPS = ("lbax4n", "sbwe5n", "brbk7n", "lrwp9a", "bbaf2n", "lbbc2a")


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of a float mask (at 0.5) and a bool truth; 1 when both are empty."""
    predicted = mask >= 0.5
    union = int((predicted | truth).sum())
    return 1.0 if union == 0 else int((predicted & truth).sum()) / union


def accuracy(faces: list[LabelledFace]) -> dict[str, dict[str, float]]:
    """method -> {"all": mean IoU, tag: mean IoU over the faces with that tag, "face_kept": mean
    share of the true face pixels the mask keeps, "not_face_removed": mean share of the hull's
    pixels that are not face (hair, glasses, hands, background) the mask leaves out, over the faces
    where there are at least 1% of them}."""
    table: dict[str, dict[str, float]] = {}
    hulls = [automatic_mask("hull", face.crop_rgb, face.landmarks_crop) >= 0.5 for face in faces]
    for method in MASK_METHODS:
        scores: dict[str, list[float]] = defaultdict(list)
        for face, hull in zip(faces, hulls, strict=True):
            mask = automatic_mask(method, face.crop_rgb, face.landmarks_crop) >= 0.5
            score = iou(mask.astype(np.float32), face.truth)
            scores["all"].append(score)
            for tag in face.tags:
                scores[tag].append(score)
            scores["face_kept"].append(float((mask & face.truth).sum() / max(1, face.truth.sum())))
            not_face = hull & ~face.truth
            if not_face.sum() >= 0.01 * hull.sum():
                scores["not_face_removed"].append(float((not_face & ~mask).sum() / not_face.sum()))
        table[method] = {tag: float(np.mean(values)) for tag, values in scores.items()}
    return table


def fitted_accuracy(faces: list[LabelledFace], painted_every: int, steps: int) -> dict[str, float]:
    """IoU on the held-out labelled faces of a mask model fitted on every `painted_every`-th face's
    truth (as painted masks) and the skin masks of the others, against the skin mask on the same."""
    from facetransfer.maskmodel import MaskFitSettings, fit_mask_model, predict_masks

    painted = np.arange(len(faces)) % painted_every == 0
    crops = np.stack([face.crop_rgb for face in faces])
    skin = np.stack([automatic_mask("skin", face.crop_rgb, face.landmarks_crop) for face in faces])
    targets = np.where(painted[:, None, None], np.stack([face.truth for face in faces]), skin)
    weights = np.where(painted, 4.0, 1.0).astype(np.float32)
    started = time.perf_counter()
    model = fit_mask_model(
        crops, targets.astype(np.float32), weights, MaskFitSettings(steps=steps, threads=2)
    )
    fit_s = time.perf_counter() - started
    predicted = predict_masks(model, crops[~painted])
    held_out = [face for face, was in zip(faces, painted, strict=True) if not was]
    return {
        "painted": int(painted.sum()),
        "held_out": len(held_out),
        "fit_s": fit_s,
        "model": float(np.mean([iou(p, f.truth) for p, f in zip(predicted, held_out, strict=True)])),
        "skin": float(np.mean([iou(s, f.truth) for s, f in zip(skin[~painted], held_out, strict=True)])),
    }


def per_face_ms(faces: list[LabelledFace], repeats: int = 3) -> dict[str, float]:
    """method -> median milliseconds per 256 px face."""
    timings: dict[str, float] = {}
    for method in MASK_METHODS:
        times = []
        for _ in range(repeats):
            for face in faces:
                started = time.perf_counter()
                automatic_mask(method, face.crop_rgb, face.landmarks_crop)
                times.append(time.perf_counter() - started)
        timings[method] = 1000 * float(np.median(times))
    return timings


def extraction_share(clip: Path, repeats: int) -> dict[str, float]:
    """Best-of-`repeats` seconds of `facetransfer extract` of `clip` with and without stored masks."""
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for label, flag in (("without", "--no-masks"), ("with", "--masks")):
            for _ in range(repeats):
                out = Path(folder) / label
                command = [sys.executable, "-m", "facetransfer", "extract", str(clip), "-o", str(out)]
                command += [flag, "--overwrite", "--json"]
                result = subprocess.run(command, capture_output=True, text=True, check=True)
                seconds = float(json.loads(result.stdout)["seconds"])
                best[label] = min(best.get(label, np.inf), seconds)
    best["added"] = best["with"] / best["without"] - 1.0
    return best


def conversion_share(model: Path, target: Path, faceset: Path | None, repeats: int) -> dict[str, float]:
    """Best-of-`repeats` seconds of `facetransfer convert` with `hull*learned` and `skin*learned`
    (with `faceset`: the stored masks are warped in; without: computed from each crop)."""
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for mask in ("hull*learned", "skin*learned"):
            for _ in range(repeats):
                out = Path(folder) / "out.mp4"
                command = [sys.executable, "-m", "facetransfer", "convert", str(target), "-m", str(model)]
                command += ["-o", str(out), "--mask", mask, "--overwrite", "--threads", "2"]
                command += ["--faceset", str(faceset)] if faceset else []
                started = time.perf_counter()
                subprocess.run(command, capture_output=True, text=True, check=True)
                best[mask] = min(best.get(mask, np.inf), time.perf_counter() - started)
    best["added"] = best["skin*learned"] / best["hull*learned"] - 1.0
    return best


def _row(crop: np.ndarray, landmarks: np.ndarray, truth: np.ndarray | None = None) -> list[np.ndarray]:
    tiles = [crop] + [tint_outside(crop, automatic_mask(m, crop, landmarks)) for m in ("hull", "skin")]
    if truth is not None:
        tiles.append(tint_outside(crop, truth.astype(np.float32)))
    return tiles


def painted_occluders(crop: np.ndarray, landmarks: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The crop with three occluders painted over it: a dark fringe over the brows, a hand-coloured
    block from the side over a cheek, a grey microphone from below."""
    size = crop.shape[0]
    brows = np.concatenate([landmarks[lm.RIGHT_BROW], landmarks[lm.LEFT_BROW]])
    fringe = crop.copy()
    top, bottom = int(brows[:, 1].min() - 0.08 * size), int(brows[:, 1].max() + 0.01 * size)
    points = np.array(
        [[0, 0], [size, 0], [size, top], [int(brows[:, 0].mean()), bottom], [0, top + (bottom - top) // 2]]
    )
    cv2.fillPoly(fringe, [points.astype(np.int32)], (62, 44, 32))
    hand = crop.copy()
    cheek = landmarks[[2, 3, 4, 31, 48]].astype(np.int32)
    cv2.rectangle(
        hand,
        (0, int(cheek[:, 1].min())),
        (int(cheek[:, 0].mean()), int(cheek[:, 1].max())),
        (196, 142, 118),
        -1,
    )
    microphone = crop.copy()
    x, y = int(landmarks[8, 0]), int(landmarks[57, 1] + 0.03 * size)
    cv2.rectangle(microphone, (x - int(0.05 * size), y), (x + int(0.05 * size), size), (60, 60, 66), -1)
    return [("fringe", fringe), ("hand", hand), ("microphone", microphone)]


def grid_sheet(data: Path, out: Path) -> None:
    """crop | hull | skin for one face of each GRID clip, then the same with painted occluders."""
    from facetransfer.extract import ExtractConfig, extract_faceset

    rows: list[np.ndarray] = []
    captions: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for clip in GRID_SHEET_CLIPS:
            faceset_dir = Path(folder) / clip
            extract_faceset(
                [data / "video" / "grid" / f"{clip}.mpg"],
                faceset_dir,
                ExtractConfig(crop_size=256, every_n=25, masks=False),
            )
            faceset = open_faceset(faceset_dir)
            record = faceset.records[len(faceset.records) // 2]
            crop, landmarks = faceset.read_crop(record), record.landmarks_crop
            rows.extend(_row(crop, landmarks))
            captions += [clip, "hull", "skin"]
            if clip in ("bbaf2n", "lbbc2a"):
                for name, painted in painted_occluders(crop, landmarks):
                    rows.extend(_row(painted, landmarks))
                    captions += [f"{clip} + painted {name}", "hull", "skin"]
    write_png(out, contact_sheet(rows, columns=6, tile_px=160, captions=captions))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--sheets", type=Path, default=None, help="write the contact sheets into this folder")
    parser.add_argument("--fit", action="store_true", help="also fit a mask model on a third of the labels")
    parser.add_argument("--fit-steps", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each extraction timing")
    parser.add_argument(
        "--model", type=Path, default=None, help="a model folder: also time conversion of --target-clip"
    )
    parser.add_argument("--target-clip", default="lbax4n", help="GRID clip converted with --model")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    faces = load_label_set(args.data)
    results: dict[str, Any] = {"faces": len(faces), "accuracy": accuracy(faces)}
    tags = sorted({tag for face in faces for tag in face.tags})
    counts = {tag: sum(tag in face.tags for face in faces) for tag in tags}
    print(f"{len(faces)} labelled faces; IoU against the traced masks (mean)")
    print("| faces | n | " + " | ".join(MASK_METHODS) + " |")
    print("|---|---|" + "---|" * len(MASK_METHODS))
    for tag in ["all", *tags, "face_kept", "not_face_removed"]:
        cells = " | ".join(f"{results['accuracy'][m].get(tag, float('nan')):.3f}" for m in MASK_METHODS)
        print(f"| {tag} | {counts.get(tag, len(faces))} | {cells} |")
    if args.fit:
        results["fitted"] = fitted_accuracy(faces, 3, args.fit_steps)
        fitted = results["fitted"]
        print(
            f"mask model fitted on {fitted['painted']} traced masks + skin masks ({fitted['fit_s']:.0f} s): "
            f"IoU on the other {fitted['held_out']}: {fitted['model']:.3f} (skin mask: {fitted['skin']:.3f})"
        )
    results["ms_per_face"] = per_face_ms(faces)
    print("ms per 256 px face: " + ", ".join(f"{m} {v:.2f}" for m, v in results["ms_per_face"].items()))
    results["extraction_s"] = extraction_share(args.data / "video" / "grid" / "lbax4n.mpg", args.repeats)
    timing = results["extraction_s"]
    print(
        f"extract lbax4n (75 frames): {timing['without']:.2f} s without masks, {timing['with']:.2f} s "
        f"with: +{100 * timing['added']:.1f}%"
    )
    if args.model:
        clip = args.data / "video" / "grid" / f"{args.target_clip}.mpg"
        with tempfile.TemporaryDirectory() as folder:
            faceset = Path(folder) / "target"
            subprocess.run(
                [sys.executable, "-m", "facetransfer", "extract", str(clip), "-o", str(faceset)],
                capture_output=True,
                check=True,
            )
            results["convert_s"] = {
                "faceset": conversion_share(args.model, clip, faceset, args.repeats),
                "on_the_fly": conversion_share(args.model, clip, None, args.repeats),
            }
        for mode, timing in results["convert_s"].items():
            print(
                f"convert {args.target_clip} ({mode}): hull*learned {timing['hull*learned']:.2f} s, "
                f"skin*learned {timing['skin*learned']:.2f} s: +{100 * timing['added']:.1f}%"
            )
    if args.sheets:
        args.sheets.mkdir(parents=True, exist_ok=True)
        tiles, captions = [], []
        for face in faces:
            tiles.extend(_row(face.crop_rgb, face.landmarks_crop, face.truth))
            score = iou(automatic_mask("skin", face.crop_rgb, face.landmarks_crop), face.truth)
            captions += [f"{face.id} {','.join(face.tags)}", "hull", f"skin IoU {score:.2f}", "traced"]
        write_png(
            args.sheets / "mask_labels_skin.png",
            contact_sheet(tiles, columns=8, tile_px=128, captions=captions),
        )
        grid_sheet(args.data, args.sheets / "masks_grid.png")
        print(f"sheets in {args.sheets}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
