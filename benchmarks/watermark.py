"""Invisible watermark: cost, invisibility and robustness.

Measured in one run:
- embed ms/frame at 360x288 (GRID) and 1920x1080 (car clip), next to raw decode ms/frame of the same
  clips and the H.264 encode ms/frame of the output (what a conversion pays anyway);
- detect ms/frame (one frame alone) at both sizes;
- PSNR of marked against unmarked frames (whole frame, and the flat backdrop's RMS change);
- on every GRID clip (every 3rd frame), marked and written as a conversion writes (H.264 CRF 18), then
  attacked: share of frames whose own pixels decode the payload (`detect_watermark`), and the
  video-level verdict (`VideoWatermarkReader`: payload, share of frames carrying it);
- false payloads on the unmarked GRID frames.

Usage: python benchmarks/watermark.py [--data ../shared/data] [--every-n 3] [--strength 1.0] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from facetransfer.media import read_frames
from facetransfer.provenance import VideoWatermarkReader, Watermarker, detect_watermark, make_payload

# the sharing-site transforms are test helpers, shared with the provenance tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from sharing import psnr_db, reencode

GRID_CLIPS = ("bbaf2n", "sbwe5n", "lbax4n", "lbbc2a", "brbk7n", "lrwp9a")


def encode(frames: Sequence[np.ndarray], crf: int, scale: float = 1.0) -> list[np.ndarray]:
    """The benchmark's H.264 round trip: x264 preset medium, as a sharing site would use."""
    return reencode(frames, crf, scale, preset="medium")


