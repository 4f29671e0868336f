"""Small generated pictures for tests."""

from __future__ import annotations

import numpy as np


def textured(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """A smooth random texture as uint8, so upscaled results are not flat."""
    rng = np.random.default_rng(seed)
    field = np.cumsum(np.cumsum(rng.normal(size=(height, width, channels)), axis=0), axis=1)
    field = (field - field.min()) / np.ptp(field)
    return (field * 255).astype(np.uint8)


def noise(shape: tuple[int, ...], dtype: type = np.uint8, seed: int = 0) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top, shape, dtype=dtype, endpoint=True)
