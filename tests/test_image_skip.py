"""Image-skip networks keep their skip and sum in the input's precision, so bf16 costs the picture less.

A bf16 network fed fp32 rounds only its residual; fed bf16 (what every runtime did before) it rounds its
input and its output to 8 significant bits, about one 8-bit level for bright pixels.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from sr_studio.core.images import Picture
from sr_studio.core.library import ModelLibrary
from sr_studio.core.upscale import upscale
from sr_studio.models.image_skip import ImageSkip
from sr_studio.models.msrresnet import MSRResNet
from sr_studio.models.srvgg import SRVGGNetCompact
from tests.test_backends import needs_openvino

NETWORKS = {
    "msrresnet-x2": lambda: MSRResNet(scale=2, blocks=2, channels=8),
    "msrresnet-x4": lambda: MSRResNet(scale=4, blocks=2, channels=8),
    "srvgg-x4": lambda: SRVGGNetCompact(scale=4, num_feat=8, num_conv=2),
}


def bright_ramp(height: int = 24, width: int = 32) -> torch.Tensor:
    """Values in 0.5-1 on a fine grid, where bf16's spacing (1/256) is about one 8-bit level."""
    y, x = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    ramp = 0.5 + 0.49 * (x + 0.37 * y) / (width + 0.37 * height)
    return torch.stack([ramp, ramp.flip(1), ramp.flip(0)])[None].float()


@pytest.mark.parametrize("name", NETWORKS)
def test_a_bf16_network_fed_fp32_rounds_only_its_residual(name):
    torch.manual_seed(0)
    network = NETWORKS[name]().eval()
    assert isinstance(network, ImageSkip)
    reduced = copy.deepcopy(network).to(torch.bfloat16)
    x = bright_ramp()
    with torch.no_grad():
        exact = network(x)
        mixed = reduced(x)
        rounded = reduced(x.to(torch.bfloat16)).float()
    assert mixed.dtype == torch.float32
    mixed_error = float((mixed - exact).abs().max())
    rounded_error = float((rounded - exact).abs().max())
    assert rounded_error > 1 / 1024  # bf16 in and out: visible at 8 bits
    assert mixed_error < rounded_error / 4


@pytest.mark.parametrize("name", NETWORKS)
def test_fp32_forward_is_residual_plus_skip(name):
    torch.manual_seed(1)
    network = NETWORKS[name]().eval()
    x = torch.rand(1, 3, 9, 11)
    with torch.no_grad():
        assert torch.equal(network(x), network.residual(x) + network.skip(x))
    assert network.skip(x).shape == network(x).shape


def ramp_picture() -> np.ndarray:
    y, x = np.mgrid[0:48, 0:64]
    channels = [128 + x * 2, 120 + y * 2 + x, 250 - x - y]
    return np.stack(channels, axis=-1).clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("backend", ["torch", pytest.param("openvino", marks=needs_openvino)])
def test_the_shipped_x2_in_bf16_gives_nearly_fp32_pixels(backend):
    """Measured on this picture: bf16 everywhere was off by 0.27 levels on average; now about 0.09."""
    model = ModelLibrary().load("srresnet-x2")
    picture = Picture(pixels=ramp_picture())
    exact = upscale(picture, model, device="cpu", precision="fp32", backend="torch").picture.pixels
    result = upscale(picture, model, device="cpu", precision="bf16", backend=backend)
    assert (result.backend, result.precision) == (backend, "bf16")
    difference = np.abs(result.picture.pixels.astype(int) - exact.astype(int))
    assert difference.max() <= 1
    assert difference.mean() < 0.15
