"""`train.perceptual_low_pass` (issue 10): the feature loss compares the pair through a binomial low-pass, so
a one-pixel stripe or checkerboard painted over an upscale earns nothing from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sr_studio.core.errors import UsageError
from sr_studio.train import fine_tune
from sr_studio.train.config import config_from_dict
from sr_studio.train.losses import LowPassed, RandomPerceptualLoss, perceptual_loss


def nyquist_patterns(side: int) -> list[torch.Tensor]:
    rows, columns = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    return [((rows % 2) * 2 - 1).float(), (((rows + columns) % 2) * 2 - 1).float()]


def test_a_nyquist_pattern_moves_the_plain_loss_but_not_the_low_passed_one() -> None:
    torch.manual_seed(0)
    target = torch.rand(2, 3, 40, 40)
    blurry = torch.nn.functional.avg_pool2d(target, 3, stride=1, padding=1)
    plain, low_passed = RandomPerceptualLoss(seed=3), perceptual_loss("random", seed=3, low_pass=True)
    assert isinstance(low_passed, LowPassed)
    for pattern in nyquist_patterns(40):
        painted = blurry + 0.05 * pattern
        assert abs(float(plain(painted, target) - plain(blurry, target))) > 1e-4
        assert abs(float(low_passed(painted, target) - low_passed(blurry, target))) < 1e-6


def test_the_low_passed_loss_still_sees_texture_and_trains_through_it() -> None:
    torch.manual_seed(1)
    target = torch.rand(1, 3, 40, 40)
    output = torch.nn.functional.avg_pool2d(target, 5, stride=1, padding=2).requires_grad_(True)
    loss = perceptual_loss("random", seed=3, low_pass=True)
    value = loss(output, target)
    assert float(value.detach()) > float(loss(target, target)) + 1e-3
    value.backward()
    assert output.grad is not None and bool(output.grad.abs().sum() > 0)


def test_the_option_is_a_checked_recipe_key_that_a_fine_tune_keeps() -> None:
    def recipe_with(value: object) -> dict:
        return {"data": {"train": ["x"]}, "train": {"perceptual_low_pass": value}}

    assert config_from_dict(recipe_with(True), Path("."), "t").train.perceptual_low_pass
    with pytest.raises(UsageError, match="perceptual_low_pass"):
        config_from_dict(recipe_with("yes"), Path("."), "t")
    recipe = '[train]\nlr = 1e-4\nperceptual = 0.1\nperceptual_loss = "random"\nperceptual_low_pass = true\n'
    assert fine_tune.base_losses(recipe, lr=5e-5)["perceptual_low_pass"] is True
