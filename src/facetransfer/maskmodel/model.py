"""The mask network: a small U-Net that says, per pixel of an aligned face crop, whether it is face.

Input: float32 (N, 3, R, R) RGB in [0, 1], R the model's `resolution` (a multiple of 2 ** (levels - 1)).
Output: float32 (N, 1, R, R) logits; `torch.sigmoid` of them is the mask in [0, 1].

The network is kept small so that a user can fit it on one faceset on a CPU in minutes: four levels of
16, 24, 32 and 48 channels by default, the finest at half the input side. A stride-2 first
convolution still reads every input pixel, but nothing runs at full size: on a 128 px input that
made fitting 3 times and prediction 5 times faster than a full-size first level did, with the same
agreement with the skin masks it was fitted on (GRID faces: IoU 0.985-0.988 on held-out faces of the
same person, 0.93 on other people). The logits are upsampled bilinearly to the input side; for
painted masks with finer detail than 2 px at 128 px, fit at a higher resolution. The decoder adds the
upsampled coarse features to the skip instead of concatenating them, which halves its convolutions.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional
from torch.nn.utils.fusion import fuse_conv_bn_eval

DEFAULT_WIDTHS: tuple[int, ...] = (16, 24, 32, 48)
"""Channels of the network's levels, finest first."""
DEFAULT_RESOLUTION = 128


class ConvNormReLU(nn.Module):
    """3x3 convolution, batch norm, ReLU: (N, C_in, H, W) -> (N, C_out, H / stride, W / stride)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.norm: nn.Module = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional.relu(self.norm(self.conv(x)), inplace=True)

    def fuse(self) -> None:
        """Fold the (eval-mode) norm into the convolution: the same function at about 3/4 of the cost."""
        if isinstance(self.norm, nn.BatchNorm2d):
            self.conv = fuse_conv_bn_eval(self.conv, self.norm)
            self.norm = nn.Identity()


def side_multiple(levels: int) -> int:
    """The input side must be a multiple of this for a U-Net of `levels` levels, and at least twice
    it: the first level is at half size and each further one halves again (rounding down; the decoder
    upsamples to each skip's own size, so an odd size on the way is fine)."""
    return int(2 ** (levels - 1))


class MaskModel(nn.Module):
    """Small U-Net from an RGB face crop to one channel of face/not-face logits.

    `resolution`: side of the square input in pixels (crops are resized to it by `fit_mask_model` and
    `predict_masks`), a multiple of 2 ** (len(widths) - 1), at least twice that; `widths`: channels per
    level, finest first (at least two levels). Both are saved with the weights so that a model is
    rebuilt as it was fitted.
    """

    def __init__(self, resolution: int = DEFAULT_RESOLUTION, widths: Sequence[int] = DEFAULT_WIDTHS) -> None:
        super().__init__()
        widths = tuple(int(width) for width in widths)
        if len(widths) < 2 or any(width < 1 for width in widths):
            raise ValueError(f"expected at least two positive channel widths, found {widths}")
        factor = side_multiple(len(widths))
        if resolution < 2 * factor or resolution % factor:
            raise ValueError(
                f"resolution must be a multiple of {factor} from {2 * factor}, found {resolution}"
            )
        self.resolution = int(resolution)
        self.widths = widths
        self.encoders = nn.ModuleList(
            [nn.Sequential(ConvNormReLU(3, widths[0], stride=2), ConvNormReLU(widths[0], widths[0]))]
        )
        for previous, width in itertools.pairwise(widths):
            self.encoders.append(nn.Sequential(ConvNormReLU(previous, width), ConvNormReLU(width, width)))
        # coarse to fine: a 1x1 projection to the finer width at the coarse size (where it is cheap),
        # then after the upsampling and the addition of the skip, the level's convolutions
        self.projections = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in range(len(widths) - 2, -1, -1):
            self.projections.append(nn.Conv2d(widths[level + 1], widths[level], 1))
            depth = 1 if level == 0 else 2
            self.decoders.append(
                nn.Sequential(*[ConvNormReLU(widths[level], widths[level]) for _ in range(depth)])
            )
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """float32 (N, 3, R, R) RGB in [0, 1] -> float32 (N, 1, R, R) logits (`half_size_logits`
        upsampled bilinearly)."""
        return functional.interpolate(
            self.half_size_logits(images), size=images.shape[-2:], mode="bilinear", align_corners=False
        )

    def half_size_logits(self, images: torch.Tensor) -> torch.Tensor:
        """float32 (N, 3, R, R) RGB in [0, 1] -> float32 (N, 1, R / 2, R / 2) logits, as computed (a
        caller that wants another size upsamples these once)."""
        features = []
        x = images - 0.5  # centred: the first norm sees zero-mean input from the first step
        for index, encoder in enumerate(self.encoders):
            if index:
                x = functional.max_pool2d(x, 2)
            x = encoder(x)
            features.append(x)
        for projection, decoder, skip in zip(
            self.projections, self.decoders, reversed(features[:-1]), strict=True
        ):
            upsampled = functional.interpolate(
                projection(x), size=skip.shape[-2:], mode="bilinear", align_corners=False
            )
            x = decoder(upsampled + skip)
        logits: torch.Tensor = self.head(x)
        return logits

    def describe(self) -> str:
        """One line, e.g. "mask U-Net 128 px, widths 16-24-32-48"."""
        return f"mask U-Net {self.resolution} px, widths {'-'.join(str(width) for width in self.widths)}"


def fused_for_inference(model: MaskModel) -> MaskModel:
    """An eval-mode copy of `model` with every batch norm folded into its convolution (same outputs up
    to float rounding, faster); `model` itself is left as it is."""
    fused = copy.deepcopy(model).eval()
    for module in fused.modules():
        if isinstance(module, ConvNormReLU):
            module.fuse()
    return fused
