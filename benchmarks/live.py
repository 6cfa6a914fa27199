"""Live mode speed: frames per second, capture-to-output latency (p50/p95) and CPU use of
`facetransfer live` on a video standing in for a camera, beside `convert` on the same clip.

Clips: the GRID target (360x288, 25 fps), the 1080p street clip scaled to 1280x720, and the 1080p
street clip itself (1-4 faces; live swaps the largest). For each clip, each in its own child process:

- `live --benchmark`: the video read as fast as the swap takes frames (none dropped): the swap's speed;
- `live` (real time): the video played at its own rate, as a camera delivers it: what is dropped when
  the swap is slower than the input, and the latency a viewer sees;
- `convert`: the same clip with its faceset (extracted beforehand, not timed) and the same model.

All write an H.264 file. Each is run `--repeat` times, interleaved; the fastest run counts.

Usage: python benchmarks/live.py --model MODEL_DIR [--repeat N] [--json OUT.json] [--runtime pytorch]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SHARED = Path(
    os.environ.get("FACETRANSFER_TEST_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
CLIPS = {
    "360x288": SHARED / "video/grid/lbbc2a.mpg",
    "1280x720": SHARED / "video/hard/street_multiface_1080p.mp4",  # scaled down first
    "1920x1080": SHARED / "video/hard/street_multiface_1080p.mp4",
}
CLI = [sys.executable, "-m", "facetransfer"]


def _scaled(source: Path, folder: Path, width: int, height: int) -> Path:
    """`source` scaled to width x height (H.264 CRF 16), once."""
    from facetransfer.media import VideoWriter, probe, read_frames

    output = folder / f"{source.stem}_{height}p.mp4"
    if output.exists():
        return output
    import cv2

    info = probe(source)
    with VideoWriter(output, width=width, height=height, fps=info.fps, crf=16, preset="fast") as writer:
        for frame in read_frames(source):
            writer.write(
                cv2.resize(frame.image, (width, height), interpolation=cv2.INTER_AREA), frame.timestamp_s
            )
    return output


def _run_json(command: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    payload = json.loads(result.stdout)
    payload["wall_s"] = round(time.perf_counter() - started, 2)
    return payload


def _live(model: str, clip: Path, output: Path, benchmark: bool, runtime: str) -> dict[str, Any]:
    output.unlink(missing_ok=True)
    command = [*CLI, "-q", "live", "-m", model, "--input", str(clip), "--output", str(output), "--json"]
    command += ["--runtime", runtime] + (["--benchmark"] if benchmark else [])
    summary = _run_json(command)
    return {
        "fps": summary["fps"],
        "latency_ms_p50": summary["latency_ms_p50"],
        "latency_ms_p95": summary["latency_ms_p95"],
        "cpu_percent": summary["cpu_percent"],
        "frames_output": summary["frames_output"],
        "frames_dropped": summary["frames_dropped"],
        "stage_seconds": summary["stage_seconds"],
        "seconds": summary["seconds"],
    }


def _convert(model: str, clip: Path, faceset: Path, output: Path) -> dict[str, Any]:
    output.unlink(missing_ok=True)
    started_cpu = os.times()
    summary = _run_json(
        [
            *CLI,
            "-q",
            "convert",
            str(clip),
            "-m",
            model,
            "-o",
            str(output),
            "--faceset",
            str(faceset),
            "--json",
        ]
    )
    ended_cpu = os.times()
    cpu_s = (ended_cpu.children_user - started_cpu.children_user) + (
        ended_cpu.children_system - started_cpu.children_system
    )
    return {
        "fps": summary["fps"],
        "cpu_percent": round(100.0 * cpu_s / summary["wall_s"], 1),
        "frames_output": summary["frames"],
        "seconds": summary["seconds"],
        "stage_seconds": summary["stage_seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model folder (the `cpu` preset)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--runtime", default="onnxruntime", choices=["onnxruntime", "pytorch"])
    parser.add_argument("--clips", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="facetransfer-bench-live-"))
    results: dict[str, dict[str, Any]] = {}
    for name in args.clips:
        clip = CLIPS[name]
        if name == "1280x720":
            clip = _scaled(clip, work, 1280, 720)
        faceset = work / f"faceset_{name}"
        if not faceset.exists():
            subprocess.run(
                [*CLI, "-q", "extract", str(clip), "-o", str(faceset), "--crop-size", "128"], check=True
            )
        runs: dict[str, list[dict[str, Any]]] = {
            "live --benchmark": [],
            "live (real time)": [],
            "convert": [],
        }
        for _ in range(args.repeat):
            runs["live --benchmark"].append(_live(args.model, clip, work / "live.mp4", True, args.runtime))
            runs["live (real time)"].append(_live(args.model, clip, work / "live.mp4", False, args.runtime))
            runs["convert"].append(_convert(args.model, clip, faceset, work / "convert.mp4"))
        results[name] = {mode: max(found, key=lambda run: run["fps"]) for mode, found in runs.items()}

    header = f"{'clip':>10} {'mode':>18} {'fps':>6} {'p50 ms':>7} {'p95 ms':>7} {'dropped':>8} {'CPU %':>6}"
    print(header)
    for name, modes in results.items():
        for mode, run in modes.items():
            print(
                f"{name:>10} {mode:>18} {run['fps']:6.1f} {run.get('latency_ms_p50', float('nan')):7.0f} "
                f"{run.get('latency_ms_p95', float('nan')):7.0f} {run.get('frames_dropped', 0):8d} "
                f"{run['cpu_percent']:6.0f}"
            )
    if args.json:
        payload = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "model": args.model,
            "runtime": args.runtime,
            "repeat": args.repeat,
            "results": results,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
