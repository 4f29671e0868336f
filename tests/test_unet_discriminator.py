"""The U-Net discriminator with spectral norm (issue 10): a logit per pixel, Lipschitz-bounded layers, and
an SRGAN fine-tune step that trains it (and refuses what it cannot do)."""

from __future__ import annotations

import pytest
import torch

from sr_studio.core.errors import UsageError
from sr_studio.models import build
from sr_studio.train.config import config_from_dict
from sr_studio.train.data import load_dataset
from sr_studio.train.upscaler import UpscaleTrainer
from tests.test_train_parts import folder, make_config

__all__ = ["folder"]  # the fixture, from test_train_parts


@pytest.mark.parametrize("side", [32, 96])
def test_one_logit_per_pixel(side):
    discriminator = build("unet_discriminator_sn", channels=8)
    assert discriminator(torch.rand(2, 3, side, side)).shape == (2, side, side)


def test_sides_that_are_not_multiples_of_eight_are_refused():
    with pytest.raises(ValueError, match="multiples of 8"):
        build("unet_discriminator_sn", channels=8)(torch.rand(1, 3, 36, 36))


def test_spectral_norm_bounds_every_inner_layer():
    discriminator = build("unet_discriminator_sn", channels=8).train()
    for _ in range(30):  # the power iteration converges as it runs
        discriminator(torch.rand(1, 3, 32, 32))
    inner = [*discriminator.down, *discriminator.up, *discriminator.refine]
    for conv in inner:
        largest = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
        assert largest == pytest.approx(1.0, abs=0.05)


def test_an_srgan_step_with_the_unet_trains_it(tmp_path, folder):
    config = make_config(
        tmp_path,
        data={"train": ["images"], "patch": 32, "val_share": 0.2},
        model={"architecture": "msrresnet", "arguments": {"scale": 2, "blocks": 1, "channels": 8}},
        train={"batch": 2, "adversarial": 1e-2, "discriminator": "unet-sn"},
    )
    trainer = UpscaleTrainer(config, load_dataset(config, min_side=32), torch.device("cpu"), "fp32")
    before = [p.detach().clone() for p in trainer.discriminator.parameters()]
    numbers = trainer.step(1, torch.Generator().manual_seed(0))
    assert {"adversarial", "discriminator"} <= set(numbers)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.discriminator.parameters(), strict=True))


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ({"discriminator": "patchgan"}, "train.discriminator: srgan or unet-sn"),
        ({"discriminator": "unet-sn", "feature_matching": 0.1}, "feature_matching needs the srgan"),
    ],
)
def test_what_the_unet_cannot_do_is_refused_by_the_config(tmp_path, train, message):
    with pytest.raises(UsageError, match=message):
        config_from_dict({"data": {"train": [str(tmp_path)]}, "train": train}, tmp_path, "test")
