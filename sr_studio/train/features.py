"""A Fréchet distance computable offline: statistics of a fixed, seeded, random conv network's features.

FID needs Inception weights, which cannot be downloaded here. Random conv features still separate image
distributions (Liu et al. 2021 use them as a perceptual prior), so the distance ranks generators within
this project; it is not comparable to published FIDs, and reports always give it next to the distance
between two halves of the real data and for an untrained generator.

The Fréchet distance is biased: with few images for the feature dimension its covariance terms dominate,
so small samples of two *different* sets can score below two halves of the same set. The kernel distance
(KID, Bińkowski et al. 2018: an unbiased MMD² with a cubic polynomial kernel) has no such bias: two halves
of one set score about 0 at any size, so it is the number to read when samples are small.

A second feature space was trained on real images: the ST-LPIPS VGG16 trunk (ImageNet, then tuned for
human perceptual similarity; `stlpips.py`), its two deepest stages' unit-length features averaged over
the image. It sees shapes and parts the random network cannot, so reports give both.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from sr_studio.train.stlpips import STLPIPS

FEATURE_SEED = 1234
WIDTHS = (32, 64, 128, 128)
SPACES = ("random", "stlpips-vgg")
SIDE = 64  # images are compared at this size
TRAINED_STAGES = 2  # relu4_3 and relu5_3 of VGG16: 512 channels each


def _feature_network() -> nn.Module:
    generator = torch.Generator().manual_seed(FEATURE_SEED)
    layers: list[nn.Module] = []
    channels = 3
    for width in WIDTHS:
        conv = nn.Conv2d(channels, width, 3, padding=1)
        conv.weight.data = torch.randn(conv.weight.shape, generator=generator) * (2.0 / (channels * 9)) ** 0.5
        if conv.bias is not None:
            conv.bias.data.zero_()
        layers += [conv, nn.ReLU(), nn.AvgPool2d(2)]
        channels = width
    return nn.Sequential(*layers).eval().requires_grad_(False)


@cache
def _trained_network() -> STLPIPS:
    from sr_studio.train.stlpips import STLPIPS

    return STLPIPS("vgg")


def _trained_features(images: torch.Tensor) -> torch.Tensor:
    """ST-LPIPS VGG's deepest stages, each pixel's feature vector at unit length, averaged over space."""
    from sr_studio.train.stlpips import unit_length

    stages = _trained_network().stage_features((images + 1) / 2)[-TRAINED_STAGES:]
    return torch.cat([unit_length(stage).mean(dim=(2, 3)) for stage in stages], dim=1)


def _random_features(images: torch.Tensor) -> torch.Tensor:
    """The random network's last stage: each channel's mean and spatial spread."""
    maps = _feature_network()(images)
    return torch.cat([maps.mean(dim=(2, 3)), maps.std(dim=(2, 3))], dim=1)


@torch.inference_mode()
def features(images: torch.Tensor, space: str = "random") -> np.ndarray:
    """N×3×H×W in [-1, 1] → N×D features in one of `SPACES` (the trained one needs the ST-LPIPS weights)."""
    if space not in SPACES:
        raise ValueError(f"unknown feature space {space!r}: one of {', '.join(SPACES)}")
    describe = _random_features if space == "random" else _trained_features
    out = []
    for chunk in images.split(256):
        out.append(describe(F.interpolate(chunk.float(), size=SIDE, mode="bilinear", antialias=True)))
    return torch.cat(out).double().numpy()


def distances(a: torch.Tensor, b: torch.Tensor, space: str = "random") -> dict[str, float]:
    """Fréchet and kernel distances between image sets `a` and `b` (the reference), features computed once."""
    if min(len(a), len(b)) < 2:
        raise ValueError("a distance between image sets needs at least two images on each side")
    fa, fb = features(a, space), features(b, space)
    return {"frechet": _frechet(fa, fb), "kernel": _kernel(fa, fb, per_feature=space == "random")}


def _frechet(fa: np.ndarray, fb: np.ndarray) -> float:
    """‖μa − μb‖² + Tr(Σa + Σb − 2(Σa Σb)^½) between the two sets' feature statistics."""
    mean_a, mean_b = fa.mean(0), fb.mean(0)
    cov_a, cov_b = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


def _kernel(fa: np.ndarray, fb: np.ndarray, per_feature: bool = True) -> float:
    """Unbiased MMD² with KID's kernel k(x, y) = (x·y / d + 1)³.

    `fb` is the reference (real images); both sides are centred on its mean and scaled by its spread, so
    that distances to one reference are on one scale. The random network's features each have their own
    scale, so each is scaled by its own spread (`per_feature`), else a few would dominate the dot products.
    A trained network's share one scale (unit-length vectors, like Inception's pooled features) and many of
    its channels barely vary on a given set (833 of ST-LPIPS VGG's 1024 on 64-px emoji): divided by their
    own spread, stray values there would swamp the rest, so the whole vector is scaled by one spread.
    """
    mean, spread = fb.mean(0), fb.std(0)
    if not per_feature:
        spread = np.full_like(spread, np.sqrt((spread**2).mean()))
    fa, fb = (fa - mean) / (spread + 1e-12), (fb - mean) / (spread + 1e-12)
    dimension = fa.shape[1]

    def kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x @ y.T / dimension + 1) ** 3

    def within(x: np.ndarray) -> float:
        matrix = kernel(x, x)
        return float((matrix.sum() - np.trace(matrix)) / (len(x) * (len(x) - 1)))

    return within(fa) + within(fb) - 2 * float(kernel(fa, fb).mean())
