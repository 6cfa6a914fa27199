"""Conversion driver: target video + model (+ target faceset) -> swapped video with the original sound.

The faces to swap are known before the first frame is decoded: from the target's faceset, or from an
extraction run first with the model's crop size and coverage. Frames then stream through four stages,
each in its own thread, joined by bounded queues so memory stays flat however long the video is::

    decode, cut detection, smoothing, crop  ->  model (faces batched across frames)
        ->  mask, colour, warp back, blend  ->  encode (+ mask video, PNG frames)

The model runs in the calling thread; PyTorch, OpenCV, numpy and FFmpeg release the GIL in their heavy
work, so the stages overlap. What happens to a face is `recipe.swap_face`; which faces, and where, is
`schedule.FaceScheduler`.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from facetransfer.convert.blend import StableRect
from facetransfer.convert.config import ConvertConfig
from facetransfer.convert.outputs import (
    OutputError,
    Outputs,
    check_output_path,
    check_signer,
    output_kind,
    same_file,
)
from facetransfer.convert.predictor import Predictor, load_predictor
from facetransfer.convert.recipe import FaceCrop, FaceSettings, swap_face
from facetransfer.convert.schedule import FaceScheduler, records_for_target
from facetransfer.errors import ConfigError, NoFaceError, OutputExistsError
from facetransfer.faces.align import Coverage
from facetransfer.faces.detectors import DetectorName
from facetransfer.faceset import Faceset, open_faceset
from facetransfer.faceset.masks import known_mask, read_painted_masks
from facetransfer.media import OUTPUT_FORMATS, Frame, probe
from facetransfer.media import read_frames as media_read_frames

logger = logging.getLogger(__name__)

__all__ = ["ConvertConfig", "ConvertSummary", "OutputError", "convert_video"]


@dataclass
class ConvertSummary:
    """What a conversion did. `jitter` holds the crop-corner jitter (fraction of the face size per frame)
    of the raw and the smoothed tracks, as frame-to-frame motion (`*_motion`) and second difference
    (`*_shiver`); `stage_seconds` the busy time of each stage (the largest is the bottleneck)."""

    output: str
    frames: int
    frames_swapped: int
    faces_swapped: int
    tracks: int
    seconds: float
    fps: float
    model: str
    resolution: int
    coverage: str
    settings: dict[str, Any]
    jitter: dict[str, float]
    stage_seconds: dict[str, float]
    faces_from: str
    cuts: list[int] = field(default_factory=list)
    tracks_dropped_at_cuts: list[int] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- the streaming stages -----------------------------------------------------------------------


class _Stopped(Exception):
    """Another stage failed; this one stops quietly."""


_END = object()


class _Stages:
    """Bounded queues between threads, with one failure stopping them all."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.busy_s: dict[str, float] = defaultdict(float)
        self.finished: list[threading.Event] = []

    def put(self, channel: queue.Queue[Any], item: Any) -> None:
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                channel.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self, channel: queue.Queue[Any]) -> Any:
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                return channel.get(timeout=0.1)
            except queue.Empty:
                continue

    def fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        self.stop.set()

    def thread(self, name: str, work: Callable[[], None]) -> None:
        """Run `work` in a new thread; `wait` returns once it has ended."""
        finished = threading.Event()
        self.finished.append(finished)

        def run() -> None:
            try:
                work()
            except _Stopped:
                pass
            except BaseException as error:
                self.fail(error)
            finally:
                finished.set()

        threading.Thread(target=run, name=f"convert-{name}", daemon=True).start()

    def wait(self) -> None:
        """Wait until every thread has ended. A Ctrl-C meanwhile stops them all, then this waits on.

        Events rather than `Thread.join`: a KeyboardInterrupt that lands in `join` can mark a thread
        that is still running as stopped (CPython issue 90882; seen on 3.11), and the caller would
        then close the writer under the encoder thread."""
        while True:
            try:
                for finished in self.finished:
                    while not finished.wait(timeout=0.2):
                        pass
                return
            except BaseException as error:
                self.fail(error)


@dataclass
class _FrameWork:
    frame: Frame
    faces: list[FaceCrop]
    predictions: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    alpha: np.ndarray | None = None


