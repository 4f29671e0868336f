"""SRVGGNetCompact, Real-ESRGAN's compact VGG-style upscaler (Wang et al. 2021), written from its public
layout: body.0 conv, then (PReLU, conv) pairs, the last conv making out·scale² channels for one pixel
shuffle, plus the nearest-upsampled input.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from sr_studio.models.image_skip import ImageSkip


class SRVGGNetCompact(ImageSkip):
    """RGB in [0, 1] (N×3×H×W) to N×3×sH×sW, unclamped: `num_conv` hidden convs of `num_feat` channels."""

    def __init__(self, scale: int = 4, num_feat: int = 64, num_conv: int = 16) -> None:
        super().__init__()
        if scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale!r}")
        self.scale = scale
        layers: list[nn.Module] = [nn.Conv2d(3, num_feat, 3, padding=1), nn.PReLU(num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, padding=1), nn.PReLU(num_feat)]
        layers.append(nn.Conv2d(num_feat, 3 * scale * scale, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.upsampler = nn.PixelShuffle(scale)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsampler(self.body(x))

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="nearest")