def crop(frames: Sequence[np.ndarray], share: float) -> list[np.ndarray]:
    """Cut `share` of the height from the top and of the width from the left (then even sizes)."""
    out = []
    for frame in frames:
        height, width = frame.shape[:2]
        piece = frame[round(height * share) :, round(width * share) :]
        out.append(np.ascontiguousarray(piece[: piece.shape[0] // 2 * 2, : piece.shape[1] // 2 * 2]))
    return out


def brighten(frames: Sequence[np.ndarray], levels: int) -> list[np.ndarray]:
    return [np.clip(frame.astype(np.int16) + levels, 0, 255).astype(np.uint8) for frame in frames]


ATTACKS: dict[str, Callable[[list[np.ndarray]], list[np.ndarray]]] = {
    "none (CRF 18 output)": lambda frames: frames,
    "H.264 CRF 28": lambda frames: encode(frames, 28),
    "H.264 CRF 35": lambda frames: encode(frames, 35),
    "half size + CRF 23": lambda frames: encode(frames, 23, 0.5),
    "half size + CRF 28": lambda frames: encode(frames, 28, 0.5),
    "crop 10% top+left + CRF 23": lambda frames: encode(crop(frames, 0.10), 23),
    "crop 20% top+left + CRF 23": lambda frames: encode(crop(frames, 0.20), 23),
    "brightness +10": lambda frames: brighten(frames, 10),
    "brightness -20 + CRF 28": lambda frames: encode(brighten(frames, -20), 28),
}


def per_frame_ms(
    function: Callable[[np.ndarray], object], frames: Sequence[np.ndarray], repeat: int = 3
) -> float:
    """Best of `repeat` passes over `frames`, in ms per frame (the machine is shared: take the least)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for frame in frames:
            function(frame)
        best = min(best, (time.perf_counter() - started) / len(frames))
    return best * 1000.0


def decode_ms(path: Path, limit: int) -> float:
    started = time.perf_counter()
    count = sum(1 for _, _ in zip(read_frames(path), range(limit), strict=False))
    return (time.perf_counter() - started) / count * 1000.0


def encode_ms(frames: Sequence[np.ndarray]) -> float:
    started = time.perf_counter()
    encode(frames, 18)
    return (time.perf_counter() - started) / len(frames) * 1000.0


def speed(data: Path, strength: float) -> dict[str, float]:
    results: dict[str, float] = {}
    sizes = {
        "360x288": data / "video/grid/bbaf2n.mpg",
        "1920x1080": data / "video/hard/car_1080p_24frames.mp4",
    }
    for name, clip in sizes.items():
        frames = [frame.image for frame in read_frames(clip)][:24]
        height, width = frames[0].shape[:2]
        started = time.perf_counter()
        marker = Watermarker(width, height, make_payload(1), strength)
        results[f"setup_ms_{name}"] = (time.perf_counter() - started) * 1000.0
        results[f"embed_ms_{name}"] = per_frame_ms(marker.embed, frames)
        results[f"decode_ms_{name}"] = decode_ms(clip, 24)
        results[f"encode_crf18_ms_{name}"] = encode_ms(frames)
        marked = [marker.embed(frame) for frame in frames]
        results[f"detect_ms_{name}"] = per_frame_ms(detect_watermark, marked[:8], repeat=1)
    return results


def robustness(
    data: Path, every_n: int, strength: float
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    totals: dict[str, dict[str, float]] = {
        name: {"frames": 0, "decoded": 0, "wrong": 0, "videos": 0, "video_ok": 0, "video_share": 0.0}
        for name in ATTACKS
    }
    quality = {
        "psnr_min_db": float("inf"),
        "psnr_sum": 0.0,
        "frames": 0,
        "unmarked_false": 0,
        "backdrop_rms": 0.0,
    }
    for index, clip in enumerate(GRID_CLIPS):
        frames = [frame.image for frame in read_frames(data / f"video/grid/{clip}.mpg", every_n=every_n)]
        payload = make_payload(0x100000 + index * 7919)
        marker = Watermarker(frames[0].shape[1], frames[0].shape[0], payload, strength)
        marked = [marker.embed(frame) for frame in frames]
        for original, result in zip(frames, marked, strict=True):
            value = psnr_db(original, result)
            quality["psnr_min_db"] = min(quality["psnr_min_db"], value)
            quality["psnr_sum"] += value
            quality["frames"] += 1
        backdrop = marked[0][10:90, 250:350].astype(np.float64) - frames[0][10:90, 250:350]
        quality["backdrop_rms"] += float(np.sqrt(np.mean(backdrop**2))) / len(GRID_CLIPS)
        quality["unmarked_false"] += sum(detect_watermark(frame).payload is not None for frame in frames)
        delivered = encode(marked, 18)
        for name, attack in ATTACKS.items():
            attacked = attack(delivered)
            readings = [detect_watermark(frame).payload for frame in attacked]
            reader = VideoWatermarkReader()
            for frame in attacked:
                reader.add(frame)
            video = reader.finish()
            total = totals[name]
            total["frames"] += len(readings)
            total["decoded"] += sum(reading == payload for reading in readings)
            total["wrong"] += sum(reading not in (None, payload) for reading in readings)
            total["videos"] += 1
            total["video_ok"] += int(video.payload == payload)
            total["video_share"] += video.share_found if video.payload == payload else 0.0
        print(f"  {clip} done", flush=True)
    quality["psnr_mean_db"] = quality.pop("psnr_sum") / quality["frames"]
    return totals, quality


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared/data"
    )
    parser.add_argument("--every-n", type=int, default=3, help="use every N-th GRID frame (default 3)")
    parser.add_argument("--strength", type=float, default=1.0, help="watermark strength (default 1.0)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()

    print("speed (best of 3 passes, ms per frame):", flush=True)
    timings = speed(args.data, args.strength)
    for size in ("360x288", "1920x1080"):
        embed, decode = timings[f"embed_ms_{size}"], timings[f"decode_ms_{size}"]
        print(
            f"  {size:>9}: embed {embed:6.2f}  detect {timings[f'detect_ms_{size}']:6.1f}  "
            f"decode {decode:6.2f}  H.264 CRF18 encode {timings[f'encode_crf18_ms_{size}']:6.2f}  "
            f"embed/(decode+encode) {embed / (decode + timings[f'encode_crf18_ms_{size}']):.1%}  "
            f"(pattern set-up {timings[f'setup_ms_{size}']:.0f} ms once)"
        )
    print("robustness on the six GRID clips:", flush=True)
    totals, quality = robustness(args.data, args.every_n, args.strength)
    header = f"{'attack':<28} {'frames decoded':>15} {'wrong':>6} {'videos ok':>10} {'video share':>12}"
    print(header)
    print("-" * len(header))
    for name, total in totals.items():
        print(
            f"{name:<28} {total['decoded'] / total['frames']:>15.1%} {int(total['wrong']):>6} "
            f"{int(total['video_ok'])}/{int(total['videos']):<8} "
            f"{total['video_share'] / total['videos']:>12.1%}"
        )
    print(
        f"PSNR marked vs unmarked: mean {quality['psnr_mean_db']:.2f} dB, "
        f"min {quality['psnr_min_db']:.2f} dB; "
        f"flat backdrop change {quality['backdrop_rms']:.2f} levels RMS; "
        f"false payloads on {int(quality['frames'])} unmarked frames: {int(quality['unmarked_false'])}"
    )
    if args.json:
        report = {
            "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()} {platform.processor()} {platform.system()}".strip(),
            "every_n": args.every_n,
            "strength": args.strength,
            "speed_ms": timings,
            "attacks": totals,
            "quality": quality,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
