"""Temporal smoothing of a face track's landmarks (One-Euro filter) and the jitter metric.

Landmark detectors wobble by a fraction of a pixel to a few pixels from frame to frame even on a still
head; the crop follows them, so the swapped face shivers. A fixed low-pass filter would calm it but
drag behind a real head turn. The One-Euro filter (Casiez, Roussel, Vogel, CHI 2012) is a first-order
low-pass whose cut-off frequency rises with the speed of the signal: strong smoothing when the head is
still, little lag when it moves.

Here each part of the face (jaw, each brow, nose, each eye, outer and inner lips) gets its own cut-off
from its own speed, measured in face sizes per second (so the same setting works for a face of 60 or
600 pixels): the jaw and lips that move with speech are followed closely while the brows and eyes,
which carry the alignment, are held still. The speed of a part is that of its points' mean, which
averages the detector's noise away; the speed of single points would be mostly noise and would keep
the cut-off high on a still head.

`--smooth` (0..1) maps to the filter's minimum cut-off, from 20 Hz (almost no smoothing at 25 fps) down
to 0.1 Hz, on a log scale; 0 turns smoothing off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from facetransfer.faces import landmarks as lm
from facetransfer.faces.align import Coverage, alignment_matrices

# `strength` 0..1 -> minimum cut-off (Hz), log-linear between these two.
_LIGHTEST_CUTOFF_HZ = 20.0
_STRONGEST_CUTOFF_HZ = 0.1
# Cut-off gain per unit of speed (face sizes per second): a turn at 1 face size/s raises the cut-off by
# 4 Hz. The speed estimate itself is low-passed at 4 Hz: lower makes the filter notice a fast move late
# (at 1 Hz the performer of the Hamilton clip, turning at 4 face widths/s, was trailed by 10 % of his
# face width; at 4 Hz by 5 %). Measured at strength 0.5 (docs/CONVERT.md): the second-difference
# jitter of the GRID tracks drops to 0.28-0.30x, and a quick look aside (half a face size in 6 to 25
# frames) lags by 0.3 to 0.9 frames.
DEFAULT_BETA = 4.0
DEFAULT_DERIVATIVE_CUTOFF_HZ = 4.0
# A landmark set that moves by more than this fraction of the face size in one frame is a new face
# (a scene cut, or the tracker swapping people): the filter restarts instead of gliding across.
JUMP_FRACTION = 0.5


def _part_labels_68() -> np.ndarray:
    labels = np.zeros(68, dtype=np.int64)
    parts = (
        lm.JAW,
        lm.RIGHT_BROW,
        lm.LEFT_BROW,
        lm.NOSE,
        lm.RIGHT_EYE,
        lm.LEFT_EYE,
        lm.OUTER_LIP,
        slice(60, 68),
    )
    for label, part in enumerate(parts):
        labels[part] = label
    return labels


PART_LABELS_68 = _part_labels_68()


@dataclass(frozen=True)
class OneEuroParameters:
    """`min_cutoff_hz`: cut-off when still; `beta`: cut-off gain per face size per second of speed;
    `derivative_cutoff_hz`: cut-off of the low-pass on the speed estimate itself."""

    min_cutoff_hz: float
    beta: float = DEFAULT_BETA
    derivative_cutoff_hz: float = DEFAULT_DERIVATIVE_CUTOFF_HZ


def smoothing_parameters(strength: float) -> OneEuroParameters | None:
    """Filter parameters for `--smooth strength` (0..1); None for 0 (smoothing off)."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"smoothing strength must be in [0, 1], not {strength}")
    if strength == 0.0:
        return None
    log_cutoff = (1.0 - strength) * math.log(_LIGHTEST_CUTOFF_HZ) + strength * math.log(_STRONGEST_CUTOFF_HZ)
    return OneEuroParameters(min_cutoff_hz=math.exp(log_cutoff))


