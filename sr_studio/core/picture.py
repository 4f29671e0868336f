"""The picture every part of SR Studio passes around: pixels, what travels with them, where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sr_studio.core.metadata import Metadata


@dataclass
class Picture:
    """H×W×C pixels, uint8 or uint16; C is 1 grey, 2 grey+alpha, 3 RGB or 4 RGBA."""

    pixels: np.ndarray
    metadata: Metadata = field(default_factory=Metadata)
    source: Path | None = None
    format: str | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        shape, dtype = self.pixels.shape, self.pixels.dtype
        if len(shape) != 3 or shape[2] not in (1, 2, 3, 4) or dtype not in (np.uint8, np.uint16):
            raise ValueError(f"pixels must be H×W×C (C 1-4) uint8 or uint16, not {shape} {dtype}")

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def channels(self) -> int:
        return self.pixels.shape[2]

    @property
    def has_alpha(self) -> bool:
        return self.channels in (2, 4)

    @property
    def is_grey(self) -> bool:
        return self.channels in (1, 2)

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6
