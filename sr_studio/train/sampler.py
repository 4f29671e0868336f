"""Training a DCGAN sampler: non-saturating BCE, Adam (lr 2e-4, β1 0.5 in the recipes), DiffAugment on
both real and generated batches (the known fix for small data), and an EMA of the generator's weights.

Each evaluation saves an 8×8 grid from fixed latents, so successive grids show the same 64 "people"
growing up, and measures Fréchet and kernel distances between generated and real images in the feature
space of a fixed random conv network (no Inception weights offline; the numbers track progress within a
run and between runs of this project, not against published FIDs).

On several processes the generator trains under DDP (one forward, one backward per step); the
discriminator runs forward three times per step, so its gradients are averaged by hand instead (see
`upscaler` for why not one concatenated forward).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from PIL import Image
from torch import nn

from sr_studio.models import build
from sr_studio.models.dcgan import DCGANGenerator
from sr_studio.train import losses
from sr_studio.train.common import (
    WeightAverage,
    autocast,
    base_state,
    lr_at,
    set_lr,
    started_whole,
    warm_start,
)
from sr_studio.train.config import RunConfig
from sr_studio.train.data import Dataset, square_images
from sr_studio.train.distributed import SINGLE, World
from sr_studio.train.features import distances

GRID_SIDE = 8
STANDING_BATCHES = 64  # latent batches that re-estimate the averaged generator's batch-norm statistics
MIN_REFERENCE = 2  # per half: a Fréchet distance needs a covariance, the kernel distance pairs


class SampleTrainer:
    """A DCGAN generator and discriminator with their optimisers, stepped by the job loop."""

    def __init__(
        self,
        config: RunConfig,
        dataset: Dataset,
        device: torch.device,
        precision: str,
        world: World = SINGLE,
    ) -> None:
        self.config, self.dataset, self.device, self.precision = config, dataset, device, precision
        self.world = world
        base = base_state(config, "sample")
        info = base[1] if base else {}
        self.base_name = info.get("name")
        self.base_segments = info.get("segments", [])  # the base's training history (library bases)
        self.arguments = dict(config.model.arguments) or dict(info.get("arguments", {}))
        self.arguments.setdefault("image_size", config.data.patch)
        self.network = cast(DCGANGenerator, build("dcgan_generator", **self.arguments)).to(device)
        self.warm_started = warm_start(self.network, base[0]) if base else None
        self.base_network = copy.deepcopy(self.network).eval() if base else None  # the "before" of a segment
        side = self.network.image_size
        self.real = square_images(dataset.train, side)
        held_out = [square_images(dataset.val, side)] if dataset.val else []
        # A sampler is judged on the distribution it learned: all its images, in two halves.
        self.reference = reference_halves(torch.cat([self.real, *held_out]))
        self._baseline: dict[str, Any] | None = None
        self.discriminator = build("dcgan_discriminator", image_size=side, width=self.network.width).to(
            device
        )
        train = config.train
        betas = (train.beta1, train.beta2)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=train.lr, betas=betas)
        self.d_optimizer = torch.optim.Adam(
            self.discriminator.parameters(), lr=train.d_lr or train.lr, betas=betas
        )
        self.average = (
            WeightAverage(self.network, train.ema, ramp=not started_whole(self.warm_started))
            if train.ema
            else None
        )
        self.trained = world.wrap(self.network)
        fixed = torch.Generator().manual_seed(config.seed)
        self.fixed_latents = torch.randn(GRID_SIDE * GRID_SIDE, self.network.latent_dim, generator=fixed)

    def step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        train = self.config.train
        lr = lr_at(self.config, step, train.lr)
        set_lr(self.optimizer, lr)
        set_lr(self.d_optimizer, lr_at(self.config, step, train.d_lr or train.lr))
        index = torch.randint(len(self.real), (train.batch,), generator=generator)
        real = self.real[index].to(self.device)
        z = torch.randn(train.batch, self.network.latent_dim, generator=generator).to(self.device)
        policy = train.diffaugment
        self.network.train()
        self.discriminator.train()

        with autocast(self.device, self.precision):
            fake = self.trained(z)
            seen = losses.diff_augment(real, policy, generator).requires_grad_(train.r1 > 0)
            real_logits = self.discriminator(seen).float()
            fake_logits = self.discriminator(losses.diff_augment(fake.detach(), policy, generator)).float()
            d_loss = losses.discriminator_loss(real_logits, fake_logits)
            penalty = losses.r1_penalty(real_logits, seen) if train.r1 else None
        self.d_optimizer.zero_grad(set_to_none=True)
        (d_loss if penalty is None else d_loss + train.r1 / 2 * penalty).backward()
        self.world.average_gradients(self.discriminator)
        self.d_optimizer.step()
        numbers = {
            "lr": lr,
            "discriminator": float(d_loss.detach()),
            "d_real": float(torch.sigmoid(real_logits.detach()).mean()),
            "d_fake": float(torch.sigmoid(fake_logits.detach()).mean()),
        }
        if penalty is not None:
            numbers["r1"] = float(penalty.detach())
        if step <= train.d_warmup:  # a warm-started G would learn from a discriminator that knows nothing
            return numbers

        self.discriminator.requires_grad_(False)
        with autocast(self.device, self.precision):
            g_loss = losses.generator_adversarial(
                self.discriminator(losses.diff_augment(fake, policy, generator)).float()
            )
        self.optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizer.step()
        self.discriminator.requires_grad_(True)
        if self.average is not None:
            self.average.update(self.network, step)
        return {**numbers, "loss": float(g_loss.detach())}

    @property
    def evaluated(self) -> nn.Module:
        return self.average.network if self.average is not None else self.network

    def _settle_average(self) -> None:
        """Give the weight average batch-norm statistics of its own: it copies the live network's, which
        belong to other weights (re-estimating them alone took the first shipped generator's ST-LPIPS-VGG
        Fréchet distance from 0.049 to 0.033). BigGAN's "standing statistics"."""
        if self.average is not None:
            seed = self.config.seed + 2  # apart from the training RNG: a resumed run settles alike
            averaged = cast(DCGANGenerator, self.average.network)
            standing_statistics(averaged, self.config.train.batch, seed, self.device)

    def baseline(self, limit: int) -> dict[str, Any]:
        """Yardsticks for the distances, measured once: two halves of the real data, and a freshly
        initialised generator (seeded apart from the training RNG, so it is the same at any step), and
        a warm start's base model."""
        if self._baseline is None:
            first, second = self.reference
            self._baseline = {"images": len(second)}
            if len(second) >= MIN_REFERENCE:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(self.config.seed)
                    untrained = build("dcgan_generator", **self.arguments).to(self.device)
                self._baseline["untrained"] = distances(self._fakes(len(second), untrained), second)
                self._baseline["real_halves"] = distances(first, second)
                if self.base_network is not None:
                    self._baseline["base"] = distances(self._fakes(len(second), self.base_network), second)
        return self._baseline

    def _fakes(self, count: int, network: nn.Module | None = None) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.config.seed + 1)
        return self.generate(torch.randn(count, self.network.latent_dim, generator=generator), network)

    @torch.inference_mode()
    def generate(self, latents: torch.Tensor, network: nn.Module | None = None) -> torch.Tensor:
        """Images for `latents` from `network` (default: the weights evaluation uses)."""
        network = (network or self.evaluated).eval()
        out = torch.cat([network(chunk.to(self.device)).float().cpu() for chunk in latents.split(256)])
        self.network.train()
        return out

    def evaluate(self, limit: int, preview: Path) -> dict[str, Any]:
        """The fixed-seed grid (written to `preview`) and the distances to the reference half, beside the
        yardsticks' (so a final evaluation carries its own "before", as an upscaler's does)."""
        self._settle_average()
        grid = self.generate(self.fixed_latents)
        _save_grid(grid, preview)
        metrics = dict(self.baseline(limit))
        _, second = self.reference
        if len(second) >= MIN_REFERENCE:
            metrics["model"] = distances(self._fakes(len(second)), second)
        return metrics

    def state_dict(self) -> dict[str, Any]:
        state = {
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "d_optimizer": self.d_optimizer.state_dict(),
        }
        if self.average is not None:
            state["average"] = self.average.network.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.d_optimizer.load_state_dict(state["d_optimizer"])
        if self.average is not None:
            self.average.network.load_state_dict(state["average"])

    def export(self) -> tuple[nn.Module, dict[str, Any]]:
        self._settle_average()
        network = copy.deepcopy(self.evaluated).eval().cpu()  # training may go on with the original
        return network, {"task": "sample", "architecture": "dcgan_generator", "arguments": self.arguments}


