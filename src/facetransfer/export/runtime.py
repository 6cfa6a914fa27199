"""Running exported models with onnxruntime: the metadata an export carries, the project's `onnx`
layout as a predictor (what `live` uses), and `DfmModel`, a loader of DFM files that checks them as
DeepFaceLive and FaceFusion do (docs/LIVE.md names the lines of their code it follows)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facetransfer.errors import CheckpointError
from facetransfer.faces.align import COVERAGES, Coverage

METADATA_PREFIX = "facetransfer."
EXPORT_FORMAT_NAME = "facetransfer-export"
EXPORT_VERSION = 1


def open_session(path: str | os.PathLike[str], threads: int = 0) -> Any:
    """An onnxruntime CPU session of `path`; `threads` 0 lets onnxruntime choose. A file that is
    missing or not an ONNX model is one line (`CheckpointError`)."""
    import onnxruntime

    file_path = Path(path)
    if not file_path.is_file():
        raise CheckpointError(f"{file_path}: no such model file; pass a file `facetransfer export` wrote")
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(str(file_path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped errors for bad files
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{file_path}: not a readable ONNX model ({first_line[:200]})") from None


def export_metadata(session: Any) -> dict[str, str]:
    """The `facetransfer.*` metadata of an exported model, without the prefix (empty for a model
    this tool did not export)."""
    props = session.get_modelmeta().custom_metadata_map
    return {
        key[len(METADATA_PREFIX) :]: value for key, value in props.items() if key.startswith(METADATA_PREFIX)
    }


@dataclass
class OnnxPredictor:
    """An exported model in the project's `onnx` layout, with the interface of
    `convert.predictor.Predictor`: `resolution`, `coverage`, `predict(crops)`."""

    session: Any
    resolution: int
    coverage: Coverage
    description: str
    input_name: str

    def predict(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`crops`: uint8 (N, R, R, 3) RGB. Returns float32 (N, R, R, 3) RGB in [0, 1] and float32
        (N, R, R) masks in [0, 1]."""
        if crops.ndim != 4 or crops.shape[1:] != (self.resolution, self.resolution, 3):
            raise ValueError(
                f"expected crops (N, {self.resolution}, {self.resolution}, 3), found {crops.shape}"
            )
        batch = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32) * np.float32(1.0 / 255.0)
        image, mask = self.session.run(None, {self.input_name: batch})
        return (
            np.clip(image, 0.0, 1.0).transpose(0, 2, 3, 1).astype(np.float32, copy=False),
            np.clip(mask[:, 0], 0.0, 1.0).astype(np.float32, copy=False),
        )


def load_onnx_predictor(path: str | os.PathLike[str], threads: int = 0) -> OnnxPredictor:
    """The predictor of an `export --format onnx` file. A DFM file, or an ONNX model this tool did
    not export, is refused with one line: their crop layout is not recorded."""
    session = open_session(path, threads)
    metadata = export_metadata(session)
    if metadata.get("format") != "onnx":
        found = metadata.get("format") or "no facetransfer metadata"
        raise CheckpointError(
            f"{path}: not an export in the project's onnx layout ({found}); export the model folder "
            "with `facetransfer export MODEL_DIR -o OUT.onnx --format onnx`, or pass the model folder"
        )
    coverage = metadata.get("coverage", "")
    if coverage not in COVERAGES:
        raise CheckpointError(
            f"{path}: unknown coverage {coverage!r} in the model's metadata; export it again"
        )
    return OnnxPredictor(
        session=session,
        resolution=int(metadata["resolution"]),
        coverage=coverage,  # type: ignore[arg-type]
        description=f"{metadata.get('architecture', '?')} onnx {metadata.get('precision', '')}".strip(),
        input_name=session.get_inputs()[0].name,
    )


# --- DFM: what DeepFaceLive and FaceFusion read ----------------------------------------------------


class DfmModel:
    """A DFM file loaded and run as DeepFaceLive's `DFMModel` and FaceFusion's `deep_swapper` do.

    Checks at load: at least one input and at most two; the first input's name holds `in_face` (its
    full name is `in_face:0`, which FaceFusion looks up); a second input, when there is one, is
    `morph_value:0`; the first input is NHWC with a fixed height and width (read from
    `shape[1:3]`) and 3 channels; the three outputs are named `out_face_mask:0`,
    `out_celeb_face:0`, `out_celeb_face_mask:0`, in that order (both tools unpack
    `session.run(None, ...)` by position), NHWC with 1, 3 and 1 channels.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.session = open_session(self.path)
        inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        if not inputs or len(inputs) > 2:
            raise CheckpointError(f"{self.path}: a DFM model has one or two inputs, found {len(inputs)}")
        first = inputs[0]
        if "in_face" not in first.name or first.name != "in_face:0":
            raise CheckpointError(f"{self.path}: the first input must be 'in_face:0', found {first.name!r}")
        if len(inputs) == 2 and inputs[1].name != "morph_value:0":
            raise CheckpointError(
                f"{self.path}: the second input must be 'morph_value:0', found {inputs[1].name!r}"
            )
        shape = first.shape
        if (
            len(shape) != 4
            or not all(isinstance(side, int) and side > 0 for side in shape[1:3])
            or shape[3] != 3
        ):
            raise CheckpointError(
                f"{self.path}: 'in_face:0' must be (N, H, W, 3) with fixed H, W; found {shape}"
            )
        self.height, self.width = int(shape[1]), int(shape[2])
        self.has_morph_value = len(inputs) == 2
        names = [output.name for output in outputs]
        expected = ["out_face_mask:0", "out_celeb_face:0", "out_celeb_face_mask:0"]
        if names != expected:
            raise CheckpointError(f"{self.path}: outputs must be {expected} in this order, found {names}")
        for output, channels in zip(outputs, (1, 3, 1), strict=True):
            if len(output.shape) != 4 or output.shape[3] != channels:
                raise CheckpointError(
                    f"{self.path}: output {output.name!r} must be (N, H, W, {channels}), found {output.shape}"
                )

    def convert(
        self, image_bgr: np.ndarray, morph: float = 0.75
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`image_bgr`: uint8 (H, W, 3) BGR aligned face crop, any size (resized to the model's, as
        DeepFaceLive does). Returns (celeb face (H, W, 3) float32 BGR in [0, 1], celeb mask
        (H, W, 1), face mask (H, W, 1)) at the input's size."""
        height, width = image_bgr.shape[:2]
        face = cv2.resize(image_bgr, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        feed: dict[str, np.ndarray] = {"in_face:0": (face.astype(np.float32) / 255.0)[None]}
        if self.has_morph_value:
            feed["morph_value:0"] = np.array([morph], dtype=np.float32)
        face_mask, celeb, celeb_mask = self.session.run(None, feed)

        def back(array: np.ndarray, channels: int) -> np.ndarray:
            resized = cv2.resize(array[0], (width, height), interpolation=cv2.INTER_LINEAR)
            return resized.reshape(height, width, channels).astype(np.float32)

        return back(celeb, 3), back(celeb_mask, 1), back(face_mask, 1)
