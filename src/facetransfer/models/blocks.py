"""Building blocks shared by the autoencoders (DeepFaceLab's vocabulary, in PyTorch).

All blocks take and return float NCHW tensors. `Downscale` halves the spatial size with a strided
convolution; `Upscale` doubles it by depth-to-space (a convolution to 4x the channels followed by
`pixel_shuffle`), which avoids the checkerboard artefacts of transposed convolutions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# DeepFaceLab's slopes: 0.1 in the scaling blocks, 0.2 inside residual blocks.
SCALE_SLOPE = 0.1
RESIDUAL_SLOPE = 0.2


def pixel_norm(x: torch.Tensor, dim: int = 1, eps: float = 1e-6) -> torch.Tensor:
    """Scale each vector along `dim` to unit root-mean-square (ProGAN's pixel norm).

    DeepFaceLab applies it to the encoder's flattened code: it keeps the code's scale fixed, which
    makes the shared bottleneck train more stably and the two people's codes comparable.
    """
    return x * torch.rsqrt(x.pow(2).mean(dim=dim, keepdim=True) + eps)


def init_weights(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for convolutions and dense layers (DeepFaceLab's and
    Keras's default). PyTorch's default draws weights about 2.4x smaller in scale, which after a dozen
    layers without normalisation leaves the output nearly independent of the input: training then
    sits for hundreds of steps on the average face. Use with `model.apply(init_weights)`."""
    if isinstance(module, nn.Conv2d | nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class Downscale(nn.Module):
    """Strided convolution (halves H and W) + leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=2, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x), SCALE_SLOPE)


class Upscale(nn.Module):
    """Convolution to 4x `out_channels` + leaky ReLU + depth-to-space (doubles H and W)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels * 4, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(F.leaky_relu(self.conv(x), SCALE_SLOPE), 2)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection (channels unchanged)."""

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.conv1(x), RESIDUAL_SLOPE)
        return F.leaky_relu(x + self.conv2(y), RESIDUAL_SLOPE)


class Encoder(nn.Module):
    """Four `Downscale` blocks with widths w, 2w, 4w, 8w: (N, 3, R, R) -> (N, 8w * (R/16)^2) flat code.

    With `use_pixel_norm`, the flat code is pixel-normalised (DeepFaceLab's `u` option).
    """

    def __init__(self, width: int, use_pixel_norm: bool) -> None:
        super().__init__()
        self.use_pixel_norm = use_pixel_norm
        widths = [3, width, width * 2, width * 4, width * 8]
        self.blocks = nn.Sequential(*(Downscale(widths[i], widths[i + 1]) for i in range(4)))
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = torch.flatten(self.blocks(x), 1)
        return pixel_norm(code, dim=1) if self.use_pixel_norm else code


class Inter(nn.Module):
    """The bottleneck: dense to `bottleneck_width`, dense back to a (out_channels, r, r) grid, one
    `Upscale`. `r` is the lowest spatial size of the model (R/16, or R/32 with depth-to-space)."""

    def __init__(self, in_features: int, bottleneck_width: int, out_channels: int, lowest_px: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.lowest_px = lowest_px
        self.dense1 = nn.Linear(in_features, bottleneck_width)
        self.dense2 = nn.Linear(bottleneck_width, lowest_px * lowest_px * out_channels)
        self.upscale = Upscale(out_channels, out_channels)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        x = self.dense2(self.dense1(code))
        x = x.view(-1, self.out_channels, self.lowest_px, self.lowest_px)
        return self.upscale(x)


class Decoder(nn.Module):
    """Image and mask branches from the inter's grid (N, in_channels, r*2, r*2).

    Image: three `Upscale`+`ResidualBlock` stages (widths 8d, 4d, 2d), then a 1x1 convolution to RGB.
    With `depth_to_space`, a 3x3 convolution makes 4 RGB images at half resolution which
    `pixel_shuffle` interleaves into the full one (DeepFaceLab's `d` option): the convolutions then
    run at half the resolution, about 3.6x less compute for the same output size.
    Mask: three (four with depth-to-space) narrow `Upscale` stages (widths 8m, 4m, 2m[, m]) and a
    1x1 convolution. Both outputs go through a sigmoid: images in [0, 1], masks in [0, 1].
    """

    def __init__(self, in_channels: int, width: int, mask_width: int, depth_to_space: bool) -> None:
        super().__init__()
        self.depth_to_space = depth_to_space
        self.stages = nn.Sequential(
            Upscale(in_channels, width * 8),
            ResidualBlock(width * 8),
            Upscale(width * 8, width * 4),
            ResidualBlock(width * 4),
            Upscale(width * 4, width * 2),
            ResidualBlock(width * 2),
        )
        if depth_to_space:
            self.to_rgb = nn.Conv2d(width * 2, 3 * 4, kernel_size=3, padding=1)
        else:
            self.to_rgb = nn.Conv2d(width * 2, 3, kernel_size=1)
        mask_widths = [in_channels, mask_width * 8, mask_width * 4, mask_width * 2]
        if depth_to_space:
            mask_widths.append(mask_width)
        self.mask_stages = nn.Sequential(
            *(Upscale(mask_widths[i], mask_widths[i + 1]) for i in range(len(mask_widths) - 1))
        )
        self.to_mask = nn.Conv2d(mask_widths[-1], 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rgb = self.to_rgb(self.stages(x))
        if self.depth_to_space:
            rgb = F.pixel_shuffle(rgb, 2)
        mask = self.to_mask(self.mask_stages(x))
        return torch.sigmoid(rgb), torch.sigmoid(mask)
