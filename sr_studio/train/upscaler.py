"""Training an upscaler: PSNR-oriented (L1/MSE) or SRGAN (content + perceptual + adversarial).

Evaluation follows the literature: whole validation images, LR by antialiased bicubic, Y-PSNR and SSIM
with `scale` border pixels cropped; bicubic and the base model are measured the same way once, so the
gain is plain in every report.

On several processes (`distributed.World`) the generator trains under DDP; the discriminator does not,
since it runs forward up to three times per step (on the fake for the generator's loss, then on real and
fake for its own), which DDP's one-forward-per-backward bookkeeping does not allow. Concatenating real
and fake into one forward would mix them in its batch-norm statistics and so change what a single
process computes; instead its gradients are averaged over the ranks by hand after its backward.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from PIL import Image
from torch import nn

from sr_studio.core.metrics import bicubic_upscale, downscale, periodic_artefact_index, psnr_y, ssim_y
from sr_studio.models import build
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
from sr_studio.train.config import DISCRIMINATORS, RunConfig
from sr_studio.train.data import Dataset, PatchSampler, to_tensor
from sr_studio.train.distributed import SINGLE, World
from sr_studio.train.grid_loss import periodic_loss

if TYPE_CHECKING:
    from sr_studio.models.srgan import SRGANDiscriminator

PREVIEW_CROP = 64  # LR pixels of the preview crop (×scale in the saved sheet)


class UpscaleTrainer:
    """One generator (and, for SRGAN, a discriminator) with its optimisers, stepped by the job loop."""

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
        base = base_state(config, "upscale")
        info = base[1] if base else {}
        self.base_name = info.get("name")
        self.base_segments = info.get("segments", [])  # the base's training history (library bases)
        # Explicit arguments win (a ×2 model warm-started from a ×4); otherwise the base's shape is kept.
        explicit = bool(config.model.arguments)
        self.architecture = config.model.architecture if explicit else info.get("architecture", "srresnet")
        self.arguments = dict(config.model.arguments) if explicit else dict(info.get("arguments", {}))
        self.network = build(self.architecture, **self.arguments).to(device)
        self.scale = int(cast(int, self.network.scale))  # every upscaler keeps its factor
        self.warm_started = warm_start(self.network, base[0]) if base else None
        self.base_network = None
        if base and "architecture" in info:
            self.base_network = build(info["architecture"], **info["arguments"]).eval().requires_grad_(False)
            self.base_network.load_state_dict(base[0])
        train = config.train
        self.optimizer = torch.optim.Adam(
            self.network.parameters(), lr=train.lr, betas=(train.beta1, train.beta2)
        )
        self.average = (
            WeightAverage(self.network, train.ema, ramp=not started_whole(self.warm_started))
            if train.ema
            else None
        )
        self.trained = world.wrap(self.network)  # every rank's EMA follows the same averaged weights
        self.sampler = PatchSampler(dataset.train, config.data.patch, self.scale, config.data.degrade)
        self.perceptual = None
        if train.perceptual:
            self.perceptual = losses.perceptual_loss(
                train.perceptual_loss, config.seed, train.perceptual_low_pass
            ).to(device)
        self.discriminator: nn.Module | None = None
        if train.adversarial or train.feature_matching:
            self.discriminator = build(DISCRIMINATORS[train.discriminator]).to(device)
            self.d_optimizer = torch.optim.Adam(
                self.discriminator.parameters(), lr=train.d_lr or train.lr, betas=(train.beta1, train.beta2)
            )
        self._bicubic: dict[int, dict[str, float]] = {}
        self._base: dict[int, dict[str, float]] = {}

    # ------------------------------------------------------------------------------------------ training
    def step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        """Draw this rank's batch of `train.batch` patches and learn from it."""
        lr_batch, hr_batch = self.sampler.batch(self.config.train.batch, generator)
        return self.learn(step, lr_batch, hr_batch)

    def learn(self, step: int, lr_batch: torch.Tensor, hr_batch: torch.Tensor) -> dict[str, float]:
        """One optimisation step on the given batch: apart from `step`, so a test can give one process the
        batches that several ranks drew and compare."""
        train = self.config.train
        lr = lr_at(self.config, step, train.lr)
        set_lr(self.optimizer, lr)
        lr_batch = lr_batch.to(self.device).contiguous(memory_format=torch.channels_last)
        hr_batch = hr_batch.to(self.device)
        self.network.train()
        with autocast(self.device, self.precision):
            output = self.trained(lr_batch).float()
            content = losses.pixel_loss(train.loss, output, hr_batch)
            loss = train.pixel * content
            numbers = {"lr": lr, "content": float(content.detach())}
            if self.perceptual is not None:
                perceptual = self.perceptual(output, hr_batch)
                loss = loss + train.perceptual * perceptual
                numbers["perceptual"] = float(perceptual.detach())
            if train.periodic:
                periodic = periodic_loss(output, hr_batch, self.scale)
                loss = loss + train.periodic * periodic
                numbers["periodic"] = float(periodic.detach())
            if self.discriminator is not None:
                self.discriminator.requires_grad_(False)
                if train.feature_matching:  # the SRGAN discriminator's (the config insists)
                    srgan = cast("SRGANDiscriminator", self.discriminator)
                    fake_logits, fake_features = losses.discriminate_with_features(srgan, output)
                else:
                    fake_logits = self.discriminator(output)
                if train.adversarial:
                    adversarial = losses.generator_adversarial(fake_logits.float())
                    loss = loss + train.adversarial * adversarial
                    numbers["adversarial"] = float(adversarial.detach())
                if train.feature_matching:
                    _, real_features = losses.discriminate_with_features(srgan, hr_batch)
                    matching = losses.feature_matching(fake_features, real_features)
                    loss = loss + train.feature_matching * matching
                    numbers["feature_matching"] = float(matching.detach())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.average is not None:
            self.average.update(self.network, step)
        if self.discriminator is not None:
            numbers["discriminator"] = self._discriminator_step(
                self.discriminator, step, output.detach(), hr_batch
            )
        numbers["loss"] = float(loss.detach())
        return numbers

    def _discriminator_step(
        self, discriminator: nn.Module, step: int, fake: torch.Tensor, real: torch.Tensor
    ) -> float:
        set_lr(self.d_optimizer, lr_at(self.config, step, self.config.train.d_lr or self.config.train.lr))
        discriminator.requires_grad_(True)
        with autocast(self.device, self.precision):
            loss = losses.discriminator_loss(discriminator(real).float(), discriminator(fake).float())
        self.d_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.world.average_gradients(discriminator)
        self.d_optimizer.step()
        return float(loss.detach())

    # ---------------------------------------------------------------------------------------- evaluation
    @property
    def evaluated(self) -> nn.Module:
        """What evaluation and export use: the weight average when there is one."""
        return self.average.network if self.average is not None else self.network

    def _val_pairs(self, limit: int) -> list[tuple[torch.Tensor, np.ndarray]]:
        images = self.dataset.val[:limit] if limit else self.dataset.val
        pairs = []
        for pixels in images:
            height, width = (s - s % self.scale for s in pixels.shape[:2])
            hr = pixels[:height, :width]
            pairs.append((downscale(to_tensor(hr), self.scale), hr.astype(np.float64) / 255))
        return pairs

    @torch.inference_mode()
    def _measure(
        self, network: nn.Module | None, pairs: list[tuple[torch.Tensor, np.ndarray]]
    ) -> dict[str, float]:
        psnrs, ssims, artefacts = [], [], []
        if network is not None:
            network.eval().to(self.device)
        for lr, hr in pairs:
            if network is None:
                out = bicubic_upscale(lr, self.scale)
            else:
                out = network(lr.to(self.device)).float().clamp(0, 1).cpu()
            result = out[0].permute(1, 2, 0).double().numpy()
            result = np.round(result * 255) / 255  # what a saved 8-bit image would hold
            psnrs.append(psnr_y(result, hr, self.scale))
            ssims.append(ssim_y(result, hr, self.scale))
            artefacts.append(periodic_artefact_index(result))  # a perceptual loss can paint a grid
        return {
            "psnr": float(np.mean(psnrs)),
            "ssim": float(np.mean(ssims)),
            "artefact_index": float(np.median(artefacts)),
        }

    def baseline(self, limit: int) -> dict[str, Any]:
        """Bicubic's and the base model's numbers on the same validation images (computed once per size)."""
        if not self.dataset.val:
            return {}
        pairs = self._val_pairs(limit)
        if len(pairs) not in self._bicubic:
            self._bicubic[len(pairs)] = self._measure(None, pairs)
            if self.base_network is not None and getattr(self.base_network, "scale", None) == self.scale:
                self._base[len(pairs)] = self._measure(self.base_network, pairs)
        numbers: dict[str, Any] = {"images": len(pairs), "bicubic": self._bicubic[len(pairs)]}
        numbers["original"] = {  # the yardstick for the model's artefact index
            "artefact_index": float(np.median([periodic_artefact_index(hr) for _, hr in pairs]))
        }
        if len(pairs) in self._base:
            numbers["base"] = self._base[len(pairs)]
        return numbers

    def evaluate(self, limit: int, preview: Path) -> dict[str, Any]:
        """The model's numbers next to bicubic's and the base's; writes a preview sheet to `preview`."""
        if not self.dataset.val:
            return {}
        pairs = self._val_pairs(limit)
        metrics = {**self.baseline(limit), "model": self._measure(self.evaluated, pairs)}
        self._write_preview(pairs[0], preview)
        self.network.train()
        return metrics

    @torch.inference_mode()
    def _write_preview(self, pair: tuple[torch.Tensor, np.ndarray], path: Path) -> None:
        """Bicubic | model | original, side by side, for a crop at the validation image's centre."""
        lr, hr = pair
        size = min(PREVIEW_CROP, lr.shape[-1], lr.shape[-2])
        top, left = (lr.shape[-2] - size) // 2, (lr.shape[-1] - size) // 2
        crop = lr[..., top : top + size, left : left + size]
        s = self.scale
        model = self.evaluated.eval()
        panels = [
            bicubic_upscale(crop, s)[0].permute(1, 2, 0).numpy(),
            model(crop.to(self.device)).float().clamp(0, 1).cpu()[0].permute(1, 2, 0).numpy(),
            hr[top * s : (top + size) * s, left * s : (left + size) * s],
        ]
        sheet = np.concatenate(panels, axis=1)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((sheet * 255 + 0.5).astype(np.uint8)).save(path)

    # ------------------------------------------------------------------------------------- checkpointing
    def state_dict(self) -> dict[str, Any]:
        state = {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict()}
        if self.average is not None:
            state["average"] = self.average.network.state_dict()
        if self.discriminator is not None:
            state["discriminator"] = self.discriminator.state_dict()
            state["d_optimizer"] = self.d_optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.average is not None:
            self.average.network.load_state_dict(state["average"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(state["discriminator"])
            self.d_optimizer.load_state_dict(state["d_optimizer"])

    def export(self) -> tuple[nn.Module, dict[str, Any]]:
        """The network to save and the card fields that describe it."""
        network = copy.deepcopy(self.evaluated).eval().cpu()  # training may go on with the original
        return network, {
            "task": "upscale",
            "architecture": self.architecture,
            "arguments": self.arguments,
            "scale": self.scale,
        }
