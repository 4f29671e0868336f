"""MSRResNet, BasicSR's batch-norm-free SRResNet (`basicsr/archs/srresnet_arch.py`).

Layers and attribute names match BasicSR's, so checkpoints trained with BasicSR or the ESRGAN
repository load with their keys unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from sr_studio.models.image_skip import ImageSkip
from sr_studio.models.specs.srresnet import msrresnet_radius
from sr_studio.models.srresnet import SCALES

INIT_SCALE = 0.1


class ResidualBlockNoBN(nn.Module):
    """x + res_scale · conv2(relu(conv1(x))), BasicSR's block (MSRResNet uses res_scale 1, EDSR-L 0.1)."""

    def __init__(self, channels: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU()
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.conv2(self.relu(self.conv1(x)))


class MSRResNet(ImageSkip):
    """RGB in [0, 1] (N×3×H×W) to N×3×sH×sW, unclamped: a residual on top of a bilinear upscale.

    Init follows BasicSR's `default_init_weights(..., 0.1)`: Kaiming-normal weights scaled by 0.1 and
    zero biases for every conv, so that training from scratch behaves as it does there.
    """

    task = "upscale"

    def __init__(self, scale: int = 4, blocks: int = 16, channels: int = 64) -> None:
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        self.scale = scale
        self.blocks = blocks
        self.channels = channels

        c = channels
        self.conv_first = nn.Conv2d(3, c, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlockNoBN(c) for _ in range(blocks)])
        shuffle = 2 if scale == 4 else scale
        self.upconv1 = nn.Conv2d(c, c * shuffle * shuffle, 3, padding=1)
        if scale == 4:
            self.upconv2 = nn.Conv2d(c, c * 4, 3, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(shuffle)
        self.conv_hr = nn.Conv2d(c, c, 3, padding=1)
        self.conv_last = nn.Conv2d(c, 3, 3, padding=1)
        self.lrelu = nn.LeakyReLU(0.1)

        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)
                with torch.no_grad():
                    module.weight.mul_(INIT_SCALE)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def _upconvs(self) -> list[nn.Conv2d]:
        return [self.upconv1, self.upconv2] if self.scale == 4 else [self.upconv1]

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(self.lrelu(self.conv_first(x)))
        for upconv in self._upconvs():
            out = self.lrelu(self.pixel_shuffle(upconv(out)))
        return self.conv_last(self.lrelu(self.conv_hr(out)))

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)

    @property
    def receptive_radius(self) -> int:
        """LR pixels of context, on each side, that one output pixel depends on (an upper bound)."""
        return msrresnet_radius({"scale": self.scale, "blocks": self.blocks})
