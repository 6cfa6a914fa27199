"""Training speed per preset, against the machine's own matrix-multiply rate.

For each preset: iterations/s and samples/s of the real training step (augmentation, forward, both
losses, backward, AdamW), the FLOPs of one iteration counted by `torch.utils.flop_counter`, and the
achieved FLOP/s as a fraction of a large matmul's FLOP/s measured in the same run on the same
device (float32 on the CPU, bf16 on CUDA, matching the training precision). The matmul is timed
before and after the presets and the faster result is used, so a busy machine lowers both sides.

Usage: python benchmarks/train.py [--presets tiny,cpu] [--iterations 10] [--json OUT.json]
       [--device auto|cpu|cuda] [--threads N] [--channels-last | --no-channels-last]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from facetransfer.models import build_model
from facetransfer.presets import PRESETS, get_preset
from facetransfer.train.distributed import pick_device
from facetransfer.train.loop import training_step
from facetransfer.train.loss import FaceLoss


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops_per_s(device: torch.device, repeats: int = 5) -> float:
    """Best-of-`repeats` FLOP/s of a square matmul (4096 fp32 on CPU, 8192 bf16 on CUDA)."""
    size, dtype = (8192, torch.bfloat16) if device.type == "cuda" else (4096, torch.float32)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def bench_preset(
    name: str, device: torch.device, iterations: int, warmup: int, channels_last: bool, batch_size: int | None
) -> dict[str, Any]:
    preset = get_preset(name)
    train_config = replace(preset.train, batch_size=batch_size or preset.train.batch_size)
    resolution, batch = preset.model.resolution, train_config.batch_size
    torch.manual_seed(0)
    model = build_model(preset.model).to(device)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)  # type: ignore[call-overload]
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=train_config.learning_rate, fused=device.type == "cuda"
    )
    loss_fn = FaceLoss(resolution)
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    generator = torch.Generator(device=device).manual_seed(0)
    augment_config = train_config.augment

    def faces(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        cpu = torch.Generator().manual_seed(seed)
        images = torch.randint(0, 256, (batch, resolution, resolution, 3), dtype=torch.uint8, generator=cpu)
        masks = torch.zeros_like(images)
        masks[:, resolution // 5 : -resolution // 5, resolution // 5 : -resolution // 5] = 255
        return images.to(device), masks.to(device)

    source, target = faces(1), faces(2)

    def step() -> None:
        training_step(
            model, optimizer, loss_fn, augment_config, source, target, generator, memory_format, use_bf16
        )
        optimizer.step()

    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    for _ in range(warmup):
        step()
    synchronize(device)
    times = []
    for _ in range(iterations):
        started = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - started)
    times.sort()
    median = times[len(times) // 2]
    return {
        "preset": name,
        "model": preset.model.name,
        "resolution": resolution,
        "parameters_m": round(model.parameter_count() / 1e6, 2),
        "batch_per_person": batch,
        "iterations_per_s": 1 / median,
        "best_iterations_per_s": 1 / times[0],
        "samples_per_s": 2 * batch / median,
        "flops_per_iteration": flops,
        "flops_per_s": flops / median,
        "channels_last": channels_last,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=None, help=f"comma-separated, from {', '.join(PRESETS)}")
    parser.add_argument("--iterations", type=int, default=10, help="timed iterations per preset")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="override the presets' batch size")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    default_presets = "tiny,cpu,gpu128,gpu256" if device.type == "cuda" else "tiny,cpu"
    names = (args.presets or default_presets).split(",")
    channels_last = args.channels_last if args.channels_last is not None else device.type == "cuda"
    matmul_before = matmul_flops_per_s(device)
    rows = [
        bench_preset(name, device, args.iterations, args.warmup, channels_last, args.batch_size)
        for name in names
    ]
    matmul = max(matmul_before, matmul_flops_per_s(device))
    card = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine()
    )
    print(
        f"device: {device} ({card}), {torch.get_num_threads()} CPU threads, matmul {matmul / 1e9:.1f} GFLOP/s"
    )
    header = f"{'preset':8} {'model':5} {'px':>4} {'params M':>8} {'batch':>5} {'it/s':>7} {'samples/s':>9}"
    print(header + f" {'GFLOP/it':>9} {'GFLOP/s':>8} {'of matmul':>9}")
    for row in rows:
        row["fraction_of_matmul"] = row["flops_per_s"] / matmul
        print(
            f"{row['preset']:8} {row['model']:5} {row['resolution']:4d} {row['parameters_m']:8.2f} "
            f"{row['batch_per_person']:5d} {row['iterations_per_s']:7.2f} {row['samples_per_s']:9.1f} "
            f"{row['flops_per_iteration'] / 1e9:9.1f} {row['flops_per_s'] / 1e9:8.1f} "
            f"{row['fraction_of_matmul']:9.2f}"
        )
    if args.json:
        payload = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "device": str(device),
            "device_name": card,
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "matmul_flops_per_s": matmul,
            "rows": rows,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
