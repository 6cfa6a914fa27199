"""`evaluate_swap`: measure a face-swap output against the source person and the original target.

One pass over the output and the target video together, frame by frame (paired by index). On each
target frame the `FaceFinder` locates the main face (the largest); the mesh landmarker then runs on
the *same* box in the target frame and in the output frame, so both faces are measured the same way
and an unchanged frame scores exactly 0. Per frame: identity (embedding distances, nearest person),
pose and expression kept, flicker (against the previous evaluated frame), blend seam, and whether
the detector still finds a face in the output. Memory holds per-frame numbers and a few thumbnails
of the worst frames, never the frames themselves.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facetransfer.errors import ConfigError, MediaError, NoFaceError
from facetransfer.evaluate import flicker as flicker_mod
from facetransfer.evaluate.detail import detail_ratio
from facetransfer.evaluate.forehead import forehead_color_error
from facetransfer.evaluate.geometry import expression_error, pose_errors
from facetransfer.evaluate.identity import (
    FaceTools,
    GalleryPerson,
    load_gallery,
    nearest_identity,
    source_embedding,
)
from facetransfer.evaluate.regions import crop, face_size_px, face_window, hull_mask_in_window
from facetransfer.evaluate.results import (
    IDENTITY_FRAMES,
    THUMB_PX,
    EvaluateConfig,
    Evaluation,
    FrameMetrics,
    WorstFrame,
)
from facetransfer.evaluate.seam import measure_seam
from facetransfer.faces.cuts import CutDetector
from facetransfer.faces.detectors import Detection, create_detector
from facetransfer.faces.finder import FaceFinder
from facetransfer.faces.identity import (
    IdentityEmbedder,
    distance_matrix,
    face_box_for_dlib,
)
from facetransfer.faces.landmarker import MeshLandmarker, landmarks_bbox
from facetransfer.faces.verify import FaceVerifier
from facetransfer.media import encoded_size, probe, read_frames

logger = logging.getLogger(__name__)


def _detected_near(detections: list[Detection], landmarks: np.ndarray) -> bool:
    """True when a detection's box centre lies within 40% of the face size of the landmarks' box
    centre and its size is within a factor of 2 of the face's."""
    x0, y0, x1, y1 = landmarks_bbox(landmarks)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    size = max(x1 - x0, y1 - y0)
    for detection in detections:
        b = detection.bbox
        offset = np.linalg.norm(np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]) - centre)
        if offset < 0.4 * size and 0.5 < detection.size_px / max(size, 1.0) < 2.0:
            return True
    return False


