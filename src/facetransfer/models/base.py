"""The contract every face-swap autoencoder follows.

A model learns two people, the *source* (who appears in the output) and the *target* (whose video
is converted). It has an image output and a learned-mask output for each:

* `forward_source(x)`: a source face reconstructed as itself;
* `forward_target(x)`: a target face reconstructed as itself;
* `swap(x)`: a target face rendered as the source person (what conversion calls);
* `forward(x_source, x_target)`: both reconstructions in one call (the training step; one call so
  that `DistributedDataParallel` sees every parameter used once per step).

Inputs are float32 (N, 3, R, R) RGB in [0, 1]; images come back as (N, 3, R, R) in [0, 1], masks
as (N, 1, R, R) in [0, 1]. A model is built from a `ModelConfig` (`model.model_config`), which a
checkpoint stores to rebuild the same architecture; `model.name` is the registry name.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

import torch
from torch import nn

from facetransfer.presets import ModelConfig

Side = Literal["source", "target"]
SIDES: tuple[str, ...] = get_args(Side)
Rendering = Literal["source", "target", "swap"]


class FaceSwapModel(nn.Module):
    """Base class of the registered models (see the module docstring for the contract)."""

    name: ClassVar[str] = ""
    BASE_REINITIALISED: ClassVar[tuple[str, ...]] = ()
    """Parts that start from fresh random weights when a new model starts from a pretrained base
    (the others are copied; see `modelfolder.bases`). None for `df` and `liae`: re-initialising
    `inter` / `inter_both`, as DeepFaceLab does, was measured no better (docs/BASES.md)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.model_config = config

    @property
    def config(self) -> dict[str, Any]:
        """The architecture's options (everything but the name)."""
        return self.model_config.options()

    @property
    def resolution(self) -> int:
        return self.model_config.resolution

    # -- what subclasses provide ----------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The shared encoder's flat code of faces x (N, 3, R, R)."""
        raise NotImplementedError

    def render(self, code: torch.Tensor, rendering: Rendering) -> tuple[torch.Tensor, torch.Tensor]:
        """(image, mask) decoded from `code` as the source, the target, or the swap."""
        raise NotImplementedError

    def parts(self) -> dict[str, nn.Module]:
        """The model's named parts (encoder, inters, decoders)."""
        raise NotImplementedError

    def parts_trained_by(self, side: Side) -> set[str]:
        """Names of the parts that a loss on `side`'s reconstruction trains; the others must not move."""
        raise NotImplementedError

    # -- the contract ---------------------------------------------------------------------------
    def forward_source(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.render(self.encode(x), "source")

    def forward_target(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.render(self.encode(x), "target")

    def swap(self, x_target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Target faces (N, 3, R, R) rendered as the source person: (image, mask)."""
        return self.render(self.encode(x_target), "swap")

    def forward(
        self, x_source: torch.Tensor, x_target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(source image, source mask, target image, target mask): both sides reconstructed.

        The encoder runs once on both batches together (larger, faster matrix products)."""
        count = x_source.shape[0]
        code = self.encode(torch.cat([x_source, x_target]))
        source_image, source_mask = self.render(code[:count], "source")
        target_image, target_mask = self.render(code[count:], "target")
        return source_image, source_mask, target_image, target_mask

    def parameter_count(self) -> int:
        return sum(parameter.numel() for parameter in self.parameters())
