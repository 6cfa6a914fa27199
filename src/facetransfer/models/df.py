"""`df`: DeepFaceLab's DF design: one shared encoder and bottleneck ("inter"), one decoder per person.

Source faces train encoder + inter + source decoder; target faces train encoder + inter + target
decoder. Because the two people share the code, a target face's code decoded by the source decoder
shows the source person with the target's pose, expression and lighting: the swap.
"""

from __future__ import annotations

import torch
from torch import nn

from facetransfer.models.base import FaceSwapModel, Rendering, Side
from facetransfer.models.blocks import Decoder, Encoder, Inter, init_weights
from facetransfer.models.registry import register_model
from facetransfer.presets import ModelConfig


@register_model("df")
class DFModel(FaceSwapModel):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        lowest_px = config.resolution // (32 if config.depth_to_space else 16)
        self.encoder = Encoder(config.encoder_width, config.pixel_norm)
        encoder_features = self.encoder.out_channels * (config.resolution // 16) ** 2
        inter_channels = config.bottleneck_width
        self.inter = Inter(encoder_features, config.bottleneck_width, inter_channels, lowest_px)
        self.decoder_source = Decoder(
            inter_channels, config.decoder_width, config.mask_width, config.depth_to_space
        )
        self.decoder_target = Decoder(
            inter_channels, config.decoder_width, config.mask_width, config.depth_to_space
        )
        self.apply(init_weights)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def render(self, code: torch.Tensor, rendering: Rendering) -> tuple[torch.Tensor, torch.Tensor]:
        grid = self.inter(code)
        decoder = self.decoder_target if rendering == "target" else self.decoder_source
        image, mask = decoder(grid)
        return image, mask

    def parts(self) -> dict[str, nn.Module]:
        return {
            "encoder": self.encoder,
            "inter": self.inter,
            "decoder_source": self.decoder_source,
            "decoder_target": self.decoder_target,
        }

    def parts_trained_by(self, side: Side) -> set[str]:
        return {"encoder", "inter", "decoder_source" if side == "source" else "decoder_target"}
