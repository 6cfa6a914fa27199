"""The mask network: a small U-Net that says, per pixel of an aligned face crop, whether it is face.

Input: float32 (N, 3, R, R) RGB in [0, 1], R the model's `resolution` (a multiple of 2 ** (levels - 1)).
Output: float32 (N, 1, R, R) logits; `torch.sigmoid` of them is the mask in [0, 1].

The network is kept small so that a user can fit it on one faceset on a CPU in minutes: four levels of
16, 24, 32 and 48 channels by default. The full-resolution level has one convolution on each side (the
costliest pixels get the least work: a mask's detail is in its edges, which the coarser levels place
and the skip connection sharpens), the coarser levels two. The decoder adds the upsampled coarse
features to the skip instead of concatenating them, which halves its convolutions at the large levels.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional
from torch.nn.utils.fusion import fuse_conv_bn_eval

DEFAULT_WIDTHS: tuple[int, ...] = (16, 24, 32, 48)
"""Channels of the network's levels, finest first."""
DEFAULT_RESOLUTION = 128


class ConvNormReLU(nn.Module):
    """3x3 convolution, batch norm, ReLU: (N, C_in, H, W) -> (N, C_out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm: nn.Module = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional.relu(self.norm(self.conv(x)), inplace=True)

    def fuse(self) -> None:
        """Fold the (eval-mode) norm into the convolution: the same function at about 3/4 of the cost."""
        if isinstance(self.norm, nn.BatchNorm2d):
            self.conv = fuse_conv_bn_eval(self.conv, self.norm)
            self.norm = nn.Identity()


def minimum_side(levels: int) -> int:
    """The input side must be a multiple of this for a U-Net of `levels` levels."""
    return int(2 ** (levels - 1))


class MaskModel(nn.Module):
    """Small U-Net from an RGB face crop to one channel of face/not-face logits.

    `resolution`: side of the square input in pixels (crops are resized to it by `fit_mask_model` and
    `predict_masks`), a multiple of 2 ** (len(widths) - 1); `widths`: channels per level, finest first
    (at least two levels). Both are saved with the weights so that a model is rebuilt as it was fitted.
    """

    def __init__(self, resolution: int = DEFAULT_RESOLUTION, widths: Sequence[int] = DEFAULT_WIDTHS) -> None:
        super().__init__()
        widths = tuple(int(width) for width in widths)
        if len(widths) < 2 or any(width < 1 for width in widths):
            raise ValueError(f"expected at least two positive channel widths, found {widths}")
        factor = minimum_side(len(widths))
        if resolution < factor or resolution % factor:
            raise ValueError(f"resolution must be a positive multiple of {factor}, found {resolution}")
        self.resolution = int(resolution)
        self.widths = widths
        self.encoders = nn.ModuleList([ConvNormReLU(3, widths[0])])
        for previous, width in zip(widths[:-1], widths[1:], strict=True):
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
        """float32 (N, 3, R, R) RGB in [0, 1] -> float32 (N, 1, R, R) logits."""
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
