"""The two graphs `export` writes, as PyTorch modules around a trained model (imports PyTorch).

- `SwapGraph` (format `onnx`): input `face`, float32 (N, 3, R, R) RGB in [0, 1], a target face
  aligned as the model was trained (the project's template at the model's coverage); outputs
  `swapped_face` (N, 3, R, R) RGB in [0, 1] and `swapped_mask` (N, 1, R, R) in [0, 1]: exactly
  `FaceSwapModel.swap`.
- `DfmGraph` (format `dfm`): DeepFaceLab's exported layout. Input `in_face:0`, float32
  (N, R, R, 3) BGR in [0, 1], a DFL whole-face crop; outputs, in this order, `out_face_mask:0`
  (N, R, R, 1: the target decoder's mask of the input face), `out_celeb_face:0` (N, R, R, 3) BGR
  and `out_celeb_face_mask:0` (N, R, R, 1), both in the DFL crop again (masks 0 where the
  model's crop does not reach).

With `half`, the weights and the arithmetic are float16 and the graph casts at its edges, so the
inputs and outputs stay float32 (what DeepFaceLive and FaceFusion feed and read).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from facetransfer.export.template import dfl_to_ours_matrices, ours_to_dfl_matrices
from facetransfer.faces.align import Coverage
from facetransfer.models.base import FaceSwapModel

ONNX_INPUT = "face"
ONNX_OUTPUTS = ("swapped_face", "swapped_mask")
DFM_INPUT = "in_face:0"
DFM_OUTPUTS = ("out_face_mask:0", "out_celeb_face:0", "out_celeb_face_mask:0")


class SwapGraph(nn.Module):
    """`model.swap` with float32 edges (see the module docstring)."""

    def __init__(self, model: FaceSwapModel, half: bool = False) -> None:
        super().__init__()
        self.model = model.half() if half else model
        self.dtype = torch.float16 if half else torch.float32

    def forward(self, face: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.model.swap(face.to(self.dtype))
        return image.float(), mask.float()


class DfmGraph(nn.Module):
    """DeepFaceLab's exported layout around a model (see the module docstring)."""

    in_rows: torch.Tensor
    in_columns_t: torch.Tensor
    out_rows: torch.Tensor
    out_columns_t: torch.Tensor

    def __init__(self, model: FaceSwapModel, coverage: Coverage, half: bool = False) -> None:
        super().__init__()
        self.model = model.half() if half else model
        self.dtype = torch.float16 if half else torch.float32
        resolution = model.resolution
        in_rows, in_columns = dfl_to_ours_matrices(resolution, coverage)
        out_rows, out_columns = ours_to_dfl_matrices(resolution, coverage)
        # the resampling stays float32 (it costs little and keeps the crop exact)
        self.register_buffer("in_rows", torch.from_numpy(in_rows))
        self.register_buffer("in_columns_t", torch.from_numpy(np.ascontiguousarray(in_columns.T)))
        self.register_buffer("out_rows", torch.from_numpy(out_rows))
        self.register_buffer("out_columns_t", torch.from_numpy(np.ascontiguousarray(out_columns.T)))

    def _resample(self, images: torch.Tensor, rows: torch.Tensor, columns_t: torch.Tensor) -> torch.Tensor:
        """(N, C, R, R) -> rows @ image @ columns.T for each image and channel."""
        return torch.matmul(torch.matmul(rows, images), columns_t)

    def forward(self, in_face: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        bgr = in_face.permute(0, 3, 1, 2)
        rgb = torch.flip(bgr, dims=[1])
        crop = self._resample(rgb, self.in_rows, self.in_columns_t).to(self.dtype)
        code = self.model.encode(crop)
        celeb, celeb_mask = self.model.render(code, "swap")
        _, face_mask = self.model.render(code, "target")
        outputs = []
        for tensor in (face_mask, torch.flip(celeb, dims=[1]), celeb_mask):
            back = self._resample(tensor.float(), self.out_rows, self.out_columns_t)
            outputs.append(back.clamp(0.0, 1.0).permute(0, 2, 3, 1))
        return outputs[0], outputs[1], outputs[2]
