"""Training augmentation in PyTorch, on whatever device the batch lives (the GPU never waits for
the CPU): colour transfer, colour jitter, a random affine, DeepFaceLab's random grid warp and an
optional flip, all by `grid_sample`.

The *input* of the autoencoder is warped; the *target* it must reproduce gets the same affine and
colour but no grid warp, so the model learns faces rather than copying pixels. Landmark masks
follow the target. Every random draw comes from the `generator` passed in, so a batch is a pure
function of its seed (the training loop seeds by step, which makes a resumed run repeat exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from facetransfer.presets import AugmentConfig, ColorTransfer

# DeepFaceLab's random warp: a coarse grid of 2, 4 or 8 cells whose inner points move by a normal
# offset of 0.24 cell, upsampled to a smooth field.
WARP_CELL_COUNTS: tuple[int, ...] = (2, 4, 8)
WARP_STRENGTH_CELLS = 0.24


@dataclass
class Batch:
    """One side's training batch, float32 on the device.

    warped: (N, 3, R, R) model input in [0, 1]; target: (N, 3, R, R) what it must reproduce;
    masks: (N, 3, R, R) landmark masks of the target in [0, 1]: face hull, eyes, mouth.
    """

    warped: torch.Tensor
    target: torch.Tensor
    masks: torch.Tensor


def to_float_nchw(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [0, 1]."""
    return images.permute(0, 3, 1, 2).float().div_(255.0)


