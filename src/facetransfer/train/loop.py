"""The training loop: `train(source_faceset, target_faceset, model_dir, config) -> TrainResult`.

It reads top to bottom: the model folder (new or resumed), the data, the model and optimizer, then
one step at a time: learning rate, batch, augmentation, forward, loss, backward, the non-finite
check, the optimizer step, and the periodic metrics / previews / saves. It stops at the step target,
the time limit or a signal (Ctrl-C, SIGTERM), always after saving. What the loop decides at each
step is handed to small named pieces: `_Stopping` (when to stop), `_halve_batch_after_out_of_memory`,
`_Divergence` (skipping non-finite steps, rolling back), `_Saver` and `_StepLog`; `_torch_settings`
puts PyTorch's process-wide settings back when the run ends.

Resuming is exact: the batch and augmentation of step k are drawn from generators seeded by
(seed, k, rank), the learning rate is a function of the step, and the optimizer state is saved
with the weights, so a run that was stopped and resumed makes the same updates as one that was not
(up to floating-point non-determinism of the kernels).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import torch
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from facetransfer.errors import CheckpointError, ConfigError, DivergenceError, TrainingOutOfMemoryError
from facetransfer.modelfolder.bases import AUTO_BASE, BaseSource, apply_base, resolve_base
from facetransfer.modelfolder.checkpoints import TrainingState, latest_checkpoint, recover, update_best
from facetransfer.modelfolder.config import (
    PREVIEWS_DIR,
    RunConfig,
    describe_architecture,
    is_model_dir,
    read_config,
    write_config,
)
from facetransfer.modelfolder.metrics import append_metrics, truncate_metrics
from facetransfer.modelfolder.weights import load_checkpoint, read_extra_state, save_checkpoint
from facetransfer.models import registry
from facetransfer.models.base import FaceSwapModel
from facetransfer.options import build, option_values
from facetransfer.presets import AugmentConfig, ModelConfig, TrainConfig, get_preset
from facetransfer.safety import check_not_input
from facetransfer.train.adversarial import Adversary
from facetransfer.train.augment import augment, to_float_nchw, unaugmented
from facetransfer.train.data import FaceData, FaceSampler, load_faces
from facetransfer.train.distributed import Distributed, pick_device, weights_digest
from facetransfer.train.loss import FaceLoss
from facetransfer.train.previews import render_preview, write_preview

logger = logging.getLogger(__name__)
PROGRESS_LINE_EVERY_S = 60.0
"""Without a progress bar (stderr not a terminal), an INFO line with the step and losses this often."""

StopReason = Literal["iterations", "minutes", "signal", "already_done"]
PREVIEW_ROWS = 4
HOLDOUT_MAX_FACES = 64
MAX_ROLLBACKS = 6


@dataclass
class TrainResult:
    """What a call to `train` did."""

    model_dir: Path
    start_step: int
    step: int
    stopped_by: StopReason
    checkpoint: Path | None
    losses: dict[str, float] = field(default_factory=dict)
    holdout_loss: float | None = None
    seconds: float = 0.0
    batch_size: int = 0
    rollbacks: int = 0
    weights_sha256: str = ""
    signal_name: str = ""  # SIGINT or SIGTERM when `stopped_by` is "signal"


# --- configuration --------------------------------------------------------------------------------
def default_preset_name() -> str:
    return "gpu128" if torch.cuda.is_available() else "cpu"


def resolve_config(
    model_dir: str | os.PathLike[str],
    preset: str | None = None,
    model_options: Mapping[str, Any] | None = None,
    train_options: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
) -> RunConfig:
    """The configuration for `train`, from the model folder when it exists, else from a preset.

    What the user set comes as `values` (`section.path` keys, from a config file and flags: see
    `facetransfer.options`) or, for library callers, as `model_options` / `train_options` by field
    name (None values are ignored). For an existing model the architecture is the saved one: a preset
    or an option that contradicts it is a `ConfigError`; training options replace the saved ones,
    except `minutes`, which is per run.
    """
    given = dict(values or {})
    given.update(option_values(ModelConfig, model_options or {}))
    given.update(option_values(TrainConfig, train_options or {}))
    if is_model_dir(model_dir):
        saved = read_config(model_dir)
        model_given = {key: value for key, value in given.items() if key.startswith("model.")}
        wanted = build(ModelConfig, model_given, get_preset(preset).model if preset else saved.model)
        for item in fields(ModelConfig):
            value, saved_value = getattr(wanted, item.name), getattr(saved.model, item.name)
            if value != saved_value:
                origin = "the option" if f"model.{item.name}" in model_given else f"preset {preset!r}"
                saved_architecture = describe_architecture(saved.model.name, saved.model.options())
                raise ConfigError(
                    f"{model_dir}: {origin} sets {item.name.replace('_', ' ')} to {value!r} but the "
                    f"saved model has {saved_value!r} ({saved_architecture}); drop it to resume, or use "
                    "a new folder"
                )
        train_config = build(TrainConfig, given, replace(saved.train, minutes=None))
        return RunConfig(model=saved.model, train=train_config, data=saved.data, parameters=saved.parameters)
    return new_model_config(preset, given)


def new_model_config(preset: str | None, values: Mapping[str, Any]) -> RunConfig:
    """The configuration of a new model: `preset` (default: the machine's) with `values` on top, and
    its base (`--base`). A base brings its architecture: an architecture option or an explicit preset
    that contradicts it is a `ConfigError`; `auto` without a shipped base for the architecture starts
    from scratch."""
    preset_name = preset or default_preset_name()
    starting_point = get_preset(preset_name)
    train_config = build(TrainConfig, values, starting_point.train)
    model = build(ModelConfig, values, starting_point.model)
    base = resolve_base(train_config.base, preset_name)
    if base is not None and train_config.base == AUTO_BASE and base.model != model:
        logger.info(
            "no shipped base for %s; starting from scratch",
            describe_architecture(model.name, model.options()),
        )
        base = None
    if base is not None:
        model = _architecture_of_base(base, values, model)
    registry.check_name(model.name)  # an unknown architecture fails here, before any work
    return RunConfig(model=model, train=train_config, base=base)


def _architecture_of_base(base: BaseSource, given: Mapping[str, Any], model: ModelConfig) -> ModelConfig:
    """The base's architecture (a preset's architecture gives way to it; its training options stay);
    an architecture option that contradicts it is a `ConfigError`."""
    for item in fields(ModelConfig):
        key = f"model.{item.name}"
        value, base_value = getattr(model, item.name), getattr(base.model, item.name)
        if key not in given or value == base_value:
            continue
        flag = "--architecture" if item.name == "name" else f"--{item.name.replace('_', '-')}"
        raise ConfigError(
            f"{base.weights}: {flag} asks for {item.name.replace('_', ' ')} {value!r} but the base "
            f"has {base_value!r} ({describe_architecture(base.model.name, base.model.options())}); the "
            "architecture comes from the base: drop the option, or pass --base none"
        )
    return base.model


def run_budget_s(config: TrainConfig, elapsed_before_s: float) -> float | None:
    """Seconds this run may train: the least of `minutes` and what `total_minutes` leaves after the
    model's earlier runs (`elapsed_before_s`); None without a time budget."""
    budgets = []
    if config.minutes is not None:
        budgets.append(config.minutes * 60.0)
    if config.total_minutes is not None:
        budgets.append(max(0.0, config.total_minutes * 60.0 - elapsed_before_s))
    return min(budgets) if budgets else None