def _run_stages(
    frames: Iterator[Frame],
    scheduler: FaceScheduler,
    predictor: Predictor,
    settings: FaceSettings,
    outputs: Outputs,
    config: ConvertConfig,
    progress: Callable[[int], None] | None,
) -> tuple[int, int, int, dict[str, float]]:
    """Stream every frame through decode -> model -> blend -> encode. Returns (frames, frames swapped,
    faces swapped, busy seconds per stage)."""
    stages = _Stages()
    decoded: queue.Queue[Any] = queue.Queue(maxsize=config.queue_frames)
    predicted: queue.Queue[Any] = queue.Queue(maxsize=config.queue_frames)
    blended: queue.Queue[Any] = queue.Queue(maxsize=config.queue_frames)
    counts = {"frames": 0, "frames_swapped": 0, "faces_swapped": 0}
    want_alpha = outputs.mask_writer is not None

    def decode() -> None:
        iterator = iter(frames)
        while True:
            started = time.perf_counter()
            frame = next(iterator, None)
            if frame is None:
                break
            faces = scheduler.faces_for(frame)
            stages.busy_s["decode"] += time.perf_counter() - started
            stages.put(decoded, _FrameWork(frame, faces))
        stages.put(decoded, _END)

    def blend() -> None:
        stable_rects: dict[int, StableRect] = {}
        while True:
            work = stages.get(predicted)
            if work is _END:
                stages.put(blended, _END)
                return
            started = time.perf_counter()
            image = work.frame.image
            if work.faces:
                image = image.copy()  # the decoded frame may be a view into the decoder's buffer
                alpha = np.zeros(image.shape[:2], np.float32) if want_alpha else None
                for face, (rendering, learned) in zip(work.faces, work.predictions, strict=True):
                    rect = stable_rects.setdefault(face.track_id, StableRect())
                    pasted = swap_face(image, face, rendering, learned, settings, rect)
                    if pasted is None:
                        continue
                    counts["faces_swapped"] += 1
                    if alpha is not None:
                        region = alpha[pasted.y0 : pasted.y1, pasted.x0 : pasted.x1]
                        np.maximum(region, pasted.alpha, out=region)
                work.frame.image, work.alpha = image, alpha
                counts["frames_swapped"] += 1
            work.frame.image = outputs.mark(work.frame.image)
            stages.busy_s["blend"] += time.perf_counter() - started
            stages.put(blended, work)

    def encode() -> None:
        while True:
            work = stages.get(blended)
            if work is _END:
                return
            started = time.perf_counter()
            outputs.write(work.frame, work.frame.image, work.alpha)
            counts["frames"] += 1
            stages.busy_s["encode"] += time.perf_counter() - started
            if progress is not None:
                progress(counts["frames"])

    try:
        for name, work in (("decode", decode), ("blend", blend), ("encode", encode)):
            stages.thread(name, work)
        _predict_loop(stages, decoded, predicted, predictor, config.batch_size)
    except _Stopped:
        pass
    except BaseException as error:
        stages.fail(error)
    stages.wait()
    if stages.error is not None:
        raise stages.error
    return counts["frames"], counts["frames_swapped"], counts["faces_swapped"], dict(stages.busy_s)


def _predict_loop(
    stages: _Stages,
    decoded: queue.Queue[Any],
    predicted: queue.Queue[Any],
    predictor: Predictor,
    batch_size: int,
) -> None:
    """Gather frames until their faces fill a batch (or the input ends), render the batch, pass the
    frames on in order. Frames without faces wait with the others so the order stays; a run of them
    is let through at once."""
    pending: list[_FrameWork] = []
    faces = 0
    finished = False
    while not finished:
        work = stages.get(decoded)
        if work is _END:
            finished = True
        else:
            pending.append(work)
            faces += len(work.faces)
            if faces < batch_size and len(pending) < 2 * batch_size and not (faces == 0 and decoded.empty()):
                continue
        if faces:
            started = time.perf_counter()
            crops = np.stack([face.crop for waiting in pending for face in waiting.faces])
            renderings: list[np.ndarray] = []
            masks: list[np.ndarray] = []
            for start in range(0, len(crops), batch_size):
                images, learned = predictor.predict(crops[start : start + batch_size])
                renderings.extend(images)
                masks.extend(learned)
            position = 0
            for work in pending:
                work.predictions = list(
                    zip(
                        renderings[position : position + len(work.faces)],
                        masks[position : position + len(work.faces)],
                        strict=True,
                    )
                )
                position += len(work.faces)
            stages.busy_s["model"] += time.perf_counter() - started
        for work in pending:
            stages.put(predicted, work)
        pending, faces = [], 0
    stages.put(predicted, _END)