@torch.no_grad()
def standing_statistics(generator: DCGANGenerator, batch: int, seed: int, device: torch.device) -> None:
    """Re-estimate `generator`'s batch-norm running statistics from its own outputs: `STANDING_BATCHES`
    batches of seeded latents, averaged with equal weight (momentum None), then eval mode."""
    layers = [m for m in generator.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
    latents = torch.Generator().manual_seed(seed)
    generator.train()
    for _ in range(STANDING_BATCHES):
        generator(torch.randn(batch, generator.latent_dim, generator=latents).to(device))
    generator.eval()
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum


def _save_grid(images: torch.Tensor, path: Path, padding: int = 2) -> None:
    """N×3×S×S in [-1, 1] → one PNG, GRID_SIDE per row, on white."""
    pixels = ((images.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    count, side = len(pixels), pixels.shape[1]
    rows = -(-count // GRID_SIDE)
    step = side + padding
    sheet = np.full((rows * step + padding, GRID_SIDE * step + padding, 3), 255, np.uint8)
    for index, image in enumerate(pixels):
        row, column = divmod(index, GRID_SIDE)
        sheet[padding + row * step : padding + row * step + side, padding + column * step :][:, :side] = image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(path)


def reference_halves(images: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`images` shuffled with a fixed seed and cut into two equal halves.

    Every distance is taken against the second half with as many images on the other side, since a
    Fréchet distance shrinks as the sample grows: only then does "half vs half" bound what a generator
    can reach. All the real images are used (at 129 vs 129 the Fréchet distance's bias swamped the
    difference between a generator and real data); the kernel distance is unbiased at any size.
    """
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    half = len(images) // 2
    return images[order[:half]], images[order[half : 2 * half]]