def _alpha(cutoff_hz: np.ndarray | float, interval_s: float) -> np.ndarray:
    """Smoothing factor of a first-order low-pass with this cut-off, for one step of `interval_s`."""
    time_constant_s = 1.0 / (2.0 * np.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return 1.0 / (1.0 + time_constant_s / interval_s)


def face_size_px(landmarks: np.ndarray) -> float:
    """Size of a face in pixels from its 68 landmarks: twice the RMS distance of the points from their
    centroid (about the jaw width; rotation invariant and steadier than a bounding box)."""
    points = np.asarray(landmarks, dtype=np.float64)
    return float(2.0 * np.sqrt(((points - points.mean(0)) ** 2).sum(1).mean()))


@dataclass
class OneEuroFilter:
    """One-Euro filter over a set of 2-D points (N, 2), with one adaptive cut-off per group of points.

    `groups`: (N,) integer labels; the points of one label share the speed of their mean (for 68 points
    the face parts of `PART_LABELS_68`). None puts all points in one group.
    """

    parameters: OneEuroParameters
    groups: np.ndarray | None = None
    _value: np.ndarray | None = field(default=None, repr=False)
    _speed: np.ndarray | None = field(default=None, repr=False)
    _time_s: float = 0.0

    def reset(self) -> None:
        self._value = None
        self._speed = None

    @property
    def value(self) -> np.ndarray | None:
        """float64 (N, 2) last filtered points, or None before the first sample."""
        return self._value

    def __call__(self, points: np.ndarray, time_s: float, scale_px: float) -> np.ndarray:
        """Filter one sample. `points`: (N, 2) pixels at `time_s` seconds; `scale_px`: the face size, the
        unit in which speeds are measured. Returns float32 (N, 2)."""
        current = np.asarray(points, dtype=np.float64)
        interval_s = time_s - self._time_s
        if (
            self._value is None
            or self._speed is None
            or interval_s <= 0
            or self._value.shape != current.shape
        ):
            self._value, self._speed, self._time_s = current.copy(), np.zeros_like(current), time_s
            return current.astype(np.float32)
        raw_velocity = (current - self._value) / interval_s
        self._speed += _alpha(self.parameters.derivative_cutoff_hz, interval_s) * (raw_velocity - self._speed)
        speed = _group_speeds(self._speed, self.groups) / max(scale_px, 1e-6)
        cutoff_hz = self.parameters.min_cutoff_hz + self.parameters.beta * speed
        self._value += _alpha(cutoff_hz, interval_s) * (current - self._value)
        self._time_s = time_s
        return self._value.astype(np.float32)


def _group_speeds(velocity: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """(N, 1): for each point, the speed of the mean velocity of its group."""
    if groups is None or len(groups) != len(velocity):
        return np.full((len(velocity), 1), np.linalg.norm(velocity.mean(0)))
    count = int(groups.max()) + 1
    sums = np.zeros((count, 2))
    np.add.at(sums, groups, velocity)
    means = sums / np.bincount(groups, minlength=count)[:, None]
    return np.linalg.norm(means, axis=1)[groups][:, None]


class TrackSmoother:
    """One `OneEuroFilter` per face track, restarted when the track breaks.

    A track restarts when it skips a frame (the face was lost, or the tracker re-found it elsewhere),
    when its landmarks jump by more than `JUMP_FRACTION` of the face size in one frame (a scene cut the
    tracker did not split), or when `reset()` is called (a cut found by the caller).
    """

    def __init__(self, strength: float) -> None:
        self.parameters = smoothing_parameters(strength)
        self._filters: dict[int, OneEuroFilter] = {}
        self._last_frame: dict[int, int] = {}
        self.restarts = 0

    def reset(self) -> None:
        self._filters.clear()
        self._last_frame.clear()

    def __call__(
        self, track_id: int, frame_index: int, time_s: float, landmarks_frame: np.ndarray
    ) -> np.ndarray:
        """float32 (68, 2): the smoothed landmarks of `track_id` at this frame (a copy of the input when
        smoothing is off)."""
        if self.parameters is None:
            return np.asarray(landmarks_frame, dtype=np.float32).copy()
        scale_px = face_size_px(landmarks_frame)
        smoother = self._filters.get(track_id)
        if smoother is None:
            groups = PART_LABELS_68 if len(landmarks_frame) == 68 else None
            smoother = self._filters[track_id] = OneEuroFilter(self.parameters, groups)
        elif self._last_frame.get(track_id) != frame_index - 1 or (
            smoother.value is not None
            and np.linalg.norm(np.asarray(landmarks_frame) - smoother.value, axis=1).mean()
            > JUMP_FRACTION * scale_px
        ):
            smoother.reset()
            self.restarts += 1
        self._last_frame[track_id] = frame_index
        return smoother(landmarks_frame, time_s, scale_px)

    def forget(self, track_id: int) -> None:
        """Drop a track that has ended (keeps memory flat over long videos with many tracks)."""
        self._filters.pop(track_id, None)
        self._last_frame.pop(track_id, None)


def smooth_track(landmarks_frame: np.ndarray, times_s: np.ndarray, strength: float) -> np.ndarray:
    """float32 (T, 68, 2): a whole track's landmarks (T, 68, 2) at `times_s` (T,), smoothed in order."""
    smoother = TrackSmoother(strength)
    return np.stack(
        [
            smoother(0, index, float(time_s), points)
            for index, (points, time_s) in enumerate(zip(landmarks_frame, times_s, strict=True))
        ]
    )


def crop_corners_frame(crop_to_frame: np.ndarray, crop_size: int) -> np.ndarray:
    """float64 (4, 2): the crop square's corners in frame pixels (clockwise from the top left)."""
    corners = np.array([[0, 0], [crop_size, 0], [crop_size, crop_size], [0, crop_size]], dtype=np.float64)
    matrix = np.asarray(crop_to_frame, dtype=np.float64)
    return corners @ matrix[:, :2].T + matrix[:, 2]


def track_corners(
    landmarks_frame: np.ndarray, crop_size: int, coverage: Coverage
) -> tuple[np.ndarray, np.ndarray]:
    """For a track's landmarks (T, 68, 2): the crop corners (T, 4, 2) and the crop side in frame pixels
    (T,), the geometry that the swapped face follows."""
    corners = []
    sides = []
    for points in landmarks_frame:
        _, crop_to_frame = alignment_matrices(points, crop_size, coverage)
        corners.append(crop_corners_frame(crop_to_frame, crop_size))
        sides.append(
            crop_size * math.sqrt(abs(float(np.linalg.det(crop_to_frame[:, :2].astype(np.float64)))))
        )
    return np.asarray(corners), np.asarray(sides)


def jitter(corners_frame: np.ndarray, face_size_px: np.ndarray | float, order: int = 1) -> float:
    """Mean frame-to-frame motion of the crop's corners, as a fraction of the face size.

    `corners_frame`: (T, K, 2) points per frame (the crop corners, or any tracked points); `face_size_px`:
    a scalar or (T,) sizes. `order=1` is the plain frame-to-frame motion (on a still head, all of it is
    jitter); `order=2` uses the second difference, which is zero for motion at a steady speed and so
    measures the shiver even while the head moves. Returns 0.0 for fewer than `order + 1` frames.
    """
    corners = np.asarray(corners_frame, dtype=np.float64)
    if corners.ndim != 3 or corners.shape[2] != 2:
        raise ValueError(f"expected corners of shape (T, K, 2), found {corners.shape}")
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, not {order}")
    if len(corners) <= order:
        return 0.0
    motion = np.diff(corners, n=order, axis=0)
    sizes = np.broadcast_to(np.asarray(face_size_px, dtype=np.float64), (len(corners),))[order:]
    return float((np.linalg.norm(motion, axis=2).mean(1) / sizes).mean())