@contextmanager
def _model_threads(predictor: Predictor, threads: int | None) -> Iterator[None]:
    """PyTorch's CPU threads while converting, restored afterwards.

    The decode, blend and encode threads (and x264's own) run beside the model; an OpenMP team as large
    as the machine then waits on preempted members at every barrier. On 2 cores, the model with one
    thread converted 12 to 17 frames/s where two threads gave 6 to 10 (GRID clip, `cpu` preset, runs
    interleaved). Default: half the cores available to this process, at least one."""
    if predictor.device.type != "cpu":
        yield
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    wanted = threads or max(1, cores // 2)
    previous = torch.get_num_threads()
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# --- the public entry point ---------------------------------------------------------------------


class TargetExtractor(Protocol):
    """Extracts the faces of `target` into a new faceset folder `output`, aligned as the model expects
    them (`crop_size` pixels, `coverage`) and found with `detector`: every face when `all_faces`, else
    the main person's. `facetransfer.extract.extract_for_model` is one; the conversion takes it as an
    argument because the extraction stage is not a part of it."""

    def __call__(
        self,
        target: Path,
        output: Path,
        *,
        crop_size: int,
        coverage: Coverage,
        detector: DetectorName,
        all_faces: bool,
    ) -> None: ...


def _extract_on_the_fly(
    target: Path, folder: Path, predictor: Predictor, config: ConvertConfig, extract_target: TargetExtractor
) -> Faceset:
    """Extract the target's faces with the model's crop size and coverage into `folder` (a temporary
    folder that the caller removes)."""
    logger.info(
        "%s: no --faceset given; extracting faces (%s, %d px, %s)",
        target,
        config.detector,
        predictor.resolution,
        predictor.coverage,
    )
    extract_target(
        target,
        folder / "faceset",
        crop_size=predictor.resolution,
        coverage=predictor.coverage,
        detector=config.detector,
        all_faces=config.all_faces,
    )
    return open_faceset(folder / "faceset")


def convert_video(
    target: str | os.PathLike[str],
    model_dir: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: ConvertConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    extract_target: TargetExtractor | None = None,
    predictor: Predictor | None = None,
) -> ConvertSummary:
    """Swap the faces of `target` (a video, an image or an image folder) with the model's source person
    and write `output` (a video with the target's fps, size, frame count, timestamps and audio; an image;
    or a folder of images).

    Without `config.faceset`, the target's faces are extracted first into a temporary faceset by
    `extract_target` (for example `facetransfer.extract.extract_for_model`); one of the two is needed.
    `progress(frames_done, frames_total)` is called after each written frame. Raises a
    `FacetransferError` subclass with a one-line message for bad inputs (no face, a model without a
    checkpoint, a faceset of another coverage, an output that would overwrite an input or cannot be
    written); nothing is left at `output` (or the extra outputs) unless the whole conversion finished.
    `predictor`: the model of `model_dir` already loaded (`load_predictor`), when several targets
    share it; else it is loaded here.
    """
    config = config or ConvertConfig()
    started = time.perf_counter()
    target_path, output_path, model_path = Path(target), Path(output), Path(model_dir)
    if not config.faceset and extract_target is None:
        raise ConfigError(
            f"{target_path}: no target faceset given and nothing to extract one with; pass the faceset "
            "(`facetransfer extract`) or extract_target=facetransfer.extract.extract_for_model"
        )
    info = probe(target_path)
    kind = output_kind(info, output_path)
    inputs = [target_path, model_path] + ([Path(config.faceset)] if config.faceset else [])
    check_output_path(output_path, inputs, config.overwrite, "output", folder=kind == "folder")
    extras = [(Path(p), folder) for p, folder in ((config.mask_video, False), (config.frames_dir, True)) if p]
    for extra, folder in extras:
        if same_file(extra, output_path):
            raise OutputExistsError(f"{extra}: the same path as the output; choose another")
        check_output_path(extra, [*inputs, output_path], config.overwrite, "extra output", folder=folder)
    check_signer(config.provenance, output_path)
    if config.mask_video and Path(config.mask_video).suffix.lower() not in OUTPUT_FORMATS:
        raise ConfigError(
            f"{config.mask_video}: the mask video must end in one of {', '.join(sorted(OUTPUT_FORMATS))}"
        )

    if predictor is None:
        predictor = load_predictor(model_path, config.device, config.checkpoint)
    temporary: Path | None = None
    try:
        if config.faceset:
            faceset = open_faceset(config.faceset)
            if faceset.manifest.coverage != predictor.coverage:
                raise ConfigError(
                    f"{config.faceset}: faces extracted with coverage '{faceset.manifest.coverage}', but "
                    f"the model was trained on '{predictor.coverage}'; re-extract the target with "
                    f"--coverage {predictor.coverage} or leave out --faceset"
                )
            faces_from = f"faceset {config.faceset}"
        else:
            temporary = Path(tempfile.mkdtemp(prefix="facetransfer-convert-faces-"))  # removed below
            assert extract_target is not None  # checked above
            faceset = _extract_on_the_fly(target_path, temporary, predictor, config, extract_target)
            faces_from = "extracted on the fly"
        records = records_for_target(faceset, target_path, config.all_faces)
        if not records:
            raise NoFaceError(
                f"{target_path}: no face to swap (the faceset has none for this target); "
                "use a target with a visible face"
            )
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)

    settings = config.face
    # the target faceset's painted and stored masks stand in for the skin mask computed per frame
    uses_skin = settings.mask.startswith("skin")
    if uses_skin:
        read_painted_masks(faceset)  # a bad painted mask stops the run before anything is written
    scheduler = FaceScheduler(
        records,
        predictor.resolution,
        predictor.coverage,
        config.smooth,
        verify_identity=not config.all_faces,
        cut_threshold=config.cut_threshold,
        mask_of=(lambda record: known_mask(faceset, record)) if uses_skin else None,
    )
    total = info.frame_count
    outputs = Outputs(
        target_path,
        info,
        output_path,
        kind,
        config.encode,
        config.mask_video,
        config.frames_dir,
        config.overwrite,
        config.provenance,
    )
    try:
        with _model_threads(predictor, config.threads or None):
            frames, frames_swapped, faces_swapped, busy = _run_stages(
                media_read_frames(target_path),
                scheduler,
                predictor,
                settings,
                outputs,
                config,
                None if progress is None else (lambda done: progress(done, total)),
            )
        outputs.commit()
    except BaseException as error:
        outputs.abort(error)
        raise
    seconds = time.perf_counter() - started
    summary = ConvertSummary(
        output=str(output_path),
        frames=frames,
        frames_swapped=frames_swapped,
        faces_swapped=faces_swapped,
        tracks=len({record.track_id for record in records}),
        seconds=round(seconds, 3),
        fps=round(frames / seconds, 2) if seconds > 0 else 0.0,
        model=f"{predictor.description}, {'bfloat16' if predictor.device.type == 'cuda' else 'float32'}",
        resolution=predictor.resolution,
        coverage=predictor.coverage,
        settings={
            key: value for key, value in asdict(config).items() if key not in ("overwrite", "queue_frames")
        },
        jitter=scheduler.jitter_report(),
        stage_seconds={key: round(value, 3) for key, value in busy.items()},
        faces_from=faces_from,
        cuts=scheduler.cut_frames,
        tracks_dropped_at_cuts=sorted(scheduler.dropped_tracks),
        extras=[str(extra) for extra, _ in extras],
        provenance=outputs.provenance_report(),
    )
    logger.info(
        "converted %d frames (%d with a swapped face) into %s at %.1f frames/s",
        frames,
        frames_swapped,
        output_path,
        summary.fps,
    )
    return summary
