"""The periodic artefact index: about 1 for detail without a grid, large for a painted 4-pixel grid."""

from __future__ import annotations

import numpy as np

from sr_studio.core.metrics import periodic_artefact_index


def noise(seed: int = 0, side: int = 256) -> np.ndarray:
    return np.random.default_rng(seed).random((side, side, 3))


def test_structureless_noise_scores_about_one():
    scores = [periodic_artefact_index(noise(seed)) for seed in range(8)]
    assert 0.6 < float(np.median(scores)) < 1.6


def test_a_four_pixel_grid_over_noise_scores_far_higher():
    grid = np.zeros((256, 256, 1))
    grid[::4, ::4] = 0.15  # one pixel in sixteen brighter, under noise of twice that spread
    assert periodic_artefact_index(np.clip(noise() * 0.8 + grid, 0, 1)) > 8 * periodic_artefact_index(noise())


def test_the_period_is_a_parameter_and_other_periods_do_not_alias():
    grid = np.zeros((240, 240, 1))
    grid[::3, ::3] = 0.15
    image = np.clip(noise(side=240) * 0.8 + grid, 0, 1)
    assert periodic_artefact_index(image, period=3) > 10
    assert periodic_artefact_index(image, period=4) < 3
