"""RRDBNet, the generator of ESRGAN (Wang et al. 2018, arXiv 1809.00219) and Real-ESRGAN (Wang et al.
2021, arXiv 2107.10833), written from the papers; attribute names follow BasicSR's layout, so its
checkpoints load unchanged and the original ESRGAN layout is renamed onto them on import.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

RESIDUAL_SCALE = 0.2  # the papers' residual scaling, in every dense block and every RRDB
UNSHUFFLE = {1: 4, 2: 2, 4: 1, 8: 1}  # Real-ESRGAN's ×2 and ×1 models run the ×4 net on unshuffled input


class ResidualDenseBlock(nn.Module):
    """Five 3×3 convs, each reading the block input and every earlier output (dense connections)."""

    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, padding=1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, padding=1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, padding=1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, padding=1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, padding=1)
        self.lrelu = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            features.append(self.lrelu(conv(torch.cat(features, 1))))
        return x + RESIDUAL_SCALE * self.conv5(torch.cat(features, 1))


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks under one scaled skip."""

    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RESIDUAL_SCALE * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(nn.Module):
    """RGB in [0, 1] (N×3×H×W) to N×3×sH×sW, unclamped; s is 1, 2, 4 or 8.

    The trunk works at ×4 below the output: ×2 and ×1 pixel-unshuffle the input first, padding it
    (replicating edges) to a multiple of the unshuffle factor and cropping the result back.
    """

    def __init__(
        self, scale: int = 4, num_feat: int = 64, num_block: int = 23, num_grow_ch: int = 32
    ) -> None:
        super().__init__()
        if scale not in UNSHUFFLE:
            raise ValueError(f"scale must be one of {tuple(UNSHUFFLE)}, got {scale!r}")
        self.scale = scale
        self.unshuffle = UNSHUFFLE[scale]
        self.conv_first = nn.Conv2d(3 * self.unshuffle**2, num_feat, 3, padding=1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        if scale == 8:
            self.conv_up3 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, padding=1)
        self.lrelu = nn.LeakyReLU(0.2)

    def _upconvs(self) -> list[nn.Conv2d]:
        return [self.conv_up1, self.conv_up2] + ([self.conv_up3] if self.scale == 8 else [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[2:]
        u = self.unshuffle
        if u > 1:
            x = F.pixel_unshuffle(F.pad(x, (0, -width % u, 0, -height % u), mode="replicate"), u)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for conv in self._upconvs():
            feat = self.lrelu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")))
        out = self.conv_last(self.lrelu(self.conv_hr(feat)))
        return out[..., : height * self.scale, : width * self.scale]
