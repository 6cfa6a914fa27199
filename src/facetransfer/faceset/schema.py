"""Faceset records and manifest (plain JSON, versioned).

Layout of a faceset folder::

    faceset.json      manifest: format name, version, sources and their probes, backends, crop size,
                      coverage, template, counts
    faces.jsonl       one `FaceRecord` per line
    crops/<face_id>.png  the aligned crop of each face (RGB, crop_size x crop_size)
    masks/, user_masks/  masks of the face pixels (see `faceset.masks`)
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from facetransfer.faces.align import COVERAGES

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
        """Raises ValueError naming the first field of the wrong type or shape."""
        data = dict(_checked_fields(cls, payload))
        if not data["crop_file"] or Path(data["crop_file"]).name != data["crop_file"]:
            raise ValueError(f"crop_file {data['crop_file']!r} is not a file name inside crops/")
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
    masks: dict[str, Any] = field(default_factory=dict)
    """How `masks/` was made (`faceset.masks`): method, version, counts; empty when there are none."""
    format: str = FACESET_FORMAT
    version: int = FACESET_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> FacesetManifest:
        """Raises ValueError naming the first field of the wrong type."""
        data = _checked_fields(cls, payload)
        if data["crop_size"] < 16 or not all(isinstance(source, dict) for source in data["sources"]):
            raise ValueError("crop_size must be at least 16 and sources a list of objects")
        if data["coverage"] not in COVERAGES:
            raise ValueError(f"coverage {data['coverage']!r} is not one of {', '.join(COVERAGES)}")
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "list": (list,),
    "dict": (dict,),
    "np.ndarray": (list,),
}


def _checked_fields(cls: type, payload: Any) -> dict[str, Any]:
    """`payload` checked against `cls`'s field annotations (JSON types: required fields present, each
    of its type; `X | None` may be null). Raises ValueError naming the field."""
    if not isinstance(payload, dict):
        raise ValueError(f"expected a JSON object, found {type(payload).__name__}")
    for item in fields(cls):
        annotation = str(item.type)
        if item.name not in payload:
            if item.default is MISSING and item.default_factory is MISSING:
                raise ValueError(f"field '{item.name}' is missing")
            continue
        value = payload[item.name]
        if value is None and "None" in annotation:
            continue
        base = annotation.split("[")[0].split(" |")[0]
        allowed = _JSON_TYPES.get(base)
        if allowed and (isinstance(value, bool) or not isinstance(value, allowed)):
            raise ValueError(f"field '{item.name}' should be {base}, found {json.dumps(value)[:40]}")
    return payload
