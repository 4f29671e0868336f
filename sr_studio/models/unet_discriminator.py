"""A U-Net discriminator with spectral normalisation, as Real-ESRGAN uses (Wang et al. 2021, §3.3).

The SRGAN discriminator gives one logit per image, so its gradient says "this patch looks fake" without
saying where; a U-Net gives one per pixel, so the generator learns which texture is wrong. Spectral norm
(Miyato et al. 2018) bounds each layer's Lipschitz constant, which keeps that stronger critic from
overpowering a generator that starts out already trained, and it needs no batch norm (whose batch
statistics differ between a real and a fake batch).
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

DEPTH = 3  # stride-2 levels: inputs must be a multiple of 2³ = 8 pixels a side


def _normalised(in_channels: int, out_channels: int, kernel: int, stride: int) -> nn.Module:
    conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=(kernel - 1) // 2, bias=False)
    return spectral_norm(conv)


class UNetDiscriminatorSN(nn.Module):
    """Three stride-2 levels down, three bilinear levels up with skips, two refining convs; one logit per
    pixel (shape N×H×W, no sigmoid). Every conv but the first and the last is spectrally normalised."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.channels = channels
        widths = [channels * 2**level for level in range(DEPTH + 1)]  # 64, 128, 256, 512
        self.first = nn.Conv2d(3, channels, 3, padding=1)
        levels = list(pairwise(widths))
        self.down = nn.ModuleList(_normalised(a, b, 4, 2) for a, b in levels)
        self.up = nn.ModuleList(_normalised(b, a, 3, 1) for a, b in reversed(levels))
        self.refine = nn.ModuleList(_normalised(channels, channels, 3, 1) for _ in range(2))
        self.last = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2**DEPTH or x.shape[-2] % 2**DEPTH:
            raise ValueError(f"the U-Net discriminator needs sides that are multiples of {2**DEPTH} pixels")
        h = F.leaky_relu(self.first(x), 0.2)
        skips = [h]
        for conv in self.down:
            h = F.leaky_relu(conv(h), 0.2)
            skips.append(h)
        skips.pop()  # the bottom level is h itself
        for conv in self.up:
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            h = F.leaky_relu(conv(h), 0.2) + skips.pop()
        for conv in self.refine:
            h = F.leaky_relu(conv(h), 0.2)
        return self.last(h).squeeze(1)
