"""`run_live`: frames from a camera, video or stream, swapped and marked, to a window, a file or a
virtual camera, as they come.

Three threads, joined by one-frame mailboxes, never by queues::

    capture  ->[latest frame]->  find, smooth, crop, model  ->[one frame]->  blend, mark, output

The capture thread overwrites a frame that the model has not taken yet (it is dropped and counted),
so when the swap is slower than the input, the output skips frames instead of falling behind: what
is shown is never more than about one frame of work old. With `benchmark`, a video file is read as
fast as the swap takes its frames, each one when the swap asks for it (nothing is dropped), to
measure the swap's own speed. Latency is
measured per frame from its capture to the return of the output's write.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from facetransfer.errors import CheckpointError
from facetransfer.live.config import LiveConfig
from facetransfer.live.sinks import check_sink, open_sink
from facetransfer.live.sources import CapturedFrame, FrameSource, open_source
from facetransfer.live.swapper import FaceWork, FrameSwapper, LivePredictor

logger = logging.getLogger(__name__)

Item = TypeVar("Item")


class Mailbox(Generic[Item]):
    """A one-item handoff between two threads. `put_latest` replaces an item not yet taken (and counts
    it as dropped); `put_wait` waits until the slot is free; `wait_for_reader` until the slot is free
    and the reader waits in `get` (a producer that makes items on demand). `get` returns None once
    closed and empty."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: Item | None = None
        self._closed = False
        self._readers_waiting = 0
        self.dropped = 0

    def put_latest(self, item: Item) -> None:
        with self._condition:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._condition.notify_all()

    def put_wait(self, item: Item, stop: threading.Event) -> None:
        with self._condition:
            while self._item is not None and not stop.is_set():
                self._condition.wait(0.05)
            self._item = item
            self._condition.notify_all()

    def wait_for_reader(self, stop: threading.Event) -> None:
        with self._condition:
            while (self._item is not None or not self._readers_waiting) and not stop.is_set():
                self._condition.wait(0.05)

    def get(self, stop: threading.Event) -> Item | None:
        with self._condition:
            self._readers_waiting += 1
            self._condition.notify_all()
            while self._item is None and not self._closed and not stop.is_set():
                self._condition.wait(0.05)
            self._readers_waiting -= 1
            item, self._item = self._item, None
            self._condition.notify_all()
            return item

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()


@dataclass
class LiveSummary:
    """What a live run did. Latencies are capture to output, in milliseconds; `cpu_percent` is the
    process's CPU time over the wall time (100 = one core busy)."""

    source: str
    sink: str
    model: str
    frames_captured: int
    frames_output: int
    frames_dropped: int
    frames_with_face: int
    faces_swapped: int
    seconds: float
    fps: float
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_max: float
    cpu_percent: float
    cpu_cores: int
    stage_seconds: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return (
            f"{self.fps:.1f} fps, latency p50 {self.latency_ms_p50:.0f} ms p95 {self.latency_ms_p95:.0f} ms, "
            f"{self.frames_dropped} dropped, CPU {self.cpu_percent:.0f}% of {self.cpu_cores} cores"
        )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class _Meter:
    """Frame counts, latencies and CPU time, for the periodic line and the summary."""

    def __init__(self) -> None:
        self.started_s = time.perf_counter()
        self.cpu_started_s = _cpu_seconds()
        self.latencies_ms: list[float] = []
        self.frames_out = 0
        self.frames_with_face = 0
        self.faces = 0
        self.busy_s: dict[str, float] = {"model": 0.0, "blend": 0.0, "output": 0.0}
        self.window: list[tuple[float, float]] = []  # (output time, latency) since the last line
        self.lock = threading.Lock()

    def record(self, captured_s: float, faces: int) -> None:
        now = time.perf_counter()
        latency_ms = (now - captured_s) * 1000.0
        with self.lock:
            self.latencies_ms.append(latency_ms)
            self.window.append((now, latency_ms))
            self.frames_out += 1
            self.frames_with_face += faces > 0
            self.faces += faces

    def take_window(self) -> tuple[float, float, float]:
        """(fps, p50 ms, p95 ms) of the frames output since the last call."""
        with self.lock:
            window, self.window = self.window, []
        if len(window) < 2:
            return 0.0, float(window[0][1]) if window else 0.0, float(window[0][1]) if window else 0.0
        span = window[-1][0] - window[0][0]
        latencies = np.array([latency for _, latency in window])
        fps = (len(window) - 1) / span if span > 0 else 0.0
        return fps, float(np.percentile(latencies, 50)), float(np.percentile(latencies, 95))


