"""SRResNet, the generator of Ledig et al. 2017 ("Photo-Realistic Single Image Super-Resolution Using a
Generative Adversarial Network", arXiv 1609.04802, Fig. 4), and the batch-norm folding used for inference.

The attribute names fix the state-dict keys that import and detection code rely on.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from sr_studio.models.specs.srresnet import srresnet_radius

SCALES = (2, 3, 4)
NORMS = ("batch", "none")
RESIDUAL_INIT_SCALE = 0.1


def _norm(channels: int, norm: str) -> nn.Module:
    return nn.BatchNorm2d(channels) if norm == "batch" else nn.Identity()


class ResidualBlock(nn.Module):
    """conv-BN-PReLU-conv-BN with an identity skip (the paper's B residual blocks)."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = _norm(channels, norm)
        self.act = nn.PReLU(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = _norm(channels, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))


class SRResNet(nn.Module):
    """RGB in [0, 1] (N×3×H×W) to N×3×sH×sW, unclamped.

    Init is PyTorch's default, except that each residual block's conv2 weight and bias are scaled by
    0.1 (`RESIDUAL_INIT_SCALE`): every block then starts close to the identity, so a fresh 16-block
    net neither blows up nor needs warm-up before training. `norm="none"` drops the batch norms, which
    is the layout `fold_batchnorm` produces for inference.
    """

    task = "upscale"

    def __init__(self, scale: int = 4, blocks: int = 16, channels: int = 64, norm: str = "batch") -> None:
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        self.scale = scale
        self.blocks = blocks
        self.channels = channels
        self.norm = norm

        c = channels
        self.head = nn.Sequential(nn.Conv2d(3, c, 9, padding=4), nn.PReLU(c))
        residual_blocks = [ResidualBlock(c, norm) for _ in range(blocks)]
        self.body = nn.Sequential(*residual_blocks)
        self.trunk = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), _norm(c, norm))
        factors = [3] if scale == 3 else [2] * (scale // 2)
        self.upsample = nn.Sequential(
            *[
                nn.Sequential(nn.Conv2d(c, c * f * f, 3, padding=1), nn.PixelShuffle(f), nn.PReLU(c))
                for f in factors
            ]
        )
        self.tail = nn.Conv2d(c, 3, 9, padding=4)

        with torch.no_grad():
            for block in residual_blocks:
                for tensor in (block.conv2.weight, block.conv2.bias):
                    if tensor is not None:
                        tensor.mul_(RESIDUAL_INIT_SCALE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        return self.tail(self.upsample(self.trunk(self.body(h)) + h))

    @property
    def receptive_radius(self) -> int:
        """LR pixels of context, on each side, that one output pixel depends on (an upper bound).

        Measured from the LR pixel the output pixel lies in, so that a tile padded by this many LR
        pixels reproduces the whole-image result over the tile's own area. 40 for the default net.
        """
        return srresnet_radius({"scale": self.scale, "blocks": self.blocks})


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight and bias of one conv that equals conv followed by `bn` in eval mode."""
    mean, variance = bn.running_mean, bn.running_var
    if mean is None or variance is None:
        raise ValueError("a batch norm without running statistics cannot be folded")
    factor = bn.weight / torch.sqrt(variance + bn.eps)
    weight = conv.weight * factor.reshape(-1, 1, 1, 1)
    conv_bias = conv.bias if conv.bias is not None else torch.zeros_like(mean)
    bias = (conv_bias - mean) * factor + bn.bias
    return weight, bias


def fold_batchnorm(model: SRResNet) -> SRResNet:
    """A new norm="none" SRResNet computing what `model` computes in eval mode, with fewer layers.

    Its state dict has exactly a norm="none" model's keys. `model` is left untouched, and so is the
    global RNG (building the copy would otherwise consume random numbers the caller may rely on).
    """
    reference = next(model.parameters())
    with torch.random.fork_rng(devices=[]):
        folded = SRResNet(scale=model.scale, blocks=model.blocks, channels=model.channels, norm="none")
    folded.to(device=reference.device, dtype=reference.dtype).train(model.training)
    source = model.state_dict()
    state = {key: source[key] for key in folded.state_dict()}
    if model.norm == "batch":  # then every _norm is a BatchNorm2d
        pairs = [("trunk.0", cast(nn.Conv2d, model.trunk[0]), cast(nn.BatchNorm2d, model.trunk[1]))]
        for i, block in enumerate(cast(list[ResidualBlock], list(model.body))):
            pairs += [
                (f"body.{i}.conv1", block.conv1, cast(nn.BatchNorm2d, block.bn1)),
                (f"body.{i}.conv2", block.conv2, cast(nn.BatchNorm2d, block.bn2)),
            ]
        with torch.no_grad():
            for prefix, conv, bn in pairs:
                state[f"{prefix}.weight"], state[f"{prefix}.bias"] = _fold(conv, bn)
    folded.load_state_dict(state)
    return folded
