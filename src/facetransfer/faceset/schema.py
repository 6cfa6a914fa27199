"""Faceset records and manifest (plain JSON, versioned).

Layout of a faceset folder::

    faceset.json      manifest: format name, version, sources and their probes, backends, crop size,
                      coverage, template, counts
    faces.jsonl       one `FaceRecord` per line
    crops/<face_id>.png  the aligned crop of each face (RGB, crop_size x crop_size)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

FACESET_FORMAT = "facetransfer-faceset"
FACESET_VERSION = 1


def _matrix(values: Any, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float32)
    if array.shape != shape:
        raise ValueError(f"expected an array of shape {shape}, found {array.shape}")
    return array


@dataclass
class FaceRecord:
    """One detected, aligned face.

    Coordinates: `bbox_frame` is (x0, y0, x1, y1) in frame pixels; `landmarks_frame` is float32 (68, 2)
    in frame pixels (the 68-point convention, see `faces.landmarks`); `frame_to_crop` and
    `crop_to_frame` are float32 (2, 3) affine matrices between frame pixels and crop pixels.
    """

    face_id: str
    source_index: int
    source_path: str
    frame_index: int
    timestamp_s: float
    bbox_frame: list[float]
    score: float
    landmarks_frame: np.ndarray
    frame_to_crop: np.ndarray
    crop_to_frame: np.ndarray
    track_id: int
    size_px: float
    blur: float
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    identity_id: int = -1
    identity_distance: float | None = None
    crop_file: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def landmarks_crop(self) -> np.ndarray:
        """float32 (68, 2): the landmarks in crop pixels."""
        points = self.landmarks_frame.astype(np.float64)
        matrix = self.frame_to_crop.astype(np.float64)
        return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["landmarks_frame"] = np.round(self.landmarks_frame.astype(np.float64), 3).tolist()
        payload["frame_to_crop"] = self.frame_to_crop.astype(np.float64).tolist()
        payload["crop_to_frame"] = self.crop_to_frame.astype(np.float64).tolist()
        return payload

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> FaceRecord:
        data = dict(payload)
        data["landmarks_frame"] = _matrix(data["landmarks_frame"], (68, 2))
        data["frame_to_crop"] = _matrix(data["frame_to_crop"], (2, 3))
        data["crop_to_frame"] = _matrix(data["crop_to_frame"], (2, 3))
        known = set(cls.__dataclass_fields__)
        extra = {key: value for key, value in data.items() if key not in known}
        data = {key: value for key, value in data.items() if key in known}
        data.setdefault("extra", {}).update(extra)
        return cls(**data)


@dataclass
class FacesetManifest:
    """What a faceset holds and how it was made. `sources` holds each input's path and probe."""

    crop_size: int
    coverage: str
    template: str
    detector: str
    landmarker: str
    sources: list[dict[str, Any]]
    counts: dict[str, int]
    options: dict[str, Any]
    tool_version: str
    created_utc: str
    format: str = FACESET_FORMAT
    version: int = FACESET_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> FacesetManifest:
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in payload.items() if key in known})
