"""The literature's SR evaluation protocol, in one place for training, benchmarks and tests.

LR inputs are made by an antialiased bicubic downscale; quality is PSNR and SSIM on the luma (Y of BT.601
YCbCr, 16-235) with a border of `scale` pixels cropped, as in SRCNN/EDSR/BasicSR reports.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def downscale(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """N×C×H×W in [0, 1] → N×C×(H//scale)×(W//scale) by antialiased bicubic, clamped to [0, 1]."""
    import torch.nn.functional as F

    size = (hr.shape[-2] // scale, hr.shape[-1] // scale)
    return F.interpolate(hr, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def bicubic_upscale(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """The baseline every upscaler must beat: plain bicubic enlargement, clamped to [0, 1]."""
    import torch.nn.functional as F

    size = (lr.shape[-2] * scale, lr.shape[-1] * scale)
    return F.interpolate(lr, size=size, mode="bicubic", align_corners=False).clamp(0, 1)


def luma(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 float RGB in [0, 1] → Y in [16, 235] (BT.601), as MATLAB's rgb2ycbcr gives."""
    return 16.0 + rgb @ np.array([65.481, 128.553, 24.966], dtype=np.float64)


def _same_shape(result: np.ndarray, reference: np.ndarray) -> None:
    """Metrics compare pixel for pixel: a result of another size (an upscale by the wrong factor, a
    forgotten crop) must not be broadcast into a number."""
    if result.shape != reference.shape:
        shapes = ["×".join(map(str, image.shape)) for image in (result, reference)]
        raise ValueError(f"cannot compare a {shapes[0]} result with a {shapes[1]} reference: sizes differ")


def _crop(y: np.ndarray, border: int) -> np.ndarray:
    return y[border:-border, border:-border] if border > 0 else y


def psnr_y(result: np.ndarray, reference: np.ndarray, border: int) -> float:
    """Y-PSNR in dB between two H×W×3 float RGB images in [0, 1], `border` pixels cropped on each side."""
    _same_shape(result, reference)
    error = _crop(luma(result) - luma(reference), border)
    mse = float(np.mean(error**2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def _gaussian(sigma: float) -> torch.Tensor:
    import torch

    radius = max(1, math.ceil(3 * sigma))
    coords = torch.arange(2 * radius + 1, dtype=torch.float64) - radius
    gauss = torch.exp(-(coords**2) / (2 * sigma**2))
    return gauss / gauss.sum()


def periodic_artefact_index(result: np.ndarray, period: int = 4, sigma: float = 1.5) -> float:
    """How strongly an upscaler paints a grid of `period` pixels (a perceptual loss gamed into a
    checkerboard, sub-pixel convolutions out of step): ≈ 1 for structureless detail, much more for a grid.

    The luma's high-pass (minus a Gaussian blur) is averaged over each of the period² pixel phases
    (y mod period, x mod period); the spread of those means is divided by the spread a mean of that many
    pixels of the high-pass would have by chance (its own spread over √(pixels / period²)).
    """
    import torch
    import torch.nn.functional as F

    y = torch.from_numpy(luma(result)).double()[None, None]
    gauss = _gaussian(sigma)
    pad = len(gauss) // 2
    blurred = F.conv2d(F.pad(y, (pad, pad, 0, 0), mode="reflect"), gauss.view(1, 1, 1, -1))
    blurred = F.conv2d(F.pad(blurred, (0, 0, pad, pad), mode="reflect"), gauss.view(1, 1, -1, 1))
    high = (y - blurred)[0, 0].numpy()
    height, width = (side - side % period for side in high.shape)
    high = high[:height, :width]
    phases = high.reshape(height // period, period, width // period, period).mean(axis=(0, 2))
    chance = high.std() / math.sqrt(high.size / period**2)
    return float(phases.std() / chance) if chance > 0 else 0.0


def ssim_y(result: np.ndarray, reference: np.ndarray, border: int) -> float:
    """SSIM on Y with an 11×11 Gaussian window (σ 1.5), the constants of Wang et al. 2004."""
    import torch
    import torch.nn.functional as F

    _same_shape(result, reference)

    a = torch.from_numpy(_crop(luma(result), border)).double()[None, None]
    b = torch.from_numpy(_crop(luma(reference), border)).double()[None, None]
    gauss = _gaussian(1.5)  # 11 taps
    window = (gauss[:, None] * gauss[None, :])[None, None]

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())
