"""What machine the tool runs on: Python, PyTorch, the GPUs it can use, CPU cores and memory (what
`facetransfer info` prints with no PATH, and a container prints as it starts)."""

from __future__ import annotations

import os
import platform
from typing import Any

from facetransfer import __version__


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9, 1)
    except (ValueError, OSError, AttributeError):
        return None


def machine_info() -> dict[str, Any]:
    """`kind` "machine"; versions; `cuda` (whether PyTorch sees a CUDA device), `gpus` (name, memory
    in GB, compute capability of each), `cpu_cores` (usable by this process), `memory_gb`, and
    `preset` (the preset `swap` picks here). Loads PyTorch."""
    import torch

    gpus: list[dict[str, Any]] = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            properties = torch.cuda.get_device_properties(index)
            gpus.append(
                {
                    "name": properties.name,
                    "memory_gb": round(properties.total_memory / 1e9, 1),
                    "capability": f"{properties.major}.{properties.minor}",
                }
            )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return {
        "kind": "machine",
        "facetransfer": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": bool(gpus),
        "cuda_version": torch.version.cuda,
        "gpus": gpus,
        "cpu_cores": cores,
        "memory_gb": _memory_gb(),
        "preset": "gpu128" if gpus else "cpu",
    }
