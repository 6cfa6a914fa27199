"""Extraction speed and memory.

For each clip: raw decode frames/s (PyAV through `read_frames`) and extraction frames/s (detect,
landmarks, align, crop PNGs, identity) measured in the same run, and their ratio. Then peak resident
memory of extraction (in a child process) on videos made by looping a GRID clip to 1 and N minutes,
which shows whether memory grows with video length.

Usage: python benchmarks/extract.py [--data ../shared/data] [--long-minutes 10] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import av

from facetransfer.extract import ExtractConfig, extract_faceset
from facetransfer.media import read_frames


def decode_fps(path: Path) -> tuple[int, float]:
    started = time.perf_counter()
    frames = sum(1 for _ in read_frames(path))
    return frames, frames / (time.perf_counter() - started)


def extract_fps(path: Path, work: Path) -> tuple[int, float, int]:
    started = time.perf_counter()
    summary = extract_faceset([path], work / f"faceset_{path.stem}", ExtractConfig(overwrite=True))
    return summary.frames, summary.frames / (time.perf_counter() - started), summary.faces_kept


def loop_clip(clip: Path, minutes: float, out: Path) -> Path:
    """Write `clip` repeated to `minutes` long (H.264, ultrafast) without holding it in memory."""
    frames = list(read_frames(clip))  # one short clip (75 frames) only
    with av.open(str(clip)) as source:
        rate = source.streams.video[0].average_rate
    total = int(minutes * 60 * float(rate))
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height = frames[0].image.shape[1], frames[0].image.shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        for index in range(total):
            frame = av.VideoFrame.from_ndarray(frames[index % len(frames)].image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out


# VmHWM (the peak resident set of this process image), not ru_maxrss: on Linux ru_maxrss carries
# over the parent's peak across fork + exec.
CHILD = """
import sys, time
from facetransfer.extract import ExtractConfig, extract_faceset
started = time.perf_counter()
summary = extract_faceset([sys.argv[1]], sys.argv[2], ExtractConfig(overwrite=True))
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(summary.frames, time.perf_counter() - started, peak_kib)
"""


def peak_memory(video: Path, work: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(video), str(work / f"faceset_{video.stem}")],
        check=True,
        capture_output=True,
        text=True,
    )
    frames, seconds, max_rss_kib = result.stdout.split()[-3:]
    return {
        "frames": int(frames),
        "fps": int(frames) / float(seconds),
        "peak_rss_mib": int(max_rss_kib) / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--long-minutes", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    clips = [args.data / "video/grid/bbaf2n.mpg", args.data / "video/hard/street_multiface_1080p.mp4"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        grid_loop = loop_clip(clips[0], 0.5, work / "grid_30s.mp4")
        for clip in [clips[0], grid_loop, clips[1]]:
            frames, raw = decode_fps(clip)
            _, fps, faces = extract_fps(clip, work)
            rows.append(
                {"clip": clip.name, "frames": frames, "faces": faces, "decode_fps": raw, "extract_fps": fps}
            )
        memory = []
        for minutes in (1.0, args.long_minutes):
            video = loop_clip(clips[0], minutes, work / f"grid_{minutes:g}min.mp4")
            memory.append({"minutes": minutes, **peak_memory(video, work)})
            video.unlink()
    print(f"{'clip':34} {'frames':>6} {'faces':>6} {'decode fps':>11} {'extract fps':>12} {'ratio':>6}")
    for row in rows:
        ratio = row["extract_fps"] / row["decode_fps"]
        print(
            f"{row['clip']:34} {row['frames']:6d} {row['faces']:6d} {row['decode_fps']:11.1f} "
            f"{row['extract_fps']:12.1f} {ratio:6.3f}"
        )
    print(f"\n{'looped GRID video':20} {'frames':>7} {'extract fps':>12} {'peak RSS MiB':>13}")
    for entry in memory:
        print(
            f"{entry['minutes']:>8g} min{'':8} {entry['frames']:7d} {entry['fps']:12.1f} "
            f"{entry['peak_rss_mib']:13.0f}"
        )
    if args.json:
        payload = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()} {platform.processor() or ''} {resource.getpagesize()}",
            "rows": rows,
            "memory": memory,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
