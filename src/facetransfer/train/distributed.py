"""Where training runs: the device, and PyTorch's own data-parallel engine when started by torchrun.

`torchrun --nproc-per-node N -m facetransfer train ...` starts N processes with RANK, WORLD_SIZE,
LOCAL_RANK and a rendezvous in their environment; each joins one process group (NCCL on CUDA, gloo
on CPU), trains on its own random batches, and the gradients are averaged across processes by
`DistributedDataParallel`. Only rank 0 writes to the model folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from facetransfer.errors import ConfigError

logger = logging.getLogger(__name__)


def pick_device(preference: str, local_rank: int = 0) -> torch.device:
    """`auto` picks CUDA (this process's local GPU) when there is one, else the CPU."""
    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    if preference.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {preference!r} was asked for but CUDA is not available; use --device cpu"
            )
        if preference == "cuda":
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device(preference)
    if preference != "cpu":
        raise ConfigError(f"unknown device {preference!r}; use auto, cpu, cuda or cuda:N")
    return torch.device("cpu")


@dataclass
class Distributed:
    """This process's place in a data-parallel run (world size 1 when not started by torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> Distributed:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls()
        return cls(
            rank=int(os.environ["RANK"]),
            world_size=world_size,
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        )

    def start(self, device: torch.device) -> None:
        """Join the process group (NCCL for CUDA, gloo for CPU)."""
        if not self.enabled or dist.is_initialized():
            return
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, device_id=device if device.type == "cuda" else None)
        logger.info("rank %d of %d joined the %s process group", self.rank, self.world_size, backend)

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        if not self.enabled:
            return model
        device_ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """All-reduce (sum) a small tensor across ranks; returns it unchanged when alone."""
        if self.enabled:
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def gather_strings(self, value: str) -> list[str]:
        if not self.enabled:
            return [value]
        gathered: list[object] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return [str(item) for item in gathered]

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def stop(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def weights_digest(model: nn.Module) -> str:
    """sha256 of the model's tensors (names, shapes and bytes), to compare weights across ranks."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
