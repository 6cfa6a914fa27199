"""Fitting a mask model on one faceset's crops and masks (`fit_mask_model`), and its loss.

Most masks are automatic (`facetransfer.faces.skin.skin_mask`), a few painted by the user; the caller
gives each face a weight (the user's larger) and the loss of each face counts by it. The loop reads top
to bottom: draw a batch, vary it (`augment.py`), predict, weighted BCE + soft Dice, one Adam step.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch.nn import functional

from facetransfer.maskmodel.arrays import check_training_arrays, images_to_tensor, resize_crops, resize_masks
from facetransfer.maskmodel.augment import AugmentRanges, augment_batch
from facetransfer.maskmodel.model import DEFAULT_WIDTHS, MaskModel
from facetransfer.maskmodel.settings import MaskFitSettings

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, float], None]
"""progress(step, steps, loss): called after each step, `step` counting from 1."""

WARMUP_FRACTION = 0.05
"""The learning rate rises linearly over this share of the steps, then falls on a cosine."""
FINAL_LEARNING_RATE_FRACTION = 0.05
WEIGHT_DECAY = 1e-4
_DICE_SMOOTH = 1.0
DEFAULT_SETTINGS = MaskFitSettings()


def weighted_mask_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Scalar: the mean over the batch of weight * (BCE + soft Dice loss) of each face.

    `logits` float32 (N, 1, R, R); `targets` float32 (N, 1, R, R) in [0, 1]; `weights` float32 (N,) >= 0.
    BCE is the mean over a face's pixels; Dice (1 - 2|P∩T| / (|P| + |T|) on probabilities) makes a
    small face count as much as a large one and keeps the edge from drifting outwards, where BCE alone
    is content with a blurred boundary.
    """
    bce = functional.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=(1, 2, 3))
    probabilities = torch.sigmoid(logits)
    overlap = (probabilities * targets).sum(dim=(1, 2, 3))
    total = probabilities.sum(dim=(1, 2, 3)) + targets.sum(dim=(1, 2, 3))
    dice = 1.0 - (2.0 * overlap + _DICE_SMOOTH) / (total + _DICE_SMOOTH)
    return (weights * (bce + dice)).mean()


def learning_rate_at(step: int, steps: int, peak: float) -> float:
    """The learning rate of step `step` (0-based) of `steps`: linear warm-up, then cosine decay to
    `FINAL_LEARNING_RATE_FRACTION` of `peak`."""
    warmup = max(1, round(WARMUP_FRACTION * steps))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    floor = peak * FINAL_LEARNING_RATE_FRACTION
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _batches(count: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless batches of face indices: every face once per shuffled pass (repeated within a batch
    only when there are fewer faces than the batch holds)."""
    order: np.ndarray = np.empty(0, dtype=np.int64)
    while True:
        while len(order) < batch_size:
            order = np.concatenate([order, rng.permutation(count)])
        yield order[:batch_size]
        order = order[batch_size:]


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Run the block with `threads` intra-op threads (0: as they are), then restore the setting."""
    if threads <= 0:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def fit_mask_model(
    crops: np.ndarray,
    masks: np.ndarray,
    weights: np.ndarray,
    settings: MaskFitSettings = DEFAULT_SETTINGS,
    progress: ProgressCallback | None = None,
) -> MaskModel:
    """Fit a new `MaskModel` on a faceset's faces and return it in eval mode (on the CPU).

    Args:
        crops: uint8 (N, S, S, 3) RGB aligned face crops; resized to `settings.resolution`.
        masks: float32 (N, S, S) in [0, 1], the mask each crop should get (1: face).
        weights: float32 (N,) >= 0, how much each face's loss counts (the caller gives hand-painted
            masks `settings.user_weight`, automatic ones 1); at least one positive.
        settings: resolution, steps, batch size, learning rate, seed, threads.
        progress: called after each step with (step, steps, loss), step from 1.

    Deterministic: the same arrays, settings and number of threads give the same weights. The global
    PyTorch random state is left as it was.
    """
    check_training_arrays(crops, masks, weights)
    side = settings.resolution
    count = crops.shape[0]
    # kept small: uint8 at the network's size, converted a batch at a time
    small_crops = resize_crops(crops, side)
    small_masks = np.round(resize_masks(masks, side) * 255.0).astype(np.uint8)
    # a weight's meaning does not depend on the others: the loss is divided by their mean, not by
    # the batch's sum, so a hand-painted face counts user_weight times an automatic one in any batch
    face_weights = torch.from_numpy(weights.astype(np.float32) / float(weights.mean()))
    rng = np.random.default_rng(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    ranges = AugmentRanges()
    with _torch_threads(settings.threads):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            model = MaskModel(side, DEFAULT_WIDTHS)
        model.train()
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=settings.learning_rate, weight_decay=WEIGHT_DECAY
        )
        logger.info(
            "fitting a %s on %d faces (%d weighted above 1) for %d steps",
            model.describe(),
            count,
            int((weights > 1.0).sum()),
            settings.steps,
        )
        started_s = time.perf_counter()
        batches = _batches(count, settings.batch_size, rng)
        recent_losses: list[float] = []
        for step in range(settings.steps):
            indices = next(batches)
            images = images_to_tensor(small_crops[indices])
            targets = torch.from_numpy(small_masks[indices]).unsqueeze(1).float().div_(255.0)
            images, targets = augment_batch(images, targets, generator, ranges)
            images = images.contiguous(memory_format=torch.channels_last)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(step, settings.steps, settings.learning_rate)
            loss = weighted_mask_loss(model(images), targets, face_weights[indices])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            recent_losses.append(value)
            if progress is not None:
                progress(step + 1, settings.steps, value)
            if (step + 1) % max(1, settings.steps // 10) == 0 or step + 1 == settings.steps:
                logger.info(
                    "mask model step %d/%d: loss %.4f (mean of the last %d)",
                    step + 1,
                    settings.steps,
                    float(np.mean(recent_losses)),
                    len(recent_losses),
                )
                recent_losses.clear()
        logger.info("fitted the mask model in %.1f s", time.perf_counter() - started_s)
    return model.eval()