def budget_reached(config: TrainConfig, step: int, elapsed_s: float) -> bool:
    """Whether a model at `step` after `elapsed_s` seconds of training has nothing left to train."""
    run_s = run_budget_s(config, elapsed_s)
    return (config.iterations is not None and step >= config.iterations) or (
        run_s is not None and run_s < 3.0
    )


# --- small pieces of the loop ---------------------------------------------------------------------
def _step_seed(seed: int, step: int, rank: int) -> int:
    return ((seed * 1_000_003 + step) * 1_009 + rank) % (2**63 - 1)


def learning_rate(config: TrainConfig, step: int, scale: float = 1.0, sharpening: float = 0.0) -> float:
    """The configured rate times `scale`, ramped up linearly over the first `warmup_steps`, and
    falling linearly to a tenth over the sharpening phase (`sharpening`: 0 before it, 1 at its end)."""
    warmup = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps > 0 else 1.0
    return config.learning_rate * scale * warmup * (1.0 - 0.9 * sharpening)


def budget_progress(config: TrainConfig, step: int, elapsed_s: float) -> float | None:
    """How far through its budget a model at `step` after `elapsed_s` seconds of training (all runs)
    is, from 0 to 1: the furthest of the step target and the total time budget; None without either
    (a per-run `minutes` budget says nothing of the model's whole training)."""
    done = []
    if config.iterations:
        done.append(step / config.iterations)
    if config.total_minutes:
        done.append(elapsed_s / (config.total_minutes * 60.0))
    return min(1.0, max(done)) if done else None


def sharpening(config: TrainConfig, progress: float | None) -> float:
    """Where in the final sharpening phase a model is: 0 before it (or without one), up to 1 at the
    budget's end."""
    if not config.sharpen_fraction or progress is None:
        return 0.0
    start = 1.0 - config.sharpen_fraction
    return max(0.0, (progress - start) / config.sharpen_fraction) if progress >= start else 0.0


