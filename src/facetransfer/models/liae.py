"""`liae`: DeepFaceLab's LIAE design: a shared encoder, two bottlenecks ("inters") and one decoder.

`inter_both` codes every face; `inter_target` codes target faces only. The decoder reads the two
codes side by side:

* source face: [inter_both, inter_both]
* target face: [inter_target, inter_both]
* swap (target face as the source): [inter_both, inter_both] of the target face

So the source's loss trains encoder, `inter_both` and the decoder but never `inter_target`. The
shared decoder learns one face space for both people, which copes better than `df` with
different face shapes, at the cost of a little less source likeness.
"""

from __future__ import annotations

import torch
from torch import nn

from facetransfer.models.base import FaceSwapModel, Rendering, Side
from facetransfer.models.blocks import Decoder, Encoder, Inter, init_weights
from facetransfer.models.registry import register_model
from facetransfer.presets import ModelConfig


@register_model("liae")
class LIAEModel(FaceSwapModel):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        lowest_px = config.resolution // (32 if config.depth_to_space else 16)
        self.encoder = Encoder(config.encoder_width, config.pixel_norm)
        encoder_features = self.encoder.out_channels * (config.resolution // 16) ** 2
        # As in DeepFaceLab, each inter is twice as wide as the bottleneck; the decoder reads two.
        inter_channels = config.bottleneck_width * 2
        self.inter_both = Inter(encoder_features, config.bottleneck_width, inter_channels, lowest_px)
        self.inter_target = Inter(encoder_features, config.bottleneck_width, inter_channels, lowest_px)
        self.decoder = Decoder(
            inter_channels * 2, config.decoder_width, config.mask_width, config.depth_to_space
        )
        self.apply(init_weights)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def render(self, code: torch.Tensor, rendering: Rendering) -> tuple[torch.Tensor, torch.Tensor]:
        both = self.inter_both(code)
        first = self.inter_target(code) if rendering == "target" else both
        image, mask = self.decoder(torch.cat([first, both], dim=1))
        return image, mask

    def parts(self) -> dict[str, nn.Module]:
        return {
            "encoder": self.encoder,
            "inter_both": self.inter_both,
            "inter_target": self.inter_target,
            "decoder": self.decoder,
        }

    def parts_trained_by(self, side: Side) -> set[str]:
        if side == "source":
            return {"encoder", "inter_both", "decoder"}
        return {"encoder", "inter_both", "inter_target", "decoder"}
