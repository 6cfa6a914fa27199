"""The optional patch-GAN loss (`--gan-weight`): a small discriminator that judges patches of the
source person's faces, real against reconstructed, and an adversarial term for the model that pushes
its reconstructions towards patches the discriminator cannot tell from real ones (fine texture an
autoencoder's pixel and structure losses average away).

Only the source side is judged: the swap is the source's decoder run on the target's faces. Both
images are multiplied by the face weight of the loss (the face only, like the reconstruction
losses), so the background never counts. The losses are the non-saturating ones of a GAN written
with logits: the discriminator minimises softplus(-D(real)) + softplus(D(fake)), the model
softplus(-D(fake)). The discriminator has its own AdamW (beta1 0.5, as usual for GANs) at the
model's learning rate; its weights and optimizer state are saved with each checkpoint, so a resumed
run goes on exactly. Under torchrun its gradients are averaged over the processes.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

DISCRIMINATOR_WIDTH = 32
"""Channels of the discriminator's first layer (then 2x and 4x)."""


class PatchDiscriminator(nn.Module):
    """A logit for each patch of about a quarter of the face's width (receptive field 26 px): two
    stride-2 4x4 convolutions, then two 3x3 ones, leaky ReLUs between."""

    def __init__(self, width: int = DISCRIMINATOR_WIDTH) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(4 * width, 1, 3, padding=1),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.layers(image)
        return result


class Adversary:
    """The discriminator, its optimizer and its weight in the model's loss."""

    def __init__(self, weight: float, learning_rate: float, device: torch.device, seed: int) -> None:
        self.weight = weight
        with torch.random.fork_rng(devices=[]):  # its own initialisation; the caller's draws untouched
            torch.manual_seed(seed + 1)
            self.net = PatchDiscriminator().to(device)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=learning_rate, betas=(0.5, 0.999))

    def model_loss(self, fake: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        """The model's adversarial term (unweighted) for reconstructions `fake` (N, 3, R, R) with
        face weights `face` (N, 1, R, R); gradients flow into `fake` only."""
        frozen = {name: parameter.detach() for name, parameter in self.net.named_parameters()}
        logits = torch.func.functional_call(self.net, frozen, (fake.float() * face,))
        return F.softplus(-logits).mean()

    def discriminator_step(
        self, real: torch.Tensor, fake: torch.Tensor, face: torch.Tensor, learning_rate: float
    ) -> torch.Tensor:
        """One step of the discriminator on real faces and (detached) reconstructions; its loss,
        detached. A non-finite loss is skipped."""
        face = face.detach().float()
        real_logits = self.net(real.detach().float() * face)
        fake_logits = self.net(fake.detach().float() * face)
        loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        self.optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            return loss.detach()
        loss.backward()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            world = torch.distributed.get_world_size()
            for parameter in self.net.parameters():
                if parameter.grad is not None:
                    torch.distributed.all_reduce(parameter.grad)
                    parameter.grad /= world
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        self.optimizer.step()
        return loss.detach()

    def state_dict(self) -> dict[str, Any]:
        return {"discriminator": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["discriminator"])
        self.optimizer.load_state_dict(state["optimizer"])
