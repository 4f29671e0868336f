"""The baseline of the whole-process comparison: what a plain PyTorch script does with srresnet-x4.

    python benchmarks/naive_upscale.py IN.png OUT.png

It builds the shipped srresnet-x4 (an MSRResNet, 16 blocks, 64 channels), loads its weights, runs the whole
picture at once in fp32 under `no_grad` (no tiles, no batch-norm folding, no channels-last) and saves it.
Time it against `sr-studio upscale IN.png -o OUT.png` with `/usr/bin/time`.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from sr_studio.core.paths import builtin_models_dir
from sr_studio.models.msrresnet import MSRResNet


def main(source: str, target: str) -> None:
    network = MSRResNet(scale=4, blocks=16, channels=64)
    network.load_state_dict(load_file(builtin_models_dir() / "srresnet-x4.safetensors"))
    network.eval()
    pixels = np.array(Image.open(source).convert("RGB"))
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        y = network(x)
    Image.fromarray(y[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()).save(target)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
