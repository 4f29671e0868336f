"""The SRGAN discriminator of Ledig et al. 2017 (arXiv 1609.04802, Fig. 4)."""

from __future__ import annotations

import torch
from torch import nn

# The paper's 96×96 patches leave a 6×6 map after the four stride-2 convs, so pooling to 6×6 is the
# identity there (the exact published network) while any other patch size gets the same dense layer.
POOLED_SIZE = 6


def _conv_block(in_channels: int, out_channels: int, stride: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.2),
    ]


class SRGANDiscriminator(nn.Module):
    """Eight 3×3 convs, then two dense layers; one real-vs-fake logit per image (shape N, no sigmoid).

    Works for any patch size of at least 16 pixels. Convs followed by batch norm have no bias, which
    the norm's shift would make redundant.
    """

    def __init__(self, channels: int = 64, dense: int = 1024) -> None:
        super().__init__()
        self.channels = channels
        self.dense = dense
        c = channels
        widths = [(c, c, 2), (c, 2 * c, 1), (2 * c, 2 * c, 2), (2 * c, 4 * c, 1), (4 * c, 4 * c, 2)]
        widths += [(4 * c, 8 * c, 1), (8 * c, 8 * c, 2)]
        layers: list[nn.Module] = [nn.Conv2d(3, c, 3, padding=1), nn.LeakyReLU(0.2)]
        for in_channels, out_channels, stride in widths:
            layers += _conv_block(in_channels, out_channels, stride)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(POOLED_SIZE)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(8 * c * POOLED_SIZE * POOLED_SIZE, dense),
            nn.LeakyReLU(0.2),
            nn.Linear(dense, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x))).squeeze(1)
