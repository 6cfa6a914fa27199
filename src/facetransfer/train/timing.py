"""How long a training step of a model takes on this machine, measured before training starts."""

from __future__ import annotations

import time

import torch

from facetransfer.modelfolder.config import RunConfig
from facetransfer.models.registry import build_model


def measure_seconds_per_step(run_config: RunConfig, repeats: int = 3) -> float:
    """Seconds per training step of the model on random data (forward, loss, backward, AdamW step),
    after one warm-up step: the basis of the time estimate printed before training."""
    model = build_model(run_config.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    size, batch = run_config.model.resolution, run_config.train.batch_size
    faces = torch.rand(batch, 3, size, size)
    timings = []
    for index in range(repeats + 1):
        step_started = time.perf_counter()
        source_image, source_mask, target_image, target_mask = model(faces, faces)
        loss = (source_image - faces).abs().mean() + (target_image - faces).abs().mean()
        loss = loss + source_mask.mean() + target_mask.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if index:
            timings.append(time.perf_counter() - step_started)
    return sorted(timings)[len(timings) // 2]
