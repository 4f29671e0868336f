"""A Fréchet distance computable offline: statistics of a fixed, seeded, random conv network's features.

FID needs Inception weights, which cannot be downloaded here. Random conv features still separate image
distributions (Liu et al. 2021 use them as a perceptual prior), so the distance ranks generators within
this project; it is not comparable to published FIDs, and reports always give it next to the distance
between two halves of the real data and for an untrained generator.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FEATURE_SEED = 1234
WIDTHS = (32, 64, 128, 128)


def _feature_network() -> nn.Module:
    generator = torch.Generator().manual_seed(FEATURE_SEED)
    layers: list[nn.Module] = []
    channels = 3
    for width in WIDTHS:
        conv = nn.Conv2d(channels, width, 3, padding=1)
        conv.weight.data = torch.randn(conv.weight.shape, generator=generator) * (2.0 / (channels * 9)) ** 0.5
        conv.bias.data.zero_()
        layers += [conv, nn.ReLU(), nn.AvgPool2d(2)]
        channels = width
    return nn.Sequential(*layers).eval().requires_grad_(False)


@torch.inference_mode()
def features(images: torch.Tensor) -> np.ndarray:
    """N×3×H×W in [-1, 1] → N×D features (mean and spatial std of the last stage's channels)."""
    network = _feature_network()
    out = []
    for chunk in images.split(256):
        maps = network(F.interpolate(chunk.float(), size=64, mode="bilinear", antialias=True))
        out.append(torch.cat([maps.mean(dim=(2, 3)), maps.std(dim=(2, 3))], dim=1))
    return torch.cat(out).double().numpy()


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖μa − μb‖² + Tr(Σa + Σb − 2(Σa Σb)^½) between the two sets' feature statistics."""
    if min(len(a), len(b)) < 2:
        raise ValueError("a Fréchet distance needs at least two images on each side")
    fa, fb = features(a), features(b)
    mean_a, mean_b = fa.mean(0), fb.mean(0)
    cov_a, cov_b = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)