def load_live_model(model: str | os.PathLike[str], config: LiveConfig) -> LivePredictor:
    """The model for live use: a model folder (with onnxruntime, exported on the fly, or PyTorch), or
    an `export --format onnx` file."""
    from facetransfer.export.runtime import load_onnx_predictor

    path = Path(model)
    if path.is_file():
        if path.suffix.lower() == ".dfm":
            raise CheckpointError(
                f"{path}: DFM files take DeepFaceLab's crop (for DeepFaceLive and FaceFusion); live takes "
                "the model folder or its `export --format onnx` file"
            )
        return load_onnx_predictor(path, config.threads)
    if not path.is_dir():
        raise CheckpointError(
            f"{path}: no such model folder or .onnx file; pass the folder `facetransfer train` wrote"
        )
    if config.runtime == "pytorch":
        import torch

        from facetransfer.convert.predictor import load_predictor

        if config.threads:
            torch.set_num_threads(config.threads)
        return load_predictor(path, "cpu", config.checkpoint)
    from facetransfer.export import ExportConfig, export_model

    folder = Path(tempfile.mkdtemp(prefix="facetransfer-live-"))
    try:
        exported = folder / "model.onnx"
        export_model(path, exported, ExportConfig(checkpoint=config.checkpoint, check_crops=2))
        return load_onnx_predictor(exported, config.threads)  # the session holds the graph in memory
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_live(
    model: str | os.PathLike[str],
    config: LiveConfig | None = None,
    on_stats: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> LiveSummary:
    """Run live until the input ends, `config.seconds` pass, `stop` is set, or Ctrl-C (which ends the
    run normally: a file output is kept). `on_stats(line)` gets an fps and latency line every
    `config.stats_every_s`. Raises a `FacetransferError` (one line) for a bad model, input or output,
    before any frame is read."""
    from facetransfer.faces.detectors import create_detector
    from facetransfer.faces.finder import FaceFinder
    from facetransfer.faces.landmarker import MeshLandmarker
    from facetransfer.provenance import (
        LabelPainter,
        Watermarker,
        can_sign,
        container_metadata,
        new_payload,
        report_entry,
        resolve_credentials,
        sign_file,
    )

    config = config or LiveConfig()
    stop = stop or threading.Event()
    inputs = [Path(model)] + ([Path(config.input)] if Path(config.input).exists() else [])
    check_sink(config.output, inputs, config.overwrite)
    file_output = config.output not in ("window", "virtual-camera")
    provenance = config.provenance
    if provenance.enabled and file_output and can_sign(Path(config.output)):
        resolve_credentials(provenance)
    source: FrameSource = open_source(config.input, config.benchmark)  # a bad input fails first
    try:
        predictor = load_live_model(model, config)
        finder = FaceFinder(create_detector(config.detector), MeshLandmarker(), config.redetect_every)
    except BaseException:
        source.close()
        raise
    payload = new_payload() if provenance.enabled else None
    marker = (
        Watermarker(source.width, source.height, payload, provenance.watermark_strength)
        if payload is not None
        else None
    )
    label = (
        LabelPainter(
            source.width, source.height, provenance.label, provenance.label_corner, provenance.label_opacity
        )
        if provenance.label
        else None
    )
    swapper = FrameSwapper(predictor, finder, config.face, config.smooth, config.all_faces, marker, label)
    try:
        sink = open_sink(
            config.output,
            source.width,
            source.height,
            source.fps,
            config.encode,
            container_metadata(payload) if payload is not None else {},
        )
    except BaseException:
        source.close()
        raise
    logger.info("live: %s -> %s", source.description, sink.description)

    captured: Mailbox[CapturedFrame] = Mailbox()
    rendered: Mailbox[tuple[CapturedFrame, FaceWork]] = Mailbox()
    meter = _Meter()
    counts = {"captured": 0}
    errors: list[BaseException] = []
    deadline_s = None if config.seconds is None else time.perf_counter() + config.seconds

    def capture() -> None:
        try:
            frames = source.frames()
            while not stop.is_set():
                if config.benchmark:
                    # a camera exactly as fast as the swap: the next frame is read when asked for,
                    # so its latency is the swap's, not the time it would sit waiting
                    captured.wait_for_reader(stop)
                frame = next(frames, None)
                if frame is None or stop.is_set():
                    break
                counts["captured"] += 1
                captured.put_latest(frame)
        except BaseException as error:
            errors.append(error)
            stop.set()
        finally:
            captured.close()

    def output() -> None:
        try:
            while True:
                item = rendered.get(stop)
                if item is None:
                    return
                frame, work = item
                started = time.perf_counter()
                image, faces = swapper.finish(work)
                middle = time.perf_counter()
                sink.write(image, frame.captured_s)
                meter.busy_s["blend"] += middle - started
                meter.busy_s["output"] += time.perf_counter() - middle
                meter.record(frame.captured_s, faces)
        except KeyboardInterrupt:  # the window's q / Esc
            stop.set()
        except BaseException as error:
            errors.append(error)
            stop.set()

    threads = [
        threading.Thread(target=capture, name="live-capture", daemon=True),
        threading.Thread(target=output, name="live-output", daemon=True),
    ]
    for thread in threads:
        thread.start()
    next_line_s = time.perf_counter() + config.stats_every_s
    interrupted = False
    try:
        while not stop.is_set():
            if deadline_s is not None and time.perf_counter() >= deadline_s:
                break
            frame = captured.get(stop)
            if frame is None:
                break
            started = time.perf_counter()
            work = swapper.render(frame.image, frame.captured_s)
            meter.busy_s["model"] += time.perf_counter() - started
            rendered.put_wait((frame, work), stop)
            if on_stats is not None and time.perf_counter() >= next_line_s:
                fps, p50, p95 = meter.take_window()
                on_stats(
                    f"{fps:5.1f} fps, latency p50 {p50:4.0f} ms p95 {p95:4.0f} ms, {captured.dropped} dropped"
                )
                next_line_s = time.perf_counter() + config.stats_every_s
    except KeyboardInterrupt:
        interrupted = True  # Ctrl-C is how a live run ends: finish normally
    finally:
        rendered.close()
        threads[1].join()  # the output thread drains the last rendered frame
        stop.set()
        threads[0].join(timeout=5.0)
        source.close()
    failed = bool(errors) and not interrupted
    sink.close(keep=not failed)
    if failed:
        raise errors[0]
    signing = None
    if provenance.enabled and file_output and meter.frames_out and can_sign(Path(config.output)):
        signing = sign_file(config.output, None, provenance, payload=payload)
    seconds = time.perf_counter() - meter.started_s
    latencies = np.array(meter.latencies_ms) if meter.latencies_ms else np.zeros(1)
    cpu_s = _cpu_seconds() - meter.cpu_started_s
    return LiveSummary(
        source=source.description,
        sink=sink.description,
        model=getattr(predictor, "description", "") or type(predictor).__name__,
        frames_captured=counts["captured"],
        frames_output=meter.frames_out,
        frames_dropped=captured.dropped,
        frames_with_face=meter.frames_with_face,
        faces_swapped=meter.faces,
        seconds=round(seconds, 3),
        fps=round(meter.frames_out / seconds, 2) if seconds > 0 else 0.0,
        latency_ms_p50=round(float(np.percentile(latencies, 50)), 1),
        latency_ms_p95=round(float(np.percentile(latencies, 95)), 1),
        latency_ms_max=round(float(latencies.max()), 1),
        cpu_percent=round(100.0 * cpu_s / seconds, 1) if seconds > 0 else 0.0,
        cpu_cores=_cores(),
        stage_seconds={key: round(value, 3) for key, value in meter.busy_s.items()},
        provenance=report_entry(provenance, payload, signing),
    )