def _make_optimizer(model: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    return torch.optim.AdamW(
        model.parameters(),
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
        fused=device.type == "cuda",
    )


def _preview_positions(data: FaceData) -> list[int]:
    """Fixed faces for the previews: held-out ones first (unseen by the model), then training ones."""
    chosen = list(data.holdout_indices[:PREVIEW_ROWS]) + list(data.train_indices[:PREVIEW_ROWS])
    return [int(index) for index in chosen[:PREVIEW_ROWS]]


def _faces_on(data: FaceData, indices: list[int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.from_numpy(data.images[indices].copy()).to(device)
    masks = torch.from_numpy(data.masks[indices].copy()).to(device)
    return images, masks


@torch.no_grad()
def holdout_loss(
    model: FaceSwapModel,
    sides: list[tuple[FaceData, list[int]]],
    loss_fn: FaceLoss,
    device: torch.device,
    autocast_dtype: torch.dtype | None,
    batch_size: int,
) -> float:
    """Mean reconstruction loss (no augmentation) of both people's held-out faces."""
    was_training = model.training
    model.eval()
    per_side = []
    for side_index, (data, indices) in enumerate(sides):
        total, count = 0.0, 0
        for start in range(0, len(indices), batch_size):
            images, masks = _faces_on(data, indices[start : start + batch_size], device)
            batch = unaugmented(images, masks)
            with torch.autocast(
                device.type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None
            ):
                forward = model.forward_source if side_index == 0 else model.forward_target
                image, mask = forward(batch.warped)
            loss, _parts = loss_fn(image, mask, batch.target, batch.masks)
            total += float(loss) * len(images)
            count += len(images)
        per_side.append(total / max(1, count))
    model.train(was_training)
    return sum(per_side) / len(per_side)


@dataclass
class StepOutcome:
    """Detached losses (scalars on the device) and the gradient norm of one step."""

    source_loss: torch.Tensor
    target_loss: torch.Tensor
    grad_norm: torch.Tensor
    source_parts: dict[str, torch.Tensor]
    target_parts: dict[str, torch.Tensor]


def training_step(
    step_model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: FaceLoss,
    augment_config: AugmentConfig,
    source_faces: tuple[torch.Tensor, torch.Tensor],
    target_faces: tuple[torch.Tensor, torch.Tensor],
    generator: torch.Generator,
    memory_format: torch.memory_format = torch.contiguous_format,
    use_bf16: bool = False,
    clip_grad_norm: float = 0.0,
    adversary: Adversary | None = None,
) -> StepOutcome:
    """Augment both batches, run the model on them, compute both losses and the gradients
    (clipped when `clip_grad_norm` > 0). The optimizer step is left to the caller, who first checks
    that everything is finite. `source_faces` / `target_faces`: uint8 images and masks (B, R, R, 3).
    With an `adversary` (the patch-GAN), its term joins the source's loss and its discriminator
    takes a step on this batch."""
    source_batch = augment(*source_faces, augment_config, generator, color_reference=target_faces)
    target_batch = augment(*target_faces, augment_config, generator)
    device_type = source_batch.warped.device.type
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=use_bf16):
        source_image, source_mask, target_image, target_mask = step_model(
            source_batch.warped.contiguous(memory_format=memory_format),
            target_batch.warped.contiguous(memory_format=memory_format),
        )
        source_loss, source_parts = loss_fn(
            source_image, source_mask, source_batch.target, source_batch.masks
        )
        target_loss, target_parts = loss_fn(
            target_image, target_mask, target_batch.target, target_batch.masks
        )
        if adversary is not None:
            face = loss_fn.face_weight(source_batch.masks)
            adversarial = adversary.model_loss(source_image, face)
            source_parts["gan"] = adversarial.detach()
            source_loss = source_loss + adversary.weight * adversarial
    optimizer.zero_grad(set_to_none=True)
    (source_loss + target_loss).backward()
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    grad_norm = torch.nn.utils.clip_grad_norm_(parameters, clip_grad_norm if clip_grad_norm > 0 else math.inf)
    if adversary is not None:
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=use_bf16):
            source_parts["discriminator"] = adversary.discriminator_step(
                source_batch.target, source_image, face, optimizer.param_groups[0]["lr"]
            )
    return StepOutcome(
        source_loss.detach(), target_loss.detach(), grad_norm.detach(), source_parts, target_parts
    )


def optimizer_step(optimizer: torch.optim.Optimizer, keep: float, generator: torch.Generator) -> None:
    """The optimizer's step; with learning-rate dropout (`keep` < 1) each weight takes its update
    with probability `keep` and otherwise stays as it was (the optimizer's moments still move).
    The draws come from `generator`, seeded per step, so a resumed run is exact."""
    if keep >= 1.0:
        optimizer.step()
        return
    parameters = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    before = [parameter.detach().clone() for parameter in parameters]
    optimizer.step()
    with torch.no_grad():
        for parameter, previous in zip(parameters, before, strict=True):
            dropped = torch.rand(parameter.shape, generator=generator, device=parameter.device) >= keep
            parameter.copy_(torch.where(dropped, previous, parameter))


# --- what the loop hands off: process settings, stopping, out of memory, divergence, saves, logs -----
@contextmanager
def _torch_settings(threads: int, device: torch.device) -> Iterator[None]:
    """PyTorch's process-wide settings for a run, put back afterwards (a library call must not leave
    its caller's process changed): the CPU thread count when `threads` > 0, and on CUDA cuDNN's
    autotuner and TF32 for the float32 matrix products that autocast leaves."""
    previous_threads = torch.get_num_threads()
    previous_benchmark = torch.backends.cudnn.benchmark
    previous_precision = torch.get_float32_matmul_precision()
    try:
        if threads:
            torch.set_num_threads(threads)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.set_float32_matmul_precision("high")
        yield
    finally:
        if threads:
            torch.set_num_threads(previous_threads)
        torch.backends.cudnn.benchmark = previous_benchmark
        torch.set_float32_matmul_precision(previous_precision)


@contextmanager
def _joined(distributed: Distributed, device: torch.device) -> Iterator[None]:
    """The process group joined for the run (with several processes) and left after it."""
    distributed.start(device)
    try:
        yield
    finally:
        distributed.stop()


class _StopRequest:
    """SIGINT / SIGTERM set a flag that the loop checks after each step; a second signal aborts."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.signal_name = signal.Signals(signum).name
        logger.warning(
            "%s received: stopping after this step and saving (send it again to abort)", self.signal_name
        )

    @contextmanager
    def installed(self) -> Iterator[_StopRequest]:
        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, self.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        else:
            previous = {}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class _Stopping:
    """When to stop: the step target, the time budget (this run's, or what is left of the model's
    total), or a signal. One process looks at the clock and the signal flag before each step; several
    processes act on the flags every rank sent with the previous step's losses (`agree`), so that
    all of them stop after the same step."""

    def __init__(self, config: TrainConfig, distributed: bool, elapsed_before_s: float) -> None:
        self.iterations = config.iterations
        budget_s = run_budget_s(config, elapsed_before_s)
        self.deadline = time.monotonic() + budget_s if budget_s is not None else None
        self.signals = _StopRequest()
        self.distributed = distributed
        self.agreed_signal = self.agreed_time_is_up = False

    def time_is_up(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def local_flags(self) -> list[float]:
        """This rank's signal and time flags, to be summed over the ranks."""
        return [float(self.signals.requested), float(self.time_is_up())]

    def agree(self, signal_seen: bool, time_is_up: bool) -> None:
        self.agreed_signal, self.agreed_time_is_up = signal_seen, time_is_up

    def reason(self, step: int) -> StopReason | None:
        """Why to stop before `step`, or None to go on. A signal wins over a budget reached at the
        same step: the caller must know that the user stopped it."""
        if self.distributed:
            signal_seen, time_is_up = self.agreed_signal, self.agreed_time_is_up
        else:
            signal_seen, time_is_up = self.signals.requested, self.time_is_up()
        if signal_seen:
            return "signal"
        if self.iterations is not None and step >= self.iterations:
            return "iterations"
        return "minutes" if time_is_up else None


def _step_values(
    outcome: StepOutcome, distributed: Distributed, stopping: _Stopping
) -> tuple[float, float, float]:
    """The step's source loss, target loss and gradient norm as numbers, in one transfer from the
    device; with several processes, their means over the ranks, from one all-reduce that also
    carries every rank's stop flags."""
    values = torch.stack([outcome.source_loss, outcome.target_loss, outcome.grad_norm]).float()
    if not distributed.enabled:
        source, target, norm = values.tolist()
        return source, target, norm
    flags = torch.tensor(stopping.local_flags(), device=values.device)
    summed = distributed.sum(torch.cat([values, flags])).tolist()
    stopping.agree(signal_seen=summed[3] > 0, time_is_up=summed[4] > 0)
    source, target, norm = (value / distributed.world_size for value in summed[:3])
    return source, target, norm


def _halve_batch_after_out_of_memory(
    state: TrainingState, requested_batch_size: int, device: torch.device, distributed: bool
) -> None:
    """Out of device memory: halve the batch and remember the size asked for, or give up when it
    cannot be halved (one face) or must stay the same on every rank (several processes)."""
    _release_memory(device)
    if distributed or state.batch_size == 1:
        raise TrainingOutOfMemoryError(
            f"out of {device.type.upper()} memory at batch size {state.batch_size}"
            f"{' in a multi-process run' if distributed else ''}; "
            "use a smaller --batch-size, --resolution or preset"
        ) from None
    if state.requested_batch_size is None:
        state.requested_batch_size = requested_batch_size
    state.batch_size //= 2
    logger.warning("out of GPU memory: batch size lowered to %d per person", state.batch_size)


class _Divergence:
    """Non-finite steps: each one is skipped; `nan_patience` of them in a row roll the model back to
    the newest save with half the learning rate, at most MAX_ROLLBACKS times, then training gives up."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.in_a_row = 0
        self.rollbacks = 0

    def needs_rollback(self, finite: bool, step: int) -> bool:
        """Count a step (`step` is its 0-based index); True when it is time to roll back."""
        if finite:
            self.in_a_row = 0
            return False
        self.in_a_row += 1
        logger.warning("step %d: loss or gradient is not finite; step skipped", step + 1)
        return self.in_a_row >= self.config.nan_patience

    def roll_back(
        self,
        model_dir: Path,
        model: FaceSwapModel,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        state: TrainingState,
        adversary: Adversary | None = None,
    ) -> tuple[TrainingState, Path]:
        """The state of the newest checkpoint, loaded into `model` and `optimizer`, with half the
        learning-rate scale of `state`; and that checkpoint. `DivergenceError` when there is none to
        go back to or the roll-backs are used up."""
        checkpoint = latest_checkpoint(model_dir)
        if checkpoint is None or self.rollbacks >= MAX_ROLLBACKS:
            raise DivergenceError(
                f"training diverges (non-finite loss after {self.rollbacks} roll-backs); "
                "lower --learning-rate or turn on gradient clipping"
            )
        scale = state.lr_scale / 2
        restored = load_checkpoint(checkpoint, model, optimizer, device)
        _load_adversary(adversary, checkpoint, device)
        restored.lr_scale = scale
        self.in_a_row = 0
        self.rollbacks += 1
        logger.warning(
            "%d non-finite steps in a row: rolled back to %s and halved the learning rate (to %.3g)",
            self.config.nan_patience,
            checkpoint.name,
            learning_rate(self.config, restored.step, restored.lr_scale),
        )
        return restored, checkpoint


class _Saver:
    """Checkpoints of this run: when one is due (every `save_every_steps` steps or `save_every_min`
    minutes), and the save itself: held-out loss, checkpoint, `best/` when the held-out loss
    improved. Rank 0 writes; every rank keeps the bookkeeping."""

    def __init__(
        self,
        model_dir: Path,
        model: FaceSwapModel,
        optimizer: torch.optim.Optimizer,
        config: TrainConfig,
        measure_holdout: Callable[[int], float],
        is_main: bool,
        checkpoint: Path | None,
        saved_step: int,
        elapsed_before_s: float,
        adversary: Adversary | None = None,
    ) -> None:
        self.model_dir, self.model, self.optimizer, self.config = model_dir, model, optimizer, config
        self.adversary = adversary
        self.measure_holdout = measure_holdout  # batch size -> mean held-out loss
        self.is_main = is_main
        self.checkpoint = checkpoint  # the newest checkpoint of the folder
        self.saved_step = saved_step
        self.elapsed_before_s = elapsed_before_s
        self.run_started = self.last_save = time.monotonic()

    def due(self, step: int) -> bool:
        by_steps = self.config.save_every_steps and step % self.config.save_every_steps == 0
        by_time = time.monotonic() - self.last_save >= self.config.save_every_min * 60
        return bool(by_steps or by_time)

    def save(self, state: TrainingState, losses: dict[str, float], reason: str) -> None:
        """Save `state` (a step saved already is not saved again)."""
        if state.step == self.saved_step:
            return
        state.elapsed_s = self.elapsed_before_s + (time.monotonic() - self.run_started)
        state.losses = losses
        if self.is_main:
            state.holdout_loss = self.measure_holdout(max(1, state.batch_size))
            improved = state.best_holdout_loss is None or state.holdout_loss < state.best_holdout_loss
            if improved:
                state.best_holdout_loss, state.best_step = state.holdout_loss, state.step
            try:
                self.checkpoint = save_checkpoint(
                    self.model_dir,
                    self.model,
                    self.optimizer,
                    state,
                    self.config.keep_saves,
                    _extra_state(self.adversary),
                )
            except CheckpointError:
                # the metrics go back to the last save, as a resume would put them (if the disk lets)
                with contextlib.suppress(OSError):
                    truncate_metrics(self.model_dir, max(0, self.saved_step))
                raise
            if improved:
                update_best(self.model_dir, self.checkpoint)
            logger.info(
                "saved %s (%s; held-out loss %.4f%s)",
                self.checkpoint.name,
                reason,
                state.holdout_loss,
                ", best so far" if improved else "",
            )
        self.last_save = time.monotonic()
        self.saved_step = state.step


class _StepLog:
    """After each step: a metrics line every `log_every` steps (and on the run's first step), the
    progress bar's text, and where there is no bar (stderr not a terminal) an INFO line at most every
    PROGRESS_LINE_EVERY_S seconds."""

    def __init__(
        self, model_dir: Path, config: TrainConfig, is_main: bool, bar: tqdm, deadline: float | None
    ) -> None:
        self.model_dir, self.config, self.is_main = model_dir, config, is_main
        self.bar, self.deadline = bar, deadline
        self.window_started = self.last_line = time.monotonic()
        self.window_steps = 0

    def step_done(
        self,
        state: TrainingState,
        start_step: int,
        step_lr: float,
        values: tuple[float, float, float],
        outcome: StepOutcome,
    ) -> None:
        self.window_steps += 1
        if not (state.step % self.config.log_every == 0 or state.step == start_step + 1):
            return
        now = time.monotonic()
        seconds_per_step = (now - self.window_started) / max(1, self.window_steps)
        self.window_started, self.window_steps = now, 0
        source_value, target_value, norm_value = values
        if self.is_main:
            record: dict[str, Any] = {
                "step": state.step,
                "loss_source": source_value,
                "loss_target": target_value,
                "learning_rate": step_lr,
                "seconds_per_step": round(seconds_per_step, 5),
                "batch_size": state.batch_size,
                "grad_norm": norm_value,
            }
            record.update({f"source_{k}": float(v) for k, v in outcome.source_parts.items()})
            record.update({f"target_{k}": float(v) for k, v in outcome.target_parts.items()})
            append_metrics(self.model_dir, [record])
        progress = (
            f"src {source_value:.4f} dst {target_value:.4f} lr {step_lr:.2g} left "
            f"{_time_left(self.config, state.step, seconds_per_step, self.deadline)}"
        )
        self.bar.set_postfix_str(progress, refresh=False)
        if self.bar.disable and self.is_main and now - self.last_line >= PROGRESS_LINE_EVERY_S:
            self.last_line = now
            logger.info("step %d, %.2f s/step: %s", state.step, seconds_per_step, progress)


# --- the loop -------------------------------------------------------------------------------------
def train(
    source_faceset: str | os.PathLike[str],
    target_faceset: str | os.PathLike[str],
    model_dir: str | os.PathLike[str],
    config: RunConfig,
    *,
    description: Mapping[str, Any] | None = None,
    own_entries: frozenset[str] = frozenset(),
) -> TrainResult:
    """Train (or resume) the model in `model_dir` on two facesets. See the module docstring.

    A new model starts from `config.base` when set. `description` adds entries to the `data` of the
    model's config.json; `own_entries` are names inside a new model folder that belong to it (the
    pool of `pretrain`), neither refused nor removed."""
    started = time.monotonic()
    model_dir = Path(model_dir)
    owned = {model_dir / name for name in own_entries}  # (the pool of `pretrain`, named so by it)
    inputs = [path for path in (source_faceset, target_faceset) if Path(path) not in owned]
    check_not_input(model_dir, inputs, "model folder")
    train_config = config.train
    distributed = Distributed.from_environment()
    device = pick_device(train_config.device, distributed.local_rank)
    is_main = distributed.is_main
    with _torch_settings(train_config.threads, device), _joined(distributed, device):
        # 1. The model folder: resume when it holds a model, else start one.
        resuming, saved_data = _open_model_folder(model_dir, config, is_main, own_entries)
        distributed.barrier()

        # 2. The data: both facesets in memory at the model's resolution.
        source, target = _load_facesets(
            source_faceset, target_faceset, model_dir, config, saved_data.get("coverage")
        )
        balance = train_config.balance_yaw
        source_sampler = FaceSampler(source, source.train_indices, device, balance_yaw=balance)
        target_sampler = FaceSampler(target, target.train_indices, device, balance_yaw=balance)

        # 3. Model, optimizer, and the state to resume from.
        torch.manual_seed(train_config.seed)
        model = registry.build_model(config.model).to(device)
        optimizer = _make_optimizer(model, train_config, device)
        gan = train_config.loss.gan_weight
        adversary = Adversary(gan, train_config.learning_rate, device, train_config.seed) if gan else None
        state = TrainingState(step=0, batch_size=train_config.batch_size)
        checkpoint = latest_checkpoint(model_dir) if resuming else None
        if checkpoint is not None:
            state = load_checkpoint(checkpoint, model, optimizer, device)
            _load_adversary(adversary, checkpoint, device)
            if state.requested_batch_size != train_config.batch_size:
                # The user's batch size, unless out-of-memory lowered this very one before.
                state.batch_size, state.requested_batch_size = train_config.batch_size, None
            logger.info("resuming %s from %s (step %d)", model_dir, checkpoint.name, state.step)
            if is_main:
                truncate_metrics(model_dir, state.step)
        data = dict(saved_data)
        if checkpoint is None and config.base is not None:
            data["base"] = _start_from_base(model, config.base, source.coverage)
        config = RunConfig(
            model=config.model,
            train=train_config,
            data={
                **data,
                **_data_description(source_faceset, target_faceset, source, target),
                **(description or {}),
            },
            parameters=model.parameter_count(),
        )
        if is_main:
            folder_was_there = model_dir.exists()
            try:
                model_dir.mkdir(parents=True, exist_ok=True)
                write_config(model_dir, config)
                (model_dir / PREVIEWS_DIR).mkdir(exist_ok=True)
                if checkpoint is None:  # a first save: something to roll back to from the start
                    checkpoint = save_checkpoint(
                        model_dir, model, optimizer, state, train_config.keep_saves, _extra_state(adversary)
                    )
            except BaseException:
                if not resuming:  # a new model that never saved: no folder that looks like a model
                    _remove_unsaved_model(model_dir, folder_was_there, own_entries)
                raise
        saved_step = state.step if checkpoint is not None else -1  # (ranks other than 0 save nothing)
        distributed.barrier()
        logger.info(
            "%s: %s (%.1f M parameters) on %s%s, batch %d per person",
            model_dir,
            describe_architecture(config.model.name, config.model.options()),
            config.parameters / 1e6,
            device,
            f" x {distributed.world_size} processes" if distributed.enabled else "",
            state.batch_size,
        )

        # 4. Speed options: channels_last and bf16 autocast on CUDA, optional torch.compile.
        channels_last = (
            train_config.channels_last if train_config.channels_last is not None else device.type == "cuda"
        )
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        model = model.to(memory_format=memory_format)  # type: ignore[call-overload]
        use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        autocast_dtype = torch.bfloat16 if use_bf16 else None
        step_model: torch.nn.Module = distributed.wrap(model, device)
        if train_config.compile:
            step_model = torch.compile(step_model)  # type: ignore[assignment]
        loss_fn = FaceLoss(config.model.resolution, train_config.loss)
        augment_config = train_config.augment
        preview_source, preview_target = _preview_faces(source, target, device)
        augment_generator = torch.Generator(device=device)

        # 5. The loop, one step at a time, until the step target, the time budget or a signal.
        start_step = state.step
        stopping = _Stopping(train_config, distributed.enabled, state.elapsed_s)
        measure_holdout = partial(
            holdout_loss, model, _holdout_sides(source, target), loss_fn, device, autocast_dtype
        )
        saver = _Saver(
            model_dir,
            model,
            optimizer,
            train_config,
            measure_holdout,
            is_main,
            checkpoint,
            saved_step,
            elapsed_before_s=state.elapsed_s,
            adversary=adversary,
        )
        divergence = _Divergence(train_config)
        stopped_by: StopReason = "already_done"
        losses: dict[str, float] = dict(state.losses)
        with (
            stopping.signals.installed(),
            logging_redirect_tqdm(),
            tqdm(
                total=train_config.iterations,
                initial=state.step,
                unit="it",
                file=sys.stderr,
                dynamic_ncols=True,
                # like the other commands' bars: off with --quiet (log level above INFO), on
                # non-terminals and on ranks other than 0
                disable=True if not is_main or not logger.isEnabledFor(logging.INFO) else None,
                smoothing=0.05,
            ) as bar,
        ):
            step_log = _StepLog(model_dir, train_config, is_main, bar, stopping.deadline)
            while True:
                reason = stopping.reason(state.step)
                if reason is not None:
                    at_start = state.step == start_step
                    stopped_by = (
                        "already_done" if at_start and reason in ("iterations", "minutes") else reason
                    )
                    if not at_start:
                        saver.save(state, losses, f"stopped by {stopped_by}")
                    break

                # The learning rate and this step's random draws (a function of the step: exact resume).
                elapsed_s = saver.elapsed_before_s + (time.monotonic() - saver.run_started)
                phase = sharpening(train_config, budget_progress(train_config, state.step, elapsed_s))
                step_lr = learning_rate(train_config, state.step, state.lr_scale, phase)
                step_augment = replace(augment_config, random_warp=False) if phase > 0 else augment_config
                for group in optimizer.param_groups:
                    group["lr"] = step_lr
                augment_generator.manual_seed(_step_seed(train_config.seed, state.step, distributed.rank))
                where = (state.step, state.batch_size)
                ranks = (distributed.rank, distributed.world_size)

                try:
                    # Batch, augmentation, forward, loss and backward (all on the training device).
                    source_faces = source_sampler.sample(*where, 2 * train_config.seed, *ranks)
                    target_faces = target_sampler.sample(*where, 2 * train_config.seed + 1, *ranks)
                    outcome = training_step(
                        step_model, optimizer, loss_fn, step_augment, source_faces, target_faces,
                        augment_generator, memory_format, use_bf16, train_config.clip_grad_norm,
                        adversary,
                    )  # fmt: skip
                except torch.OutOfMemoryError:
                    optimizer.zero_grad(set_to_none=True)
                    _halve_batch_after_out_of_memory(
                        state, train_config.batch_size, device, distributed.enabled
                    )
                    continue

                # The optimizer step, unless the loss or the gradient is not finite.
                values = _step_values(outcome, distributed, stopping)
                finite = all(math.isfinite(value) for value in values)
                if finite:
                    optimizer_step(optimizer, train_config.lr_dropout, augment_generator)
                else:
                    optimizer.zero_grad(set_to_none=True)
                if divergence.needs_rollback(finite, state.step):
                    state, saver.checkpoint = divergence.roll_back(
                        model_dir, model, optimizer, device, state, adversary
                    )
                    bar.n = state.step
                    continue
                state.step += 1
                bar.update(1)

                # Metrics, progress, previews and timed saves.
                if finite:
                    losses = {"source": values[0], "target": values[1]}
                step_log.step_done(state, start_step, step_lr, values, outcome)
                if is_main and train_config.preview_every and state.step % train_config.preview_every == 0:
                    grid = render_preview(model, preview_source, preview_target, autocast_dtype)
                    write_preview(model_dir / PREVIEWS_DIR, state.step, grid)
                if saver.due(state.step) and divergence.in_a_row == 0:  # never save mid-streak
                    saver.save(state, losses, "scheduled")

        if is_main and stopped_by != "already_done" and train_config.preview_every:
            grid = render_preview(model, preview_source, preview_target, autocast_dtype)
            write_preview(model_dir / PREVIEWS_DIR, state.step, grid)
        if stopped_by == "already_done":
            logger.info("%s is already at step %d; nothing to train", model_dir, state.step)
        digest = _agreed_weights_digest(model, distributed, state.step)
        return TrainResult(
            model_dir=model_dir,
            start_step=start_step,
            step=state.step,
            stopped_by=stopped_by,
            checkpoint=saver.checkpoint,
            losses=losses,
            holdout_loss=state.holdout_loss,
            seconds=time.monotonic() - started,
            batch_size=state.batch_size,
            rollbacks=divergence.rollbacks,
            weights_sha256=digest,
            signal_name=stopping.signals.signal_name,
        )


# --- the loop's set-up and ending -------------------------------------------------------------------
def _start_from_base(model: FaceSwapModel, base: BaseSource, coverage: str) -> dict[str, Any] | None:
    """Copy the base into the new model (see `modelfolder.bases.apply_base`); its record. A shipped
    base (`auto`) of another coverage than the facesets' is passed over: from scratch."""
    if base.shipped and base.coverage not in (None, coverage):
        logger.info(
            "the shipped base learned %r crops, these facesets are %r: from scratch", base.coverage, coverage
        )
        return None
    if base.coverage not in (None, coverage):
        raise ConfigError(
            f"{base.weights}: the base learned {base.coverage!r} crops but the facesets are {coverage!r}; "
            "extract them with the base's --coverage, or pass --base none"
        )
    record = apply_base(model, base)
    logger.info(
        "starting from the %s: kept %s%s",
        base.describe(),
        ", ".join(record["kept"]),
        f"; re-initialised {', '.join(record['reinitialised'])}" if record["reinitialised"] else "",
    )
    return record


def _extra_state(adversary: Adversary | None) -> dict[str, Any] | None:
    """What a checkpoint saves beside the model and its optimizer: the patch-GAN's discriminator."""
    return None if adversary is None else {"adversary": adversary.state_dict()}


def _load_adversary(adversary: Adversary | None, checkpoint: Path, device: torch.device) -> None:
    """The discriminator of a checkpoint, when there is one to load into and the checkpoint has it
    (a model that turns the GAN on later starts a new discriminator)."""
    if adversary is None:
        return
    extra = read_extra_state(checkpoint, device)
    if extra and "adversary" in extra:
        adversary.load_state_dict(extra["adversary"])
    else:
        logger.info("%s has no discriminator: the patch-GAN's starts new", checkpoint.name)


def _remove_unsaved_model(model_dir: Path, keep_folder: bool, own_entries: frozenset[str]) -> None:
    """Remove what this run wrote into a new model folder (it was absent, empty or held only
    `own_entries`: `_open_model_folder`)."""
    if not keep_folder and not own_entries:
        shutil.rmtree(model_dir, ignore_errors=True)
        return
    for entry in model_dir.iterdir():
        if entry.name in own_entries:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _open_model_folder(
    model_dir: Path, config: RunConfig, is_main: bool, own_entries: frozenset[str] = frozenset()
) -> tuple[bool, dict[str, Any]]:
    """Whether `model_dir` holds a model to resume, and the `data` of its config.json (the facesets
    and coverage it learned, its base; empty when new). A model of another architecture, or a
    folder with something else in it (other than `own_entries`), is refused; rank 0 cleans up
    after a crash of the previous run."""
    if not is_model_dir(model_dir):
        if model_dir.exists() and any(entry.name not in own_entries for entry in model_dir.iterdir()):
            raise ConfigError(
                f"{model_dir}: exists, is not empty and is not a model folder; choose a new folder"
            )
        return False, {}
    saved = read_config(model_dir)
    if saved.model != config.model:
        saved_architecture = describe_architecture(saved.model.name, saved.model.options())
        asked_architecture = describe_architecture(config.model.name, config.model.options())
        raise ConfigError(
            f"{model_dir}: holds a {saved_architecture} model, not {asked_architecture}; "
            "resume without architecture options or train into a new folder"
        )
    if is_main:
        for action in recover(model_dir):
            logger.info("%s: %s", model_dir, action)
    return True, saved.data


def _load_facesets(
    source_faceset: str | os.PathLike[str],
    target_faceset: str | os.PathLike[str],
    model_dir: Path,
    config: RunConfig,
    saved_coverage: str | None,
) -> tuple[FaceData, FaceData]:
    """Both facesets at the model's resolution, checked to share one coverage, the saved model's."""
    resolution, holdout, seed = config.model.resolution, config.train.holdout_fraction, config.train.seed
    method = config.train.face_mask
    source = load_faces(source_faceset, resolution, holdout, seed, model_dir / "cache", mask_method=method)
    target = load_faces(target_faceset, resolution, holdout, seed, model_dir / "cache", mask_method=method)
    if source.coverage != target.coverage:
        raise ConfigError(
            f"the source faceset covers {source.coverage!r} and the target {target.coverage!r}; "
            "extract both with the same --coverage"
        )
    if saved_coverage not in (None, source.coverage):
        raise ConfigError(
            f"{model_dir}: the model learned {saved_coverage!r} crops but these facesets are "
            f"{source.coverage!r}; use facesets of the same coverage"
        )
    return source, target


def _data_description(
    source_faceset: str | os.PathLike[str],
    target_faceset: str | os.PathLike[str],
    source: FaceData,
    target: FaceData,
) -> dict[str, Any]:
    """The `data` entry of the model's config.json: the facesets it learned."""
    return {
        "source": str(Path(source_faceset).resolve()),
        "target": str(Path(target_faceset).resolve()),
        "coverage": source.coverage,
        "source_faces": len(source),
        "target_faces": len(target),
        "source_crop_size": source.crop_size,
        "target_crop_size": target.crop_size,
    }


def _holdout_sides(source: FaceData, target: FaceData) -> list[tuple[FaceData, list[int]]]:
    """Each person's held-out faces (their training faces when none are held out), at most
    HOLDOUT_MAX_FACES."""
    sides = []
    for data in (source, target):
        indices = data.holdout_indices if len(data.holdout_indices) else data.train_indices
        sides.append((data, [int(i) for i in indices][:HOLDOUT_MAX_FACES]))
    return sides


def _preview_faces(
    source: FaceData, target: FaceData, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed faces of the preview grids, as many rows of each person."""
    preview_source = to_float_nchw(_faces_on(source, _preview_positions(source), device)[0])
    preview_target = to_float_nchw(_faces_on(target, _preview_positions(target), device)[0])
    rows = min(len(preview_source), len(preview_target))
    return preview_source[:rows], preview_target[:rows]


def _agreed_weights_digest(model: FaceSwapModel, distributed: Distributed, step: int) -> str:
    """The sha256 of the weights; with several processes, a warning when the ranks disagree."""
    digest = weights_digest(model)
    logger.info("rank %d: weights sha256 %s at step %d", distributed.rank, digest, step)
    if distributed.enabled:
        digests = distributed.gather_strings(digest)
        if len(set(digests)) != 1:
            logger.warning("the ranks' weights differ after training: %s", digests)
        elif distributed.is_main:
            logger.info("weights identical on all %d ranks", distributed.world_size)
    return digest


# --- small helpers of the helpers -----------------------------------------------------------------
def _release_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _time_left(config: TrainConfig, step: int, seconds_per_step: float, deadline: float | None) -> str:
    candidates = []
    if config.iterations is not None:
        candidates.append(max(0, config.iterations - step) * seconds_per_step)
    if deadline is not None:
        candidates.append(max(0.0, deadline - time.monotonic()))
    if not candidates:
        return "-"
    seconds = int(min(candidates))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


__all__ = [
    "StepOutcome",
    "TrainResult",
    "holdout_loss",
    "learning_rate",
    "new_model_config",
    "resolve_config",
    "train",
    "training_step",
]
