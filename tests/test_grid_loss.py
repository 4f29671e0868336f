"""The grid penalty (issue 10): it charges a grid locked to the pixel phases, leaves a photograph's own
texture nearly free, and measures the same thing as the periodic artefact index."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr_studio.core.errors import UsageError
from sr_studio.core.metrics import periodic_artefact_index
from sr_studio.train.config import config_from_dict
from sr_studio.train.grid_loss import periodic_component, periodic_loss
from tests.pictures import textured


def picture(seed: int = 0, side: int = 96) -> torch.Tensor:
    return torch.from_numpy(textured(side, side, seed=seed)).permute(2, 0, 1)[None].double() / 255


def with_grid(images: torch.Tensor, amplitude: float, period: int = 4) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(images.shape[-2]), torch.arange(images.shape[-1]), indexing="ij")
    grid = torch.where((y % period == 0) | (x % period == 0), amplitude, -amplitude / 3).double()
    return (images + grid).clamp(0, 1)


def test_a_grid_costs_more_than_the_difference_between_two_photographs():
    target, other = picture(0), picture(1)
    gridded = with_grid(target, 0.03)
    assert periodic_loss(target, target, 4) == 0
    charged, free = periodic_loss(gridded, target, 4), periodic_loss(other, target, 4)
    assert charged > 2 * free  # a faint 3 % grid costs more than a wholly different picture's texture
    image = lambda t: t[0].permute(1, 2, 0).numpy()  # noqa: E731
    assert periodic_artefact_index(image(gridded)) > 3 * periodic_artefact_index(image(target))


def test_a_grid_whose_phase_changes_across_the_picture_is_still_charged():
    target = picture(0, side=128)
    left, right = with_grid(target, 0.03), with_grid(target.roll(2, dims=-1), 0.03).roll(-2, dims=-1)
    shifted = torch.cat([left[..., :64], right[..., 64:]], dim=-1)  # two halves out of phase by 2 pixels
    assert periodic_loss(shifted, target, 4) > 0.5 * periodic_loss(left, target, 4)


def test_the_gradient_removes_the_grid():
    target = picture(0)
    output = with_grid(target, 0.03).requires_grad_(True)
    optimiser = torch.optim.SGD([output], lr=20.0)
    before = periodic_loss(output, target, 4).item()
    for _ in range(30):
        optimiser.zero_grad()
        periodic_loss(output, target, 4).backward()
        optimiser.step()
    assert periodic_loss(output, target, 4).item() < 0.2 * before


@pytest.mark.parametrize(("side", "period", "windows"), [(96, 4, 9), (20, 4, 1), (96, 2, 9), (30, 3, 1)])
def test_windows_fit_the_picture(side, period, windows):
    component = periodic_component(picture(0, side=side), period)
    assert component.shape == (1, windows, period * period)
    np.testing.assert_allclose(component.sum(dim=2).numpy(), 0, atol=1e-12)  # the periodic part only


def test_a_negative_weight_is_refused(tmp_path):
    with pytest.raises(UsageError, match=r"train\.periodic must be 0 or more"):
        config_from_dict({"data": {"train": [str(tmp_path)]}, "train": {"periodic": -1}}, tmp_path, "test")
