"""SSIM / DSSIM against a direct numpy implementation and hand-computed values; the face loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facetransfer.presets import LossWeights
from facetransfer.train.loss import FaceLoss, dssim, gaussian_kernel_1d, ssim, ssim_windows_px


def reference_ssim(x: np.ndarray, y: np.ndarray, window: int, sigma: float = 1.5) -> float:
    """Wang et al. (2004) SSIM written out directly: a 2-D gaussian window at every valid position."""
    coords = np.arange(window) - (window - 1) / 2
    g = np.exp(-(coords**2) / (2 * sigma**2))
    weights = np.outer(g, g)
    weights /= weights.sum()
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for channel in range(x.shape[0]):
        for top in range(x.shape[1] - window + 1):
            for left in range(x.shape[2] - window + 1):
                a = x[channel, top : top + window, left : left + window]
                b = y[channel, top : top + window, left : left + window]
                mean_a, mean_b = (weights * a).sum(), (weights * b).sum()
                var_a = (weights * (a - mean_a) ** 2).sum()
                var_b = (weights * (b - mean_b) ** 2).sum()
                cov = (weights * (a - mean_a) * (b - mean_b)).sum()
                values.append(
                    ((2 * mean_a * mean_b + c1) * (2 * cov + c2))
                    / ((mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2))
                )
    return float(np.mean(values))


def test_ssim_matches_a_direct_numpy_implementation() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((2, 3, 20, 20))
    y = np.clip(x + rng.normal(0, 0.15, x.shape), 0, 1)
    result = ssim(torch.from_numpy(x).float(), torch.from_numpy(y).float(), window_px=7)
    expected = [reference_ssim(x[i], y[i], 7) for i in range(2)]
    np.testing.assert_allclose(result.numpy(), expected, atol=2e-5)
    assert 0.2 < expected[0] < 0.95  # a case where the structure term matters


def test_ssim_of_two_flat_images_is_the_hand_computed_luminance_term() -> None:
    # Flat images have no variance: SSIM = (2ab + C1) / (a^2 + b^2 + C1) = 0.2401 / 0.4001.
    a = torch.full((1, 3, 16, 16), 0.2)
    b = torch.full((1, 3, 16, 16), 0.6)
    assert ssim(a, b, 11).item() == pytest.approx(0.2401 / 0.4001, abs=1e-5)
    assert dssim(a, b, 11).item() == pytest.approx((1 - 0.2401 / 0.4001) / 2, abs=1e-5)


def test_ssim_is_one_for_identical_images_symmetric_and_falls_with_noise() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 32, 32, generator=generator)
    assert ssim(x, x, 11).item() == pytest.approx(1.0, abs=1e-6)
    assert dssim(x, x, 11).item() == pytest.approx(0.0, abs=1e-6)
    noise = torch.randn(1, 3, 32, 32, generator=generator)
    scores = [ssim(x, (x + level * noise).clamp(0, 1), 11).item() for level in (0.02, 0.1, 0.3)]
    assert scores[0] > scores[1] > scores[2]
    y = (x + 0.1 * noise).clamp(0, 1)
    assert ssim(x, y, 11).item() == pytest.approx(ssim(y, x, 11).item(), abs=1e-6)


def test_gaussian_window_and_deepfacelab_window_sizes() -> None:
    kernel = gaussian_kernel_1d(11, 1.5)
    assert kernel.sum().item() == pytest.approx(1.0)
    assert kernel.argmax().item() == 5
    assert ssim_windows_px(64) == (5,)
    assert ssim_windows_px(128) == (11,)
    assert ssim_windows_px(256) == (23, 11)


def test_ssim_rejects_images_smaller_than_the_window() -> None:
    with pytest.raises(ValueError, match="smaller than"):
        ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), 11)


def face_masks(size: int = 64) -> torch.Tensor:
    masks = torch.zeros(2, 3, size, size)
    masks[:, 0, 12:52, 16:48] = 1  # face
    masks[:, 1, 20:26, 20:44] = 1  # eyes
    masks[:, 2, 40:46, 26:38] = 1  # mouth
    return masks


def test_face_loss_is_zero_for_a_perfect_prediction_and_grows_with_error() -> None:
    loss_fn = FaceLoss(64)
    target = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    masks = face_masks()
    total, parts = loss_fn(target, masks[:, :1], target, masks)
    assert total.item() == pytest.approx(0.0, abs=1e-5)
    assert set(parts) == {"dssim", "pixel", "mask"}
    worse, _ = loss_fn((target + 0.1).clamp(0, 1), masks[:, :1], target, masks)
    wrong_mask, _ = loss_fn(target, 1 - masks[:, :1], target, masks)
    assert worse.item() > 0.05 and wrong_mask.item() == pytest.approx(10.0, rel=1e-5)


def test_background_is_excluded_only_when_asked() -> None:
    target = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    masks = face_masks()
    changed = target.clone()
    changed[:, :, :4, :] = 1 - changed[:, :, :4, :]  # far from the face
    excluded, _ = FaceLoss(64)(changed, masks[:, :1], target, masks)
    included, _ = FaceLoss(64, LossWeights(exclude_background=False))(changed, masks[:, :1], target, masks)
    assert excluded.item() == pytest.approx(0.0, abs=1e-5)
    assert included.item() > 0.1


def test_eye_and_mouth_errors_weigh_more_with_the_option() -> None:
    target = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    masks = face_masks()
    in_eyes, in_cheek = target.clone(), target.clone()
    in_eyes[:, :, 20:26, 20:44] = (in_eyes[:, :, 20:26, 20:44] + 0.3) % 1
    in_cheek[:, :, 30:36, 20:44] = (in_cheek[:, :, 30:36, 20:44] + 0.3) % 1
    plain, weighted = FaceLoss(64), FaceLoss(64, LossWeights(eyes_mouth_weight=300.0))
    hull = masks[:, :1]
    plain_ratio = plain(in_eyes, hull, target, masks)[0] / plain(in_cheek, hull, target, masks)[0]
    weighted_ratio = weighted(in_eyes, hull, target, masks)[0] / weighted(in_cheek, hull, target, masks)[0]
    assert weighted_ratio > 3 * plain_ratio


def test_face_loss_gradients_are_finite() -> None:
    prediction = torch.rand(2, 3, 64, 64, requires_grad=True)
    mask = torch.rand(2, 1, 64, 64, requires_grad=True)
    total, _ = FaceLoss(64, LossWeights(eyes_mouth_weight=1.0))(
        prediction, mask, torch.rand(2, 3, 64, 64), face_masks()
    )
    total.backward()
    assert (
        prediction.grad is not None
        and torch.isfinite(prediction.grad).all()
        and prediction.grad.abs().sum() > 0
    )
    assert mask.grad is not None and torch.isfinite(mask.grad).all()
