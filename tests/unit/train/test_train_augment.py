"""Augmentation: identity without options, warp only on the input, masks follow the target,
flip, determinism, colour transfer statistics, Lab conversion."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from facetransfer.presets import NO_AUGMENTATION, AugmentConfig
from facetransfer.train.augment import (
    augment,
    lab_to_rgb,
    linear_color_transfer,
    reinhard_color_transfer,
    rgb_to_lab,
    to_float_nchw,
)


def smooth_batch(count: int = 6, size: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, S, S, 3) smooth random images and (N, S, S, 3) block masks."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, 8, 8, generator=generator)
    images = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    images = (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    masks = torch.zeros(count, size, size, 3, dtype=torch.uint8)
    masks[:, size // 5 : size * 4 // 5, size // 4 : size * 3 // 4, 0] = 255
    masks[:, size // 3 : size // 3 + 6, size // 4 : size * 3 // 4, 1] = 255
    masks[:, size * 2 // 3 : size * 2 // 3 + 6, size // 3 : size * 2 // 3, 2] = 255
    return images, masks


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_without_augmentation_the_batch_is_the_input() -> None:
    images, masks = smooth_batch()
    batch = augment(images, masks, NO_AUGMENTATION, generator())
    # grid_sample at the pixel centres: exact up to float rounding of the grid coordinates
    torch.testing.assert_close(batch.target, to_float_nchw(images), atol=1e-5, rtol=0)
    assert torch.equal(batch.warped, batch.target)
    torch.testing.assert_close(batch.masks, to_float_nchw(masks), atol=1e-5, rtol=0)


def test_full_augmentation_shapes_ranges_and_determinism() -> None:
    images, masks = smooth_batch()
    config = AugmentConfig(flip=True, color_transfer="rct")
    batch = augment(images, masks, config, generator(5), color_reference=smooth_batch(seed=9))
    for tensor, channels in ((batch.warped, 3), (batch.target, 3), (batch.masks, 3)):
        assert tensor.shape == (6, channels, 64, 64) and tensor.dtype == torch.float32
        assert tensor.min() >= 0 and tensor.max() <= 1
    again = augment(images, masks, config, generator(5), color_reference=smooth_batch(seed=9))
    other = augment(images, masks, config, generator(6), color_reference=smooth_batch(seed=9))
    assert torch.equal(batch.warped, again.warped) and torch.equal(batch.target, again.target)
    assert not torch.equal(batch.target, other.target)


def test_random_warp_moves_the_input_only() -> None:
    images, masks = smooth_batch()
    config = replace(NO_AUGMENTATION, random_warp=True)
    batch = augment(images, masks, config, generator(1))
    torch.testing.assert_close(batch.target, to_float_nchw(images), atol=1e-5, rtol=0)  # target unwarped
    difference = (batch.warped - batch.target).abs().mean(dim=(1, 2, 3))
    assert (difference > 0.003).all()  # every sample is warped ...
    assert (difference < 0.2).all()  # ... but it is the same face, smoothly moved
    border = (batch.warped - batch.target).abs()[:, :, 0, :]
    assert border.max() < 0.05  # the coarse grid's border points stay put


def test_masks_follow_the_target_geometry() -> None:
    _images, masks = smooth_batch()
    as_image = masks[..., :1].expand(-1, -1, -1, 3).contiguous()  # an image that *is* its hull mask
    config = AugmentConfig(rotation_deg=20, scale_range=0.1, shift_range=0.1, flip=True, color_jitter=0.0)
    batch = augment(as_image, masks, config, generator(2))
    torch.testing.assert_close(batch.target[:, 0], batch.masks[:, 0])
    assert not torch.equal(batch.masks, to_float_nchw(masks))  # and they did move


def test_flip_mirrors_about_half_the_samples() -> None:
    images, masks = smooth_batch(count=32)
    batch = augment(images, masks, replace(NO_AUGMENTATION, flip=True), generator(3))
    original = to_float_nchw(images)
    mirrored = original.flip(-1)
    is_original = [torch.allclose(batch.target[i], original[i], atol=1e-5) for i in range(32)]
    is_mirrored = [torch.allclose(batch.target[i], mirrored[i], atol=1e-5) for i in range(32)]
    assert all(a or b for a, b in zip(is_original, is_mirrored, strict=True))
    assert 6 <= sum(is_mirrored) <= 26


def test_color_jitter_changes_input_and_target_alike() -> None:
    images, masks = smooth_batch()
    batch = augment(images, masks, replace(NO_AUGMENTATION, color_jitter=0.1), generator(4))
    assert torch.equal(batch.warped, batch.target)
    assert not torch.equal(batch.target, to_float_nchw(images))


def test_lab_conversion_known_values_and_round_trip() -> None:
    colours = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]).view(3, 3, 1, 1)
    lab = rgb_to_lab(colours)[:, :, 0, 0]
    torch.testing.assert_close(lab[0], torch.tensor([100.0, 0.0, 0.0]), atol=0.05, rtol=0)
    torch.testing.assert_close(lab[1], torch.tensor([53.24, 80.09, 67.20]), atol=0.1, rtol=0)  # sRGB red
    torch.testing.assert_close(lab[2], torch.tensor([0.0, 0.0, 0.0]), atol=0.05, rtol=0)
    images = torch.rand(2, 3, 16, 16, generator=generator(0))
    torch.testing.assert_close(lab_to_rgb(rgb_to_lab(images)), images, atol=1e-4, rtol=0)


def masked_stats(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = x.flatten(2)
    w = mask.flatten(2)
    mean = (flat * w).sum(2) / w.sum(2)
    std = (((flat - mean[..., None]) ** 2 * w).sum(2) / w.sum(2)).sqrt()
    return mean, std


def test_reinhard_transfer_matches_the_reference_lab_statistics() -> None:
    images = torch.rand(2, 3, 32, 32, generator=generator(1)) * 0.5 + 0.2
    reference = torch.rand(2, 3, 32, 32, generator=generator(2)) * 0.3 + torch.tensor([0.5, 0.3, 0.2]).view(
        1, 3, 1, 1
    )
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 8:24, 8:24] = 1
    result = reinhard_color_transfer(images, reference, mask, mask)
    mean, std = masked_stats(rgb_to_lab(result), mask)
    reference_mean, reference_std = masked_stats(rgb_to_lab(reference), mask)
    torch.testing.assert_close(mean, reference_mean, atol=1.0, rtol=0)  # Lab units (L in 0-100)
    torch.testing.assert_close(std, reference_std, atol=1.0, rtol=0.05)


def test_linear_transfer_matches_the_reference_mean_and_covariance() -> None:
    images = torch.rand(1, 3, 32, 32, generator=generator(3)) * 0.4 + 0.3
    mix = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7]])
    reference = (
        torch.einsum("ij,njhw->nihw", mix, torch.rand(1, 3, 32, 32, generator=generator(4))) * 0.6 + 0.2
    )
    mask = torch.ones(1, 1, 32, 32)
    result = linear_color_transfer(images, reference, mask, mask)

    def covariance(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = x[0].flatten(1)
        mean = flat.mean(1, keepdim=True)
        return mean[:, 0], (flat - mean) @ (flat - mean).T / flat.shape[1]

    mean, cov = covariance(result)
    reference_mean, reference_cov = covariance(reference)
    torch.testing.assert_close(mean, reference_mean, atol=2e-3, rtol=0)
    torch.testing.assert_close(cov, reference_cov, atol=2e-4, rtol=0.02)


@pytest.mark.parametrize("mode", ["rct", "lct"])
def test_color_transfer_moves_source_colours_towards_the_target(mode: str) -> None:
    images, masks = smooth_batch(seed=1)
    red = images.clone()
    red[..., 0] = 230
    config = replace(NO_AUGMENTATION, color_transfer=mode)  # type: ignore[arg-type]
    plain = augment(images, masks, NO_AUGMENTATION, generator(0), color_reference=(red, masks))
    moved = augment(images, masks, config, generator(0), color_reference=(red, masks))
    torch.testing.assert_close(plain.target, to_float_nchw(images), atol=1e-5, rtol=0)  # "none": no transfer
    assert moved.target[:, 0].mean() > plain.target[:, 0].mean() + 0.1
