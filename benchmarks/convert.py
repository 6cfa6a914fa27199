"""Conversion speed and memory, and the measurement behind the default colour transfer.

Speed: for a 360x288 GRID clip and a 1920x1080 clip, in one run, each in its own child process (so
each peak resident memory is its own):

- `decode+encode`: the floor, frames read with `read_frames` and written again with the same writer,
  codec, preset and audio as conversion, doing nothing else;
- `convert`: `convert_video` with the clip's faceset (extracted beforehand, not timed) and defaults;

and the model alone (faces/s at batch 16). Each is run `--repeat` times,
interleaved, and the fastest run counts (on a shared machine, the least disturbed one). Ratios to the
floor are what to compare across machines.

Colours (`--colors`): for the GRID pairs bbaf2n->lbbc2a, sbwe5n->lbax4n and lbbc2a->bbaf2n, the
source person's own aligned face of the same frame number stands in for the model's rendering (a perfect
model's output: the right identity, the source's colours); with `--model DIR`, the model's renderings of
the target of the pair it was trained on. Each colour mode corrects the rendering inside the target's
face hull, the face is blended back, and we measure in CIE Lab:

- `seam dE`: in 8 sectors of a band just inside the blend edge (8 % of the face size wide), the
  distance between the mean colour of the output and of the original there (what shows as an edge);
- `flicker`: mean frame-to-frame change of the face's mean colour beyond the target's own change;
- `ms`: time per face (128 px, or the model's resolution).

Memory (`--long-seconds S`): peak resident memory converting the GRID clip and the same clip looped
to S seconds; flat memory means frames are streamed, not held.

Jitter (`--jitter --model DIR`): lbbc2a converted with smoothing off, at 0.5 (default) and 0.8; for
each, the crop-corner jitter of the raw and smoothed tracks that conversion reports, the jitter of the
face that extraction finds again in the output video, and the frame-to-frame shift of the middle of the
face by phase correlation (and both for the input, for reference).

Contact sheet (`--sheet PATH --model DIR`): original | swapped | blend mask for four frames of lbbc2a.

Usage: python benchmarks/convert.py [--model DIR] [--colors | --jitter | --sheet PATH] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

SPEED_CLIPS = {"360x288": "video/grid/lbbc2a.mpg", "1920x1080": "video/hard/car_1080p_24frames.mp4"}
COLOR_PAIRS = (("bbaf2n", "lbbc2a"), ("sbwe5n", "lbax4n"), ("lbbc2a", "bbaf2n"))


def _peak_rss_mb() -> float:
    """Peak resident memory of this process. VmHWM belongs to this program's address space; ru_maxrss
    would also count the parent's memory at the time of the fork (Linux carries it across exec)."""
    try:
        with open("/proc/self/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --- child-process measurements -------------------------------------------------------------------


def child_floor(clip: str, output: str, preset: str) -> dict[str, Any]:
    """Decode and re-encode with the conversion's writer settings, nothing else."""
    from facetransfer.media import VideoWriter, probe, read_frames

    started = time.perf_counter()
    frames = 0
    with VideoWriter.like(output, probe(clip), preset=preset) as writer:
        for frame in read_frames(clip):
            writer.write(frame.image, frame.timestamp_s)
            frames += 1
    seconds = time.perf_counter() - started
    return {"frames": frames, "seconds": seconds, "fps": frames / seconds, "peak_rss_mb": _peak_rss_mb()}


def child_convert(
    clip: str, model: str, faceset: str, output: str, preset: str, provenance: bool = True
) -> dict[str, Any]:
    from facetransfer.convert.config import EncodeOptions
    from facetransfer.convert.pipeline import ConvertConfig, convert_video
    from facetransfer.provenance import ProvenanceConfig

    config = ConvertConfig(
        faceset=faceset,
        overwrite=True,
        provenance=ProvenanceConfig(enabled=provenance),
        encode=EncodeOptions(encoder_preset=preset),
    )
    summary = convert_video(clip, model, output, config)
    return {
        "frames": summary.frames,
        "faces": summary.faces_swapped,
        "seconds": summary.seconds,
        "fps": summary.fps,
        "stage_seconds": summary.stage_seconds,
        "jitter": summary.jitter,
        "peak_rss_mb": _peak_rss_mb(),
    }


def child_model(model: str, batch: int = 16, repeats: int = 5) -> dict[str, Any]:
    from facetransfer.convert.predictor import load_predictor

    predictor = load_predictor(model, "cpu")
    crops = np.random.default_rng(0).integers(
        0, 256, (batch, predictor.resolution, predictor.resolution, 3), dtype=np.uint8
    )
    predictor.predict(crops)
    best = min(_timed(lambda: predictor.predict(crops)) for _ in range(repeats))
    return {
        "resolution": predictor.resolution,
        "faces_per_s": batch / best,
        "ms_per_face": 1000 * best / batch,
    }


def _timed(function: Any) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def _in_child(name: str, **arguments: Any) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", json.dumps({"name": name, **arguments})]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{name} failed: {completed.stderr.strip().splitlines()[-1:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- speed ------------------------------------------------------------------------------------------


def _untrained_model(folder: Path, preset_name: str) -> Path:
    """Timing does not depend on the weights: a freshly initialised model of the preset."""
    import torch

    from facetransfer.modelfolder.checkpoints import TrainingState
    from facetransfer.modelfolder.config import RunConfig, write_config
    from facetransfer.modelfolder.weights import save_checkpoint
    from facetransfer.models import build_model
    from facetransfer.presets import get_preset

    preset = get_preset(preset_name)
    model = build_model(preset.model)
    folder.mkdir(parents=True)
    write_config(folder, RunConfig(model=preset.model, train=preset.train, data={"coverage": "full"}))
    save_checkpoint(folder, model, torch.optim.AdamW(model.parameters()), TrainingState(step=1, batch_size=8))
    return folder


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of repeated runs (on a shared machine, the one least disturbed by other work), with
    every run's frames/s kept beside it."""
    best = dict(max(runs, key=lambda run: run["fps"]))
    best["all_fps"] = [round(run["fps"], 2) for run in runs]
    return best


def measure_speed(data: Path, model: Path, work: Path, preset: str, repeat: int) -> dict[str, Any]:
    from facetransfer.convert.predictor import load_predictor
    from facetransfer.extract import ExtractConfig, extract_faceset

    predictor = load_predictor(model, "cpu")
    model_runs = [_in_child("model", model=str(model)) for _ in range(repeat)]
    results: dict[str, Any] = {
        "model": f"{predictor.description}, {str(predictor.dtype).removeprefix('torch.')}",
        "model_alone": max(model_runs, key=lambda run: run["faces_per_s"]),
        "model_alone_all": [round(run["faces_per_s"], 1) for run in model_runs],
    }
    for label, relative in SPEED_CLIPS.items():
        clip = data / relative
        faceset = work / f"faceset_{clip.stem}"
        extract_faceset(
            [clip], faceset, ExtractConfig(crop_size=predictor.resolution, coverage=predictor.coverage)
        )
        floors, conversions, unmarked = [], [], []
        for _ in range(repeat):  # interleaved, so all three see the same machine
            floors.append(
                _in_child("floor", clip=str(clip), output=str(work / f"floor_{clip.stem}.mp4"), preset=preset)
            )
            conversions.append(
                _in_child(
                    "convert",
                    clip=str(clip),
                    model=str(model),
                    faceset=str(faceset),
                    output=str(work / f"out_{clip.stem}.mp4"),
                    preset=preset,
                )
            )
            unmarked.append(
                _in_child(
                    "convert",
                    clip=str(clip),
                    model=str(model),
                    faceset=str(faceset),
                    output=str(work / f"plain_{clip.stem}.mp4"),
                    preset=preset,
                    provenance=False,
                )
            )
        floor, converted, plain = _best(floors), _best(conversions), _best(unmarked)
        results[label] = {
            "clip": relative,
            "decode_encode": floor,
            "convert": converted,
            "convert_no_provenance": plain,
            "ratio": converted["fps"] / floor["fps"],
            "provenance_cost": 1.0 - converted["fps"] / plain["fps"],
        }
    return results


def _looped_clip_and_faceset(data: Path, work: Path, seconds: float, resolution: int) -> tuple[Path, Path]:
    """lbbc2a repeated to `seconds` (H.264, no audio), and its faceset made by repeating the clip's face
    records with shifted frame numbers (the faces are where they were: the frames are the same)."""
    from facetransfer.extract import ExtractConfig, extract_faceset
    from facetransfer.faceset import FacesetWriter, open_faceset
    from facetransfer.media import VideoWriter, probe, read_frames

    clip = data / "video/grid/lbbc2a.mpg"
    frames = list(read_frames(clip))  # 75 small frames
    looped = work / f"looped_{int(seconds)}s.mp4"
    count = int(seconds * 25)
    with VideoWriter(looped, width=360, height=288, fps=25, preset="ultrafast", crf=18) as writer:
        for index in range(count):
            writer.write(frames[index % len(frames)].image, index / 25.0)
    single = work / "faceset_loop_source"
    if not single.exists():
        extract_faceset([clip], single, ExtractConfig(crop_size=resolution))
    base = open_faceset(single)
    folder = work / f"faceset_looped_{int(seconds)}s"
    writer = FacesetWriter(folder, "jpg")
    crop = np.zeros((resolution, resolution, 3), np.uint8)
    for index in range(count):
        record = base.records[index % len(base.records)]
        copy = type(record).from_json(record.to_json())
        copy.frame_index, copy.timestamp_s, copy.face_id = index, index / 25.0, f"00_{index:06d}_00"
        copy.source_path = str(looped)
        writer.add(copy, crop)
    manifest = base.manifest
    manifest.sources = [probe(looped).to_json()]
    writer.finish(manifest)
    return looped, folder


def measure_memory(data: Path, model: Path, work: Path, seconds: tuple[float, ...]) -> dict[str, Any]:
    """Peak resident memory of conversion for the same clip looped to different lengths."""
    from facetransfer.convert.predictor import load_predictor

    resolution = load_predictor(model, "cpu").resolution
    results = {}
    for length in seconds:
        clip, faceset = _looped_clip_and_faceset(data, work, length, resolution)
        run = _in_child(
            "convert",
            clip=str(clip),
            model=str(model),
            faceset=str(faceset),
            output=str(work / "long.mp4"),
            preset="medium",
        )
        results[f"{length:g}s"] = {
            "frames": run["frames"],
            "fps": run["fps"],
            "peak_rss_mb": run["peak_rss_mb"],
        }
    return results


# --- colours ----------------------------------------------------------------------------------------


def _lab(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def measure_colour_pair(
    source_faceset: Path, target_faceset: Path, target_video: Path, predictor: Any = None
) -> dict[str, dict[str, float]]:
    """Seam, flicker and time of every colour mode on one GRID pair. The rendering that is corrected is
    the source person's own face of the same frame, or with `predictor` the model's rendering of the
    target face (what conversion corrects)."""
    import cv2

    from facetransfer.convert.blend import PasteOptions, compose_mask, paste_face
    from facetransfer.convert.color import COLOR_MODES, match_color
    from facetransfer.convert.recipe import FaceSettings, crop_face
    from facetransfer.convert.smoothing import face_size_px
    from facetransfer.faces.masks import erode_or_dilate
    from facetransfer.faceset import open_faceset
    from facetransfer.media import read_frames

    resolution = predictor.resolution if predictor is not None else 128
    source, target = open_faceset(source_faceset), open_faceset(target_faceset)
    source_records = {record.frame_index: record for record in source.records}
    target_records = {record.frame_index: record for record in target.records}
    seams: dict[str, list[float]] = {mode: [] for mode in COLOR_MODES}
    means: dict[str, list[np.ndarray]] = {mode: [] for mode in COLOR_MODES}
    originals: list[np.ndarray] = []
    times: dict[str, list[float]] = {mode: [] for mode in COLOR_MODES}
    for frame in read_frames(target_video):
        if frame.index not in source_records or frame.index not in target_records:
            continue
        face = crop_face(frame.image, target_records[frame.index].landmarks_frame, resolution, "full")
        if predictor is not None:
            rendering_float = predictor.predict(face.crop[None])[0][0]
        else:
            rendering = cv2.resize(
                source.read_crop(source_records[frame.index]),
                (resolution, resolution),
                interpolation=cv2.INTER_AREA,
            )
            rendering_float = rendering.astype(np.float32) / 255.0
        mask = compose_mask("hull", face.landmarks_crop, None, face.crop)
        target_float = face.crop.astype(np.float32) / 255.0
        size = face_size_px(face.landmarks_frame)
        erode_px, blur_px = FaceSettings().shaping_px(size)
        original_lab = _lab(frame.image)
        region = None
        for mode in COLOR_MODES:
            started = time.perf_counter()
            corrected = match_color(mode, rendering_float, target_float, mask)
            times[mode].append(time.perf_counter() - started)
            output = frame.image.copy()
            pasted = paste_face(
                output,
                (corrected * 255 + 0.5).astype(np.uint8),
                mask,
                face.crop_to_frame,
                PasteOptions(erode_px, blur_px),
            )
            assert pasted is not None
            if region is None:
                blended = np.zeros(output.shape[:2], np.float32)
                blended[pasted.y0 : pasted.y1, pasted.x0 : pasted.x1] = pasted.alpha
                inside = (blended > 0.5).astype(np.float32)
                band = (inside - erode_or_dilate(inside, round(0.08 * size))) > 0.5
                rows, columns = np.nonzero(band)
                angle = np.arctan2(rows - rows.mean(), columns - columns.mean())
                sectors = ((angle + np.pi) / (2 * np.pi) * 8).astype(int) % 8
                region = (inside > 0.5, rows, columns, sectors)
                originals.append(original_lab[region[0]].mean(0))
            core, rows, columns, sectors = region
            output_lab = _lab(output)
            distances = [
                np.linalg.norm(
                    output_lab[rows[sectors == k], columns[sectors == k]].mean(0)
                    - original_lab[rows[sectors == k], columns[sectors == k]].mean(0)
                )
                for k in range(8)
                if (sectors == k).any()
            ]
            seams[mode].append(float(np.mean(distances)))
            means[mode].append(output_lab[core].mean(0))
    target_means = np.array(originals)
    report = {}
    for mode in COLOR_MODES:
        face_means = np.array(means[mode])
        flicker = np.abs(np.diff(face_means, axis=0) - np.diff(target_means, axis=0)).sum(1).mean()
        report[mode] = {
            "seam_dE": float(np.mean(seams[mode])),
            "flicker_dE": float(flicker),
            "ms": 1000 * float(np.median(times[mode])),
        }
    return report


def measure_colours(
    data: Path, work: Path, facesets: Path | None, model: Path | None = None
) -> dict[str, Any]:
    """All pairs with the source's own faces as renderings; with `model`, only the pair it was trained
    on (its data's source and target names), with its renderings."""
    from facetransfer.convert.predictor import load_predictor
    from facetransfer.extract import ExtractConfig, extract_faceset

    folder = facesets or work
    results: dict[str, Any] = {}
    predictor = load_predictor(model, "cpu") if model is not None else None
    pairs: tuple[tuple[str, str], ...] = COLOR_PAIRS
    if model is not None:
        from facetransfer.modelfolder.config import read_config

        data_config = read_config(model).data
        pairs = ((Path(data_config["source"]).name, Path(data_config["target"]).name),)
    for source, target in pairs:
        for name in (source, target):
            if not (folder / name / "faceset.json").is_file():
                extract_faceset(
                    [data / f"video/grid/{name}.mpg"], folder / name, ExtractConfig(crop_size=128)
                )
        results[f"{source}->{target}"] = measure_colour_pair(
            folder / source, folder / target, data / f"video/grid/{target}.mpg", predictor
        )
    modes = next(iter(results.values())).keys()
    results["mean"] = {
        mode: {
            key: float(np.mean([pair[mode][key] for pair in results.values() if mode in pair]))
            for key in ("seam_dE", "flicker_dE", "ms")
        }
        for mode in modes
    }
    return results


# --- jitter in the output ---------------------------------------------------------------------------


def _detected_jitter(video: Path, work: Path, resolution: int) -> dict[str, float]:
    """Jitter of the face as the extractor finds it in `video` (crop corners from detected landmarks)."""
    from facetransfer.convert.smoothing import jitter, track_corners
    from facetransfer.extract import ExtractConfig, extract_faceset
    from facetransfer.faceset import open_faceset

    faceset = work / f"detected_{video.stem}"
    extract_faceset([video], faceset, ExtractConfig(crop_size=resolution, image_format="jpg"))
    records = sorted(open_faceset(faceset).records, key=lambda record: record.frame_index)
    corners, sides = track_corners(
        np.stack([record.landmarks_frame for record in records]), resolution, "full"
    )
    return {"motion": jitter(corners, sides, 1), "shiver": jitter(corners, sides, 2)}


def _phase_jitter(video: Path, box: tuple[int, int, int, int], size: float) -> dict[str, float]:
    """Jitter of the picture inside a fixed box (the middle of the face) from phase correlation of
    consecutive frames: the shift s_t between frames t-1 and t, `motion` = mean |s_t|, `shiver` = mean
    |s_t - s_t-1|, both over `size`. Independent of any landmark detector and its noise."""
    import av
    import cv2

    x0, y0, x1, y1 = box
    with av.open(str(video)) as container:
        patches = [
            cv2.cvtColor(frame.to_ndarray(format="rgb24"), cv2.COLOR_RGB2GRAY)[y0:y1, x0:x1].astype(
                np.float32
            )
            for frame in container.decode(video=0)
        ]
    window = cv2.createHanningWindow((x1 - x0, y1 - y0), cv2.CV_32F)
    shifts = np.array([cv2.phaseCorrelate(a, b, window)[0] for a, b in itertools.pairwise(patches)])
    return {
        "motion": float(np.linalg.norm(shifts, axis=1).mean() / size),
        "shiver": float(np.linalg.norm(np.diff(shifts, axis=0), axis=1).mean() / size),
    }


def measure_output_jitter(data: Path, model: Path, work: Path) -> dict[str, Any]:
    """lbbc2a converted with smoothing off and at 0.5 and 0.8: the jitter of the crop that the swapped
    face follows (from the conversion), of the face found again in each output by extraction, and of the
    middle of the face by phase correlation (the input's own values for reference)."""
    from facetransfer.convert.config import EncodeOptions
    from facetransfer.convert.pipeline import ConvertConfig, convert_video
    from facetransfer.extract import ExtractConfig, extract_faceset
    from facetransfer.faceset import open_faceset

    target = data / "video/grid/lbbc2a.mpg"
    faceset = work / "faceset_jitter"
    extract_faceset([target], faceset, ExtractConfig(crop_size=128))
    landmarks = np.stack([record.landmarks_frame for record in open_faceset(faceset).records])
    (left, top), (right, bottom) = np.median(landmarks.min(1), 0), np.median(landmarks.max(1), 0)
    width, height = right - left, bottom - top
    box = (
        int(left + 0.2 * width),
        int(top + 0.25 * height),
        int(right - 0.2 * width),
        int(bottom - 0.15 * height),
    )
    results: dict[str, Any] = {
        "input": {"detected": _detected_jitter(target, work, 128), "phase": _phase_jitter(target, box, width)}
    }
    for smooth in (0.0, 0.5, 0.8):
        output = work / f"smooth_{smooth}.mp4"
        summary = convert_video(
            target,
            model,
            output,
            ConvertConfig(faceset=str(faceset), smooth=smooth, encode=EncodeOptions(crf=12)),
        )
        results[f"smooth_{smooth}"] = {
            "planned": summary.jitter,
            "detected": _detected_jitter(output, work, 128),
            "phase": _phase_jitter(output, box, width),
        }
    return results


# --- contact sheet ----------------------------------------------------------------------------------


def contact_sheet(
    data: Path,
    model: Path,
    work: Path,
    sheet: Path,
    target_name: str = "lbbc2a",
    frames: tuple[int, ...] = (8, 30, 52, 70),
) -> Path:
    """original | swapped | blend mask, one row per frame, of a GRID clip converted with `model`."""
    import av
    import cv2

    from facetransfer.convert.config import EncodeOptions
    from facetransfer.convert.pipeline import ConvertConfig, convert_video
    from facetransfer.extract import extract_for_model

    target = data / f"video/grid/{target_name}.mpg"
    output, mask = work / "sheet.mp4", work / "sheet_mask.mp4"
    convert_video(
        target,
        model,
        output,
        ConvertConfig(mask_video=str(mask), encode=EncodeOptions(crf=12)),
        extract_target=extract_for_model,
    )

    def decode(path: Path) -> list[np.ndarray]:
        with av.open(str(path)) as container:
            return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]

    columns = [decode(target), decode(output), decode(mask)]
    rows = [np.concatenate([column[index] for column in columns], axis=1) for index in frames]
    image = np.concatenate(rows, axis=0)
    for row, index in enumerate(frames):
        cv2.putText(
            image, f"frame {index}", (6, 288 * row + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1
        )
    sheet.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(sheet), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return sheet


# --- main -------------------------------------------------------------------------------------------


def _print_colours(results: dict[str, Any]) -> None:
    print(f"{'pair':18s} {'mode':5s} {'seam dE':>8s} {'flicker':>8s} {'ms':>6s}")
    for pair, modes in results.items():
        for mode, values in modes.items():
            seam, flicker, ms = values["seam_dE"], values["flicker_dE"], values["ms"]
            print(f"{pair:18s} {mode:5s} {seam:8.2f} {flicker:8.3f} {ms:6.2f}")


def _print_speed(results: dict[str, Any]) -> None:
    alone = results["model_alone"]["faces_per_s"]
    print(
        f"model: {results['model']}; alone {alone:.1f} faces/s at batch 16 "
        f"(runs: {results['model_alone_all']})"
    )
    print(f"{'clip':10s} {'decode+encode':>14s} {'convert':>8s} {'ratio':>6s} {'peak MB':>8s}  stage busy s")
    for label in SPEED_CLIPS:
        row = results[label]
        floor, converted = row["decode_encode"], row["convert"]
        print(
            f"{label:10s} {floor['fps']:14.1f} {converted['fps']:8.1f} {row['ratio']:6.2f} "
            f"{converted['peak_rss_mb']:8.0f}  {converted['stage_seconds']}"
        )
        print(f"{'':10s} runs: decode+encode {floor['all_fps']}, convert {converted['all_fps']}")
        plain = row["convert_no_provenance"]
        print(
            f"{'':10s} without provenance {plain['fps']:.1f} frames/s (runs {plain['all_fps']}): "
            f"provenance costs {100 * row['provenance_cost']:.1f}% of the speed"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="model folder (default: an untrained `cpu` preset model)"
    )
    parser.add_argument("--model-preset", default="cpu", help="preset of the untrained model (default cpu)")
    parser.add_argument("--preset", default="medium", help="x264 preset for both the floor and conversion")
    parser.add_argument("--colors", action="store_true", help="measure the colour modes instead of speed")
    parser.add_argument(
        "--facesets", type=Path, default=None, help="folder with GRID facesets to reuse (--colors)"
    )
    parser.add_argument(
        "--sheet", type=Path, default=None, help="write a contact sheet of lbbc2a converted with --model"
    )
    parser.add_argument(
        "--jitter", action="store_true", help="measure jitter in outputs converted with --model"
    )
    parser.add_argument(
        "--sheet-target", default="lbbc2a", help="GRID clip the sheet converts (default lbbc2a)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per speed measurement; the best counts")
    parser.add_argument(
        "--long-seconds", type=float, default=0.0, help="also convert GRID looped to this long"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        request = json.loads(args.child)
        name = request.pop("name")
        result = {"floor": child_floor, "convert": child_convert, "model": child_model}[name](**request)
        print(json.dumps(result))
        return 0

    header = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} CPU cores",
        "python": platform.python_version(),
    }
    results: dict[str, Any]
    with tempfile.TemporaryDirectory(prefix="facetransfer-bench-convert-") as temporary:
        work = Path(temporary)
        if args.sheet:
            if args.model is None:
                parser.error("--sheet needs --model (a trained model folder)")
            results = {
                "sheet": str(contact_sheet(args.data, args.model, work, args.sheet, args.sheet_target))
            }
            print(results["sheet"])
        elif args.jitter:
            if args.model is None:
                parser.error("--jitter needs --model (a trained model folder)")
            results = measure_output_jitter(args.data, args.model, work)
            print(json.dumps(results, indent=2))
        elif args.colors:
            results = measure_colours(args.data, work, args.facesets, args.model)
            _print_colours(results)
        else:
            model = args.model or _untrained_model(work / "model", args.model_preset)
            results = measure_speed(args.data, model, work, args.preset, args.repeat)
            _print_speed(results)
            if args.long_seconds:
                results["memory"] = measure_memory(args.data, model, work, (3.0, args.long_seconds))
                for length, run in results["memory"].items():
                    print(f"looped GRID, {length}: {run['frames']} frames, peak {run['peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps({**header, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
