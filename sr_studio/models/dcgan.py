"""DCGAN generator and discriminator of Radford et al. 2015 (arXiv 1511.06434), for 32 or 64 px images."""

from __future__ import annotations

import torch
from torch import nn

IMAGE_SIZES = (32, 64)


def _check_size(image_size: int) -> None:
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {image_size!r}")


def _stage_count(image_size: int) -> int:
    """Stride-2 layers between 4×4 and full size, the last (RGB) one included."""
    return image_size.bit_length() - 3


def _init_weights(module: nn.Module) -> None:
    """The paper's init: conv weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
        else:
            continue
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


class DCGANGenerator(nn.Module):
    """Latent vectors (N×latent_dim or N×latent_dim×1×1) to N×3×S×S images in [−1, 1]."""

    task = "sample"

    def __init__(self, latent_dim: int = 100, image_size: int = 64, width: int = 64) -> None:
        super().__init__()
        _check_size(image_size)
        self.latent_dim = latent_dim
        self.image_size = image_size
        self.width = width

        channels = width * 2 ** (_stage_count(image_size) - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, channels, 4, 1, 0, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        ]
        while channels > width:
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels // 2),
                nn.ReLU(),
            ]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, 3, 4, 2, 1), nn.Tanh()]
        self.layers = nn.Sequential(*layers)
        _init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z.reshape(z.shape[0], self.latent_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """N×3×S×S images in [−1, 1] to N real-vs-fake logits (shape N, no sigmoid)."""

    def __init__(self, image_size: int = 64, width: int = 64) -> None:
        super().__init__()
        _check_size(image_size)
        self.image_size = image_size
        self.width = width

        channels = width
        layers: list[nn.Module] = [nn.Conv2d(3, channels, 4, 2, 1), nn.LeakyReLU(0.2)]
        for _ in range(_stage_count(image_size) - 1):
            layers += [
                nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels * 2),
                nn.LeakyReLU(0.2),
            ]
            channels *= 2
        layers.append(nn.Conv2d(channels, 1, 4, 1, 0))
        self.layers = nn.Sequential(*layers)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).flatten()