def _uniform(count: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(count, generator=generator, device=generator.device) * (high - low) + low


def random_affine(
    count: int, config: AugmentConfig, generator: torch.Generator, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """(N, 2, 3) `affine_grid` matrices (output -> input, normalised coordinates): rotation by up to
    ±rotation_deg, zoom by 1 ± scale_range, shift by up to ±shift_range of the size, and a
    horizontal flip of half the samples when `config.flip`."""
    angle = _uniform(count, -1.0, 1.0, generator) * math.radians(config.rotation_deg)
    zoom = 1.0 + _uniform(count, -1.0, 1.0, generator) * config.scale_range
    shift = _uniform(2 * count, -1.0, 1.0, generator).view(count, 2) * (2.0 * config.shift_range)
    flips = torch.rand(count, generator=generator, device=generator.device) < 0.5
    mirror = torch.where(flips, -1.0, 1.0) if config.flip else torch.ones_like(angle)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [
            torch.stack([cos * mirror, -sin, shift[:, 0]], dim=1),
            torch.stack([sin * mirror, cos, shift[:, 1]], dim=1),
        ],
        dim=1,
    )
    return theta.to(dtype)


def random_warp_field(count: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """(N, size, size, 2) smooth random offsets in normalised coordinates, zero on the border.

    Each sample gets a coarse grid of 2, 4 or 8 cells (chosen at random) whose inner points move by
    a normal offset of 0.24 cell; the grid is upsampled bilinearly to the image."""
    device = generator.device
    choice = torch.randint(len(WARP_CELL_COUNTS), (count,), generator=generator, device=device)
    field = torch.zeros(count, 2, size, size, device=device)
    for index, cells in enumerate(WARP_CELL_COUNTS):
        cell_size = 2.0 / cells
        offsets = torch.randn(count, 2, cells + 1, cells + 1, generator=generator, device=device)
        offsets = offsets * (WARP_STRENGTH_CELLS * cell_size)
        border = torch.ones(cells + 1, cells + 1, device=device)
        border[1:-1, 1:-1] = 0
        offsets = offsets.masked_fill(border.bool(), 0.0)
        smooth = F.interpolate(offsets, size=(size, size), mode="bilinear", align_corners=True)
        field = torch.where((choice == index).view(count, 1, 1, 1), smooth, field)
    return field.permute(0, 2, 3, 1)


def color_jitter(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Random brightness (± strength), contrast and saturation (× 1 ± 2 strength) per sample, for
    (N, 3, H, W) images in [0, 1]; result clamped to [0, 1]."""
    count = images.shape[0]
    brightness = _uniform(count, -strength, strength, generator).view(count, 1, 1, 1)
    contrast = (1.0 + _uniform(count, -2 * strength, 2 * strength, generator)).view(count, 1, 1, 1)
    saturation = (1.0 + _uniform(count, -2 * strength, 2 * strength, generator)).view(count, 1, 1, 1)
    grey = (images * images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    images = grey + (images - grey) * saturation
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = (images - mean) * contrast + mean + brightness
    return images.clamp_(0.0, 1.0)


# --- colour transfer --------------------------------------------------------------------------
_RGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE_D65 = torch.tensor([0.950456, 1.0, 1.088754])


def rgb_to_lab(images: torch.Tensor) -> torch.Tensor:
    """sRGB (N, 3, H, W) in [0, 1] -> CIE L*a*b* (D65): L in [0, 100], a and b about [-128, 127]."""
    linear = torch.where(images > 0.04045, ((images + 0.055) / 1.055) ** 2.4, images / 12.92)
    xyz = torch.einsum("ij,njhw->nihw", _RGB_TO_XYZ.to(images), linear)
    xyz = xyz / _WHITE_D65.to(images).view(1, 3, 1, 1)
    epsilon = 216 / 24389
    kappa = 24389 / 27
    f = torch.where(xyz > epsilon, xyz.clamp_min(1e-12) ** (1 / 3), (kappa * xyz + 16) / 116)
    lightness = 116 * f[:, 1] - 16
    a = 500 * (f[:, 0] - f[:, 1])
    b = 200 * (f[:, 1] - f[:, 2])
    return torch.stack([lightness, a, b], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE L*a*b* (D65) (N, 3, H, W) -> sRGB in [0, 1] (clamped)."""
    fy = (lab[:, 0] + 16) / 116
    fx = fy + lab[:, 1] / 500
    fz = fy - lab[:, 2] / 200
    f = torch.stack([fx, fy, fz], dim=1)
    epsilon = 216 / 24389
    kappa = 24389 / 27
    xyz = torch.where(f**3 > epsilon, f**3, (116 * f - 16) / kappa)
    xyz = xyz * _WHITE_D65.to(lab).view(1, 3, 1, 1)
    linear = torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB_TO_XYZ).to(lab), xyz).clamp(0.0, 1.0)
    srgb = torch.where(
        linear > 0.0031308, 1.055 * linear.clamp_min(1e-12) ** (1 / 2.4) - 0.055, 12.92 * linear
    )
    return srgb.clamp(0.0, 1.0)


def _weighted_mean_std(x: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    total = weight.sum(dim=(2, 3), keepdim=True)
    mean = (x * weight).sum(dim=(2, 3), keepdim=True) / total
    variance = (((x - mean) ** 2) * weight).sum(dim=(2, 3), keepdim=True) / total
    return mean, variance.clamp_min(1e-6).sqrt()


def _face_weight(mask: torch.Tensor) -> torch.Tensor:
    # A small floor keeps statistics defined for a sample whose mask is empty.
    return mask + 1e-3


def reinhard_color_transfer(
    images: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor, reference_mask: torch.Tensor
) -> torch.Tensor:
    """RCT: shift and scale each L*a*b* channel of `images` so that its mean and standard deviation
    inside `mask` match `reference` inside `reference_mask`. images, reference: (N, 3, H, W) in
    [0, 1]; masks: (N, 1, H, W) in [0, 1]. Returns (N, 3, H, W) in [0, 1]."""
    lab = rgb_to_lab(images)
    reference_lab = rgb_to_lab(reference)
    mean, std = _weighted_mean_std(lab, _face_weight(mask))
    reference_mean, reference_std = _weighted_mean_std(reference_lab, _face_weight(reference_mask))
    return lab_to_rgb((lab - mean) / std * reference_std + reference_mean)


def _weighted_covariance(x: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = x.flatten(2)  # (N, 3, P)
    w = weight.flatten(2)  # (N, 1, P)
    total = w.sum(dim=2, keepdim=True)
    mean = (flat * w).sum(dim=2, keepdim=True) / total
    centred = flat - mean
    covariance = (centred * w) @ centred.transpose(1, 2) / total
    return mean, covariance


def _symmetric_sqrt(matrix: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix)
    eigenvalues = eigenvalues.clamp_min(1e-8)
    scale = eigenvalues.rsqrt() if inverse else eigenvalues.sqrt()
    return eigenvectors @ torch.diag_embed(scale) @ eigenvectors.transpose(1, 2)


def linear_color_transfer(
    images: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor, reference_mask: torch.Tensor
) -> torch.Tensor:
    """LCT: the linear map of RGB that gives `images` (inside `mask`) the mean and covariance of
    `reference` (inside `reference_mask`): x' = C_ref^1/2 C^-1/2 (x - m) + m_ref. Shapes as RCT."""
    eye = torch.eye(3, device=images.device, dtype=torch.float32) * 1e-5
    mean, covariance = _weighted_covariance(images.float(), _face_weight(mask))
    reference_mean, reference_covariance = _weighted_covariance(
        reference.float(), _face_weight(reference_mask)
    )
    transform = _symmetric_sqrt(reference_covariance + eye) @ _symmetric_sqrt(covariance + eye, inverse=True)
    flat = images.float().flatten(2)
    mapped = transform @ (flat - mean) + reference_mean
    return mapped.view_as(images).clamp(0.0, 1.0).to(images.dtype)


def color_transfer(
    mode: ColorTransfer,
    images: torch.Tensor,
    reference: torch.Tensor,
    mask: torch.Tensor,
    reference_mask: torch.Tensor,
) -> torch.Tensor:
    if mode == "rct":
        return reinhard_color_transfer(images, reference, mask, reference_mask)
    if mode == "lct":
        return linear_color_transfer(images, reference, mask, reference_mask)
    return images


# --- the whole recipe -------------------------------------------------------------------------
def augment(
    images: torch.Tensor,
    masks: torch.Tensor,
    config: AugmentConfig,
    generator: torch.Generator,
    color_reference: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Batch:
    """One side's batch from uint8 (N, R, R, 3) images and uint8 (N, R, R, 3) landmark masks (face
    hull, eyes, mouth) on the generator's device.

    `color_reference` (uint8 images and masks of the other person, any batch size) is used by
    `config.color_transfer`: each sample takes the colour statistics of a random reference face.
    """
    count, size = images.shape[0], images.shape[1]
    faces = to_float_nchw(images)
    face_masks = to_float_nchw(masks)
    if config.color_transfer != "none" and color_reference is not None:
        reference_images, reference_masks = color_reference
        pick = torch.randint(
            reference_images.shape[0], (count,), generator=generator, device=generator.device
        )
        pick = pick.to(reference_images.device)
        faces = color_transfer(
            config.color_transfer,
            faces,
            to_float_nchw(reference_images[pick]),
            face_masks[:, 0:1],
            to_float_nchw(reference_masks[pick])[:, 0:1],
        )
    if config.color_jitter > 0:
        faces = color_jitter(faces, config.color_jitter, generator)
    theta = random_affine(count, config, generator)
    grid = F.affine_grid(theta, [count, 3, size, size], align_corners=False)
    # The target and its masks: one sampling pass, edges replicated as DeepFaceLab does.
    sampled = F.grid_sample(
        torch.cat([faces, face_masks], dim=1),
        grid,
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    target, target_masks = sampled[:, :3], sampled[:, 3:]
    if config.random_warp:
        warped = F.grid_sample(
            faces,
            grid + random_warp_field(count, size, generator),
            padding_mode="border",
            align_corners=False,
        )
    else:
        warped = target
    return Batch(warped=warped.contiguous(), target=target.contiguous(), masks=target_masks.contiguous())


def unaugmented(images: torch.Tensor, masks: torch.Tensor) -> Batch:
    """The batch as it is (input = target), for previews and the held-out loss."""
    faces = to_float_nchw(images)
    return Batch(warped=faces, target=faces, masks=to_float_nchw(masks))
