"""EDSR (Lim et al. 2017, "Enhanced Deep Residual Networks for Single Image Super-Resolution", arXiv
1707.02921) in BasicSR's layout: conv_first, body.N.conv1/conv2, conv_after_body, upsample.0 (.2, ...)
pixel-shuffle stages and conv_last, on inputs shifted by the DIV2K mean and scaled to [0, 255].
"""

from __future__ import annotations

import torch
from torch import nn

from sr_studio.models.architecture import shuffle_factors
from sr_studio.models.msrresnet import ResidualBlockNoBN

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)
IMG_RANGE = 255.0
SCALES = (2, 3, 4)


class EDSR(nn.Module):
    """RGB in [0, 1] (N×3×H×W) to N×3×sH×sW, unclamped. The mean is a non-persistent buffer: BasicSR's
    checkpoints do not store it."""

    mean: torch.Tensor  # a buffer (nn.Module.__getattr__ would type it as Tensor | Module)

    def __init__(
        self, scale: int = 4, num_feat: int = 64, num_block: int = 16, res_scale: float = 1.0
    ) -> None:
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        self.scale = scale
        self.register_buffer("mean", torch.tensor(DIV2K_MEAN).reshape(1, 3, 1, 1), persistent=False)
        self.conv_first = nn.Conv2d(3, num_feat, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlockNoBN(num_feat, res_scale) for _ in range(num_block)])
        self.conv_after_body = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        stages: list[nn.Module] = []
        for factor in shuffle_factors(scale):
            stages += [nn.Conv2d(num_feat, num_feat * factor * factor, 3, padding=1), nn.PixelShuffle(factor)]
        self.upsample = nn.Sequential(*stages)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first((x - self.mean) * IMG_RANGE)
        feat = feat + self.conv_after_body(self.body(feat))
        return self.conv_last(self.upsample(feat)) / IMG_RANGE + self.mean
