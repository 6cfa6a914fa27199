"""Losses: SSIM / DSSIM with a gaussian window, and the face-swap training loss.

The training loss of one side (DeepFaceLab's SAEHD recipe):

* DSSIM with a window of about resolution/11.6 pixels (plus one of resolution/23.2 at 256 px and
  up, the two weighted equally), weighted by `ssim_weight`;
* mean squared pixel error, weighted by `pixel_weight`;
* both on the face only (the face hull, blurred by resolution/32) when `exclude_background`;
* mean absolute error inside the eye and mouth regions, weighted by `eyes_mouth_weight`;
* mean squared error of the mask output against the face hull, weighted by `mask_weight`.

The optional patch-GAN term (`gan_weight`) is `train.adversarial`'s; it uses `face_weight`.

SSIM is computed in float32 even under bf16 autocast: it subtracts squared means, which bf16's
8-bit mantissa cannot resolve.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from facetransfer.presets import LossWeights

SSIM_SIGMA_PX = 1.5


def gaussian_kernel_1d(size: int, sigma: float, device: torch.device | None = None) -> torch.Tensor:
    """float32 (size,) gaussian weights that sum to 1, centred on the middle tap."""
    coords = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2.0
    weights = torch.exp(-(coords**2) / (2.0 * sigma**2))
    return weights / weights.sum()


def _separable_filter(x: torch.Tensor, kernel: torch.Tensor, padding: int = 0) -> torch.Tensor:
    """Depthwise separable convolution of x (N, C, H, W) by the 1-D `kernel` in both directions."""
    channels = x.shape[1]
    size = kernel.numel()
    horizontal = kernel.view(1, 1, 1, size).expand(channels, 1, 1, size)
    vertical = kernel.view(1, 1, size, 1).expand(channels, 1, size, 1)
    x = F.conv2d(x, horizontal, padding=(0, padding), groups=channels)
    return F.conv2d(x, vertical, padding=(padding, 0), groups=channels)


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    window_px: int = 11,
    sigma: float = SSIM_SIGMA_PX,
    max_value: float = 1.0,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Per-sample mean SSIM (Wang et al. 2004) of x and y (N, C, H, W): float32 (N,).

    Gaussian window of `window_px` taps and standard deviation `sigma`, "valid" borders (only
    windows fully inside the image), the SSIM map averaged over channels and positions.
    """
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(
            f"expected two (N, C, H, W) tensors of one shape, found {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if min(x.shape[-2:]) < window_px:
        raise ValueError(f"images of {tuple(x.shape[-2:])} px are smaller than the {window_px} px window")
    x = x.float()
    y = y.float()
    c1 = (k1 * max_value) ** 2
    c2 = (k2 * max_value) ** 2
    kernel = gaussian_kernel_1d(window_px, sigma, x.device)
    channels = x.shape[1]
    # One filtering pass over the five maps SSIM needs.
    stats = _separable_filter(torch.cat([x, y, x * x, y * y, x * y], dim=1), kernel)
    mean_x, mean_y, mean_xx, mean_yy, mean_xy = stats.split(channels, dim=1)
    variance_x = mean_xx - mean_x * mean_x
    variance_y = mean_yy - mean_y * mean_y
    covariance = mean_xy - mean_x * mean_y
    luminance = (2 * mean_x * mean_y + c1) / (mean_x * mean_x + mean_y * mean_y + c1)
    structure = (2 * covariance + c2) / (variance_x + variance_y + c2)
    return (luminance * structure).mean(dim=(1, 2, 3))


def dssim(
    x: torch.Tensor, y: torch.Tensor, window_px: int = 11, sigma: float = SSIM_SIGMA_PX
) -> torch.Tensor:
    """Structural dissimilarity (1 - SSIM) / 2 per sample: float32 (N,), 0 for identical images."""
    return (1.0 - ssim(x, y, window_px, sigma)) / 2.0


def ssim_windows_px(resolution: int) -> tuple[int, ...]:
    """DeepFaceLab's DSSIM windows: resolution/11.6, and resolution/23.2 too from 256 px (odd sizes)."""
    windows = [max(3, int(resolution / 11.6)) | 1]
    if resolution >= 256:
        windows.append(max(3, int(resolution / 23.2)) | 1)
    return tuple(windows)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of x (N, C, H, W) with zero padding, same size out."""
    radius = max(1, round(2 * sigma))
    kernel = gaussian_kernel_1d(2 * radius + 1, sigma, x.device).to(x.dtype)
    return _separable_filter(x, kernel, padding=radius)


class FaceLoss:
    """The loss of one side's reconstruction (see the module docstring)."""

    def __init__(self, resolution: int, weights: LossWeights | None = None) -> None:
        self.resolution = resolution
        self.weights = weights or LossWeights()
        self.windows_px = ssim_windows_px(resolution)
        self.face_blur_sigma_px = max(1.0, resolution / 32)

    def __call__(
        self, image: torch.Tensor, mask: torch.Tensor, target: torch.Tensor, masks: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss (scalar) and its parts (detached scalars).

        image, target: (N, 3, R, R) in [0, 1]; mask: (N, 1, R, R) predicted mask in [0, 1];
        masks: (N, 3, R, R) landmark masks of the target: face hull, eyes, mouth.
        """
        # float32 throughout, even inside a bf16 autocast region (see the module docstring)
        with torch.autocast(image.device.type, enabled=False):
            return self._compute(image, mask, target, masks)

    def face_weight(self, masks: torch.Tensor) -> torch.Tensor:
        """(N, 1, R, R) float32 weight of each pixel in the image losses: the blurred face mask, or
        ones when the background is learned too."""
        hull = masks[:, 0:1].float()
        if self.weights.exclude_background:
            return gaussian_blur(hull, self.face_blur_sigma_px)
        return torch.ones_like(hull)

    def _compute(
        self, image: torch.Tensor, mask: torch.Tensor, target: torch.Tensor, masks: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        weights = self.weights
        image = image.float()
        mask = mask.float()
        target = target.float()
        hull = masks[:, 0:1].float()
        parts: dict[str, torch.Tensor] = {}
        face = self.face_weight(masks)
        image_used, target_used = image * face, target * face
        total = image.new_zeros(())
        if weights.ssim_weight:
            structural = torch.stack(
                [dssim(image_used, target_used, w).mean() for w in self.windows_px]
            ).mean()
            parts["dssim"] = structural.detach()
            total = total + weights.ssim_weight * structural
        if weights.pixel_weight:
            pixel = F.mse_loss(image_used, target_used)
            parts["pixel"] = pixel.detach()
            total = total + weights.pixel_weight * pixel
        if weights.eyes_mouth_weight:
            eyes_mouth = torch.maximum(masks[:, 1:2], masks[:, 2:3]).float()
            priority = ((image - target).abs() * eyes_mouth).mean()
            parts["eyes_mouth"] = priority.detach()
            total = total + weights.eyes_mouth_weight * priority
        if weights.mask_weight:
            mask_error = F.mse_loss(mask, hull)
            parts["mask"] = mask_error.detach()
            total = total + weights.mask_weight * mask_error
        return total, parts