def _thumbnail(output_rgb: np.ndarray, target_rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """uint8 (THUMB_PX, THUMB_PX, 3): the output's face, with the target's in the top-right third."""
    height, width = output_rgb.shape[:2]
    window = face_window(landmarks, height, width, scale=1.3)
    big = cv2.resize(crop(output_rgb, window), (THUMB_PX, THUMB_PX), interpolation=cv2.INTER_AREA)
    inset_px = THUMB_PX // 3
    small = cv2.resize(crop(target_rgb, window), (inset_px, inset_px), interpolation=cv2.INTER_AREA)
    big[:inset_px, THUMB_PX - inset_px :] = small
    big[inset_px, THUMB_PX - inset_px :] = 255
    big[: inset_px + 1, THUMB_PX - inset_px - 1] = 255
    return big


def _keep_worst(
    heap: list[WorstFrame], value: float, frame: int, size: int, thumbnail: Callable[[], np.ndarray]
) -> None:
    """Keep the `size` largest values in a min-heap; the thumbnail is only made for a keeper."""
    if size < 1 or not math.isfinite(value):
        return
    if len(heap) < size:
        heapq.heappush(heap, WorstFrame(value, frame, thumbnail()))
    elif value > heap[0].value:
        heapq.heapreplace(heap, WorstFrame(value, frame, thumbnail()))


@dataclass
class _WorstFrames:
    """Min-heaps of the worst frames by each metric (`_keep_worst`)."""

    identity: list[WorstFrame] = field(default_factory=list)
    flicker: list[WorstFrame] = field(default_factory=list)
    detail: list[WorstFrame] = field(default_factory=list)


def _check_pair(output: Path, target: Path) -> int:
    """Frame count of the pair; raises MediaError when the two do not match frame for frame."""
    output_info, target_info = probe(output), probe(target)
    if output_info.frame_count != target_info.frame_count:
        raise MediaError(
            f"{output}: has {output_info.frame_count} frames but the target {target} has "
            f"{target_info.frame_count}; evaluate pairs frames by index, so pass the original target "
            "of this output"
        )
    output_size = (output_info.display_width, output_info.display_height)
    target_size = (target_info.display_width, target_info.display_height)
    # an output of an odd-sized target is one pixel larger (`VideoWriter`); it is cut back per frame
    if output_size not in (target_size, encoded_size(*target_size)):
        raise MediaError(
            f"{output}: frames are {output_info.display_width}x{output_info.display_height} but the "
            f"target's are {target_info.display_width}x{target_info.display_height}; pass the "
            "original target of this output"
        )
    return target_info.frame_count


def _reference_embeddings(
    sources: Sequence[str | Path], config: EvaluateConfig, tools: FaceTools
) -> tuple[np.ndarray, int, list[GalleryPerson]]:
    source, count = source_embedding(sources, tools, config.source_faces)
    if not config.gallery:
        logger.info("no --gallery given; identity retrieval compares the source and the target only")
    gallery = load_gallery(config.gallery, tools, config.gallery_per_person, config.gallery_cache)
    return source, count, gallery


def evaluate_swap(
    output: str | Path,
    sources: Sequence[str | Path],
    target: str | Path,
    config: EvaluateConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Measure `output` (a swap result) against the source person (`sources`: videos, images,
    image folders or facesets) and its original `target` video, paired frame by frame.

    `progress(frames_done, frames_total)` is called after every evaluated frame.

    Raises:
        MediaError: unreadable inputs, or an output whose frame count or size differs from the
            target's.
        NoFaceError: no face in the source media (with identity on), or none in the target.
        ConfigError: invalid options.
    """
    config = config or EvaluateConfig()
    started = time.perf_counter()
    output_path, target_path = Path(output), Path(target)
    if config.identity and not sources:
        raise ConfigError("evaluate needs --source media of the source person for the identity metrics")
    frame_count = _check_pair(output_path, target_path)
    planned = len(range(0, frame_count, config.every_n))
    if config.max_frames is not None:
        planned = min(planned, config.max_frames)
    identity_every = config.identity_every or max(1, math.ceil(planned / IDENTITY_FRAMES))

    tools = FaceTools(
        create_detector(config.detector, min_score=0.5),
        MeshLandmarker(),
        IdentityEmbedder() if config.identity else None,
        FaceVerifier() if config.identity else None,
    )
    try:
        if config.identity:
            source_mean, source_count, gallery = _reference_embeddings(sources, config, tools)
        else:
            source_mean, source_count, gallery = np.zeros(128, np.float32), 0, []
        frames, output_embeddings, target_embeddings, worst = _measure_frames(
            output_path, target_path, config, tools, source_mean, planned, identity_every, progress
        )
    finally:
        tools.close()
    if not any(frame.target_face for frame in frames):
        raise NoFaceError(
            f"{target_path}: no face found in {len(frames)} evaluated frames of the target; "
            "evaluate needs the target's faces to know where the swap is"
        )
    if target_embeddings:
        target_mean = np.mean(np.stack(list(target_embeddings.values())), axis=0)
        for index, embedding in output_embeddings.items():
            frames[index].identity_nearest = nearest_identity(embedding, source_mean, target_mean, gallery)
    return Evaluation(
        output=str(output_path),
        target=str(target_path),
        sources=[str(s) for s in sources],
        gallery=[person.name for person in gallery],
        config=config,
        frames=frames,
        frame_count=frame_count,
        source_faces=source_count,
        seconds=time.perf_counter() - started,
        worst_identity=sorted(worst.identity, reverse=True),
        worst_flicker=sorted(worst.flicker, reverse=True),
        worst_detail=sorted(worst.detail, reverse=True),
    )


def _measure_frames(
    output_path: Path,
    target_path: Path,
    config: EvaluateConfig,
    tools: FaceTools,
    source_mean: np.ndarray,
    planned: int,
    identity_every: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[FrameMetrics], dict[int, np.ndarray], dict[int, np.ndarray], _WorstFrames]:
    """The per-frame loop. Returns the metrics, output and target embeddings by position in the
    metrics list, and the worst-frame heaps."""
    finder = FaceFinder(tools.detector, tools.landmarker)
    cuts = CutDetector()
    meter = flicker_mod.FlickerMeter()
    frames: list[FrameMetrics] = []
    output_embeddings: dict[int, np.ndarray] = {}
    target_embeddings: dict[int, np.ndarray] = {}
    worst = _WorstFrames()
    previous_luma: tuple[np.ndarray, np.ndarray] | None = None
    pairs = zip(
        read_frames(target_path, every_n=config.every_n),
        read_frames(output_path, every_n=config.every_n),
        strict=False,
    )
    for position, (target_frame, output_frame) in enumerate(pairs):
        if position >= planned:
            break
        target_rgb = target_frame.image
        height, width = target_rgb.shape[:2]
        output_rgb = output_frame.image[:height, :width]
        metrics = FrameMetrics(frame=target_frame.index)
        frames.append(metrics)
        target_luma, output_luma = flicker_mod.luma(target_rgb), flicker_mod.luma(output_rgb)
        cut = cuts.is_cut(target_rgb)
        previous = None if cut else previous_luma
        previous_luma = (target_luma, output_luma)

        faces, _ = finder.find(target_rgb)
        if not faces:
            if progress:
                progress(position + 1, planned)
            continue
        main = max(faces, key=lambda face: face_size_px(face.landmarks))
        box = landmarks_bbox(main.landmarks)
        landmarks_target = tools.landmarker.landmarks68(target_rgb, box)
        if landmarks_target is None:
            landmarks_target = main.landmarks
        metrics.target_face = True
        # the detector must find the face in both; a target face it misses says nothing of the output
        if _detected_near(tools.detector.detect(target_rgb), landmarks_target):
            metrics.output_face = _detected_near(tools.detector.detect(output_rgb), landmarks_target)
        landmarks_output = tools.landmarker.landmarks68(output_rgb, box)
        if metrics.output_face is False:
            landmarks_output = None

        def make_thumbnail(
            output_rgb: np.ndarray = output_rgb,
            target_rgb: np.ndarray = target_rgb,
            landmarks: np.ndarray = landmarks_target,
        ) -> np.ndarray:
            return _thumbnail(output_rgb, target_rgb, landmarks)

        window = face_window(landmarks_target, height, width)
        mask = hull_mask_in_window(landmarks_target, window)
        offset = np.array(window[:2], dtype=np.float32)
        seam = measure_seam(
            crop(output_rgb, window), crop(target_rgb, window), landmarks_target - offset, mask
        )
        if seam is not None:
            metrics.seam_color = seam.color
            metrics.seam_gradient_output = seam.gradient_output
            metrics.seam_gradient_target = seam.gradient_target
            metrics.seam_gradient_excess = seam.gradient_excess
        metrics.detail_ratio = detail_ratio(
            crop(output_rgb, window), crop(target_rgb, window), landmarks_target - offset
        )
        metrics.forehead_color = forehead_color_error(
            crop(output_rgb, window), crop(target_rgb, window), landmarks_target - offset
        )
        if metrics.detail_ratio is not None:
            _keep_worst(
                worst.detail, -metrics.detail_ratio, metrics.frame, config.worst_frames, make_thumbnail
            )
        if previous is not None:
            sample = meter.measure(
                crop(previous[0], window),
                crop(target_luma, window),
                crop(previous[1], window),
                crop(output_luma, window),
                mask,
            )
            metrics.flicker_mad_output, metrics.flicker_mad_target = sample.mad_output, sample.mad_target
            metrics.flicker_mad_excess = sample.mad_excess
            metrics.flicker_warp_output, metrics.flicker_warp_target = sample.warp_output, sample.warp_target
            metrics.flicker_warp_excess = sample.warp_excess
            _keep_worst(worst.flicker, sample.warp_excess, metrics.frame, config.worst_frames, make_thumbnail)

        if landmarks_output is not None:
            yaw, pitch, roll, norm = pose_errors(landmarks_output, landmarks_target, width, height)
            metrics.yaw_error_deg, metrics.pitch_error_deg, metrics.roll_error_deg = yaw, pitch, roll
            metrics.pose_error_deg = norm
            metrics.expression_error = expression_error(landmarks_output, landmarks_target)
            if tools.embedder is not None and position % identity_every == 0:
                chip_target = tools.embedder.chip(target_rgb, face_box_for_dlib(landmarks_target))
                chip_output = tools.embedder.chip(output_rgb, face_box_for_dlib(landmarks_output))
                if np.array_equal(chip_target, chip_output):  # an unchanged face: embed once
                    embedding_target = embedding_output = tools.embedder.embed_chips([chip_target])[0]
                else:
                    embedding_target, embedding_output = tools.embedder.embed_chips(
                        [chip_target, chip_output]
                    )
                target_embeddings[position] = embedding_target
                output_embeddings[position] = embedding_output
                references = np.stack([source_mean, embedding_target])
                to_source, to_target = distance_matrix(embedding_output[None], references)[0]
                metrics.identity_to_source, metrics.identity_to_target = float(to_source), float(to_target)
                _keep_worst(
                    worst.identity, float(to_source), metrics.frame, config.worst_frames, make_thumbnail
                )
        if progress:
            progress(position + 1, planned)
    return frames, output_embeddings, target_embeddings, worst
