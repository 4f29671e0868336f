"""Losses for the upscalers and GANs, all computable offline.

The SRGAN paper's content loss compares VGG-19 features, but ImageNet VGG weights cannot be downloaded
here. We use the Generic Perceptual Loss of Liu et al. (2021): features of a *randomly initialised*,
never-trained VGG-like network, fixed by a seed. They showed its structure alone (stacked 3×3 convs and
ReLUs, multi-scale) gives a perceptual prior comparable to trained VGG features for SR and denoising;
it needs no download, is reproducible bit for bit, and is small enough for a CPU. Discriminator feature
matching (Salimans et al. 2016) is offered besides, as a cheap second texture term.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from sr_studio.models.srgan import SRGANDiscriminator


def pixel_loss(kind: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(output, target) if kind == "l1" else F.mse_loss(output, target)


class RandomPerceptualLoss(nn.Module):
    """L1 between features of a frozen random VGG-style network at three depths (Liu et al. 2021)."""

    mean: torch.Tensor  # a buffer (nn.Module.__getattr__ would type it as Tensor | Module)

    def __init__(self, seed: int = 0, widths: tuple[int, ...] = (32, 64, 128)) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        stages, channels = [], 3
        for width in widths:
            stage = nn.Sequential(
                nn.Conv2d(channels, width, 3, padding=1),
                nn.ReLU(inplace=False),
                nn.Conv2d(width, width, 3, padding=1),
                nn.ReLU(inplace=False),
            )
            for module in stage:
                if isinstance(module, nn.Conv2d):
                    # Kaiming-normal keeps activations at a steady scale through the depth, like VGG.
                    std = (2.0 / (module.in_channels * 9)) ** 0.5
                    module.weight.data = torch.randn(module.weight.shape, generator=generator) * std
                    if module.bias is not None:
                        module.bias.data.zero_()
            stages.append(stage)
            channels = width
        self.stages = nn.ModuleList(stages)
        self.requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x, y = output - self.mean, target - self.mean
        loss = output.new_zeros(())
        for index, stage in enumerate(self.stages):
            if index:
                x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
            x, y = stage(x), stage(y)
            loss = loss + F.l1_loss(x, y.detach())
        return loss / len(self.stages)


def generator_adversarial(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: -log D(G(z)), stable where log(1 - D) saturates."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def r1_penalty(real_logits: torch.Tensor, real_inputs: torch.Tensor) -> torch.Tensor:
    """E‖∇ₓD(x)‖² at the real inputs the logits came from (which must require grad): a critic kept flat
    around the data cannot grow the cliffs that memorising a few images builds (Mescheder et al. 2018)."""
    (gradient,) = torch.autograd.grad(real_logits.sum(), real_inputs, create_graph=True)
    return gradient.float().pow(2).flatten(1).sum(1).mean()


def feature_matching(fake: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    """Mean L1 between the discriminator's intermediate features for real and generated images."""
    total = sum(F.l1_loss(f, r.detach()) for f, r in zip(fake, real, strict=True))
    return cast(torch.Tensor, total) / max(1, len(fake))  # a tensor: the lists are never empty


def diff_augment(x: torch.Tensor, policy: str, generator: torch.Generator) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020): the same differentiable augmentations on real and fake batches,
    so a discriminator trained on few images cannot just memorise them. `x` is N×C×H×W in [-1, 1]."""
    for name in filter(None, (p.strip() for p in policy.split(","))):
        if name == "color":
            x = _colour(x, generator)
        elif name == "translation":
            x = _translate(x, generator)
        elif name == "cutout":
            x = _cutout(x, generator)
        else:
            raise ValueError(f"unknown DiffAugment policy {name!r} (color, translation, cutout)")
    return x


def _rand(x: torch.Tensor, generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(x.shape[0], *shape, generator=generator).to(x.device, x.dtype)


def _colour(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    x = x + (_rand(x, generator, 1, 1, 1) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, generator, 1, 1, 1) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, generator, 1, 1, 1) + 0.5) + mean


def _translate(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    shift_y, shift_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-shift_y, shift_y + 1, (n,), generator=generator).tolist()
    tx = torch.randint(-shift_x, shift_x + 1, (n,), generator=generator).tolist()
    padded = F.pad(x, (shift_x, shift_x, shift_y, shift_y))
    return torch.stack(
        [
            padded[i, :, shift_y + dy : shift_y + dy + h, shift_x + dx : shift_x + dx + w]
            for i, (dy, dx) in enumerate(zip(ty, tx, strict=True))
        ]
    )


def _cutout(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h - ch + 1, (n, 1, 1), generator=generator)
    left = torch.randint(0, w - cw + 1, (n, 1, 1), generator=generator)
    ys, xs = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)
    return x * (~inside).to(x.device, x.dtype)[:, None]


def discriminate_with_features(
    discriminator: SRGANDiscriminator, x: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The SRGAN discriminator's logits and its activations after each LeakyReLU (for feature matching)."""
    features: list[torch.Tensor] = []
    for layer in discriminator.features:
        x = layer(x)
        if isinstance(layer, nn.LeakyReLU):
            features.append(x)
    return discriminator.classifier(discriminator.pool(x)).squeeze(1), features


PERCEPTUAL_LOSSES = ("stlpips-vgg", "random")
SHIFT = 16  # pixels: the VGG trunk's coarsest pooling period


class STLPIPSLoss(nn.Module):
    """The batch mean of ST-LPIPS's VGG distance: features trained for human perceptual similarity, the
    offline stand-in for the ImageNet VGG of SRGAN and ESRGAN (needs the `stlpips-pytorch` weights)."""

    def __init__(self) -> None:
        super().__init__()
        from sr_studio.train.stlpips import STLPIPS

        self.metric = STLPIPS("vgg")

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # The pair is cropped by a random offset each step, so that no pattern locked to the upscaler's
        # pixel grid keeps one alignment with the metric's pooling grid: with a fixed alignment a 4-pixel
        # checkerboard lowers the distance (measured: artefact index 43 against the originals' 1.2).
        dy, dx = (int(offset) for offset in torch.randint(0, SHIFT, (2,)))
        return self.metric(output[..., dy:, dx:], target[..., dy:, dx:]).mean()


class LowPassed(nn.Module):
    """A feature loss that sees both images through a 3×3 binomial low-pass without padding.

    The filter's response is zero at the Nyquist frequency, so a one-pixel checkerboard, which lowers the
    plain ST-LPIPS-VGG distance of a blurry upscale on most validation crops, earns nothing through it, and
    the pixel loss alone judges that frequency (benchmarks/perceptual_gaming.py). No padding: a padded
    border would let the pattern through.
    """

    kernel: torch.Tensor

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss
        taps = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("kernel", (taps[:, None] * taps[None, :] / 16).expand(3, 1, 3, 3).clone())

    def low_pass(self, images: torch.Tensor) -> torch.Tensor:
        return F.conv2d(images, self.kernel.to(images.dtype), groups=images.shape[1])

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, self.loss(self.low_pass(output), self.low_pass(target)))


def perceptual_loss(kind: str, seed: int, low_pass: bool = False) -> nn.Module:
    """The feature loss of an SRGAN fine-tune, by its config name, optionally through `LowPassed`."""
    loss = STLPIPSLoss() if kind == "stlpips-vgg" else RandomPerceptualLoss(seed)
    return LowPassed(loss) if low_pass else loss
