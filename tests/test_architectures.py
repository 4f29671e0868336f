"""The architecture registry and the imported architectures (RRDBNet, SRVGGNetCompact, EDSR): descriptors,
detection from keys and shapes, independent re-computations, receptive radii and cancel points."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from sr_studio.core import engine
from sr_studio.core.detect import detect_architecture
from sr_studio.core.errors import Cancelled
from sr_studio.core.jobs import CancelToken
from sr_studio.models import ARCHITECTURES, build
from sr_studio.models.edsr import EDSR
from sr_studio.models.rrdbnet import ResidualDenseBlock, RRDBNet
from sr_studio.models.srvgg import SRVGGNetCompact
from tests.test_library import REPO
from tests.test_models import furthest_influence

# Tiny instances of every importable upscaler, by (architecture id, arguments).
TINY: dict[str, tuple[str, dict]] = {
    "rrdb-x4": ("rrdbnet", {"scale": 4, "num_feat": 8, "num_block": 2, "num_grow_ch": 4}),
    "rrdb-x8": ("rrdbnet", {"scale": 8, "num_feat": 4, "num_block": 1, "num_grow_ch": 4}),
    "rrdb-x2": ("rrdbnet", {"scale": 2, "num_feat": 8, "num_block": 1, "num_grow_ch": 4}),
    "rrdb-x1": ("rrdbnet", {"scale": 1, "num_feat": 8, "num_block": 1, "num_grow_ch": 4}),
    "srvgg-x4": ("srvgg_compact", {"scale": 4, "num_feat": 8, "num_conv": 3}),
    "srvgg-x2": ("srvgg_compact", {"scale": 2, "num_feat": 4, "num_conv": 1}),
    "edsr-x2": ("edsr", {"scale": 2, "num_feat": 8, "num_block": 2, "res_scale": 1.0}),
    "edsr-x3": ("edsr", {"scale": 3, "num_feat": 8, "num_block": 1, "res_scale": 1.0}),
    "edsr-x4": ("edsr", {"scale": 4, "num_feat": 8, "num_block": 1, "res_scale": 1.0}),
}


def lively(network: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights strong enough that every output pixel feels its whole receptive field."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.copy_(torch.randn_like(parameter) * (0.3 if parameter.ndim > 1 else 0.1))
    return network.eval()


def tiny(key: str, seed: int = 0) -> nn.Module:
    architecture, arguments = TINY[key]
    return lively(build(architecture, **arguments), seed)


# ---- the registry -----------------------------------------------------------------------------------


def test_every_descriptor_is_registered_under_its_id_and_builds_its_class() -> None:
    for key, arch in ARCHITECTURES.items():
        assert arch.id == key
        assert arch.network_class().__name__ in arch.network
    upscalers = [arch for arch in ARCHITECTURES.values() if arch.task == "upscale"]
    assert {arch.id for arch in upscalers} == {"srresnet", "msrresnet", "rrdbnet", "edsr", "srvgg_compact"}
    assert all(arch.receptive_radius and arch.bytes_per_input_pixel for arch in upscalers)


def test_descriptors_do_not_import_torch() -> None:
    code = (
        "import sys; from sr_studio.models import ARCHITECTURES; import sr_studio.core.estimate; "
        "[a.receptive_radius({}) for a in ARCHITECTURES.values() if a.receptive_radius]; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("key", sorted(TINY))
def test_detection_reads_the_arguments_back(key: str) -> None:
    architecture, arguments = TINY[key]
    detected = detect_architecture(build(architecture, **arguments).state_dict())
    assert (detected.architecture, detected.arguments) == (architecture, arguments)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            {"conv_first.weight": torch.zeros(4, 5, 3, 3), "conv_body.weight": 0, "conv_up1.weight": 0},
            "conv_first.weight reads 5 channels",
        ),
        ({"body.0.weight": torch.zeros(4, 3, 3, 3), "body.2.weight": torch.zeros(3, 4, 3, 3)}, "no PReLU"),
        (
            {"conv_first.weight": torch.zeros(4, 3, 3, 3), "conv_after_body.weight": 0,
             "upsample.0.weight": torch.zeros(20, 4, 3, 3)},
            "upsample.0.weight has 20 output channels",
        ),
    ],
    ids=["rrdbnet-channels", "srvgg-relu", "edsr-upsample"],
)  # fmt: skip
def test_a_recognised_layout_that_does_not_fit_says_what_was_and_was_not_recognised(state, message) -> None:
    with pytest.raises(ValueError, match=message) as error:
        detect_architecture(state)
    assert str(error.value).startswith("looks like ") and "\n" not in str(error.value)


# ---- independent computations ---------------------------------------------------------------------


def test_a_residual_dense_block_matches_a_functional_reimplementation() -> None:
    block = lively(ResidualDenseBlock(6, 4))
    x = torch.randn(1, 6, 9, 10)
    convs = [block.conv1, block.conv2, block.conv3, block.conv4, block.conv5]
    features = [x]
    for conv in convs[:4]:
        out = F.conv2d(torch.cat(features, 1), conv.weight, conv.bias, padding=1)
        features.append(F.leaky_relu(out, 0.2))
    expected = x + 0.2 * F.conv2d(torch.cat(features, 1), convs[4].weight, convs[4].bias, padding=1)
    with torch.no_grad():
        assert torch.allclose(block(x), expected, atol=1e-5)


def test_rrdbnet_x2_is_the_x4_trunk_on_pixel_unshuffled_input() -> None:
    x2 = tiny("rrdb-x2")
    x4 = RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4).eval()
    x4.conv_first = nn.Conv2d(12, 8, 3, padding=1)
    x4.load_state_dict(x2.state_dict())
    image = torch.rand(1, 3, 8, 6)
    unshuffled = image.reshape(1, 3, 4, 2, 3, 2).permute(0, 1, 3, 5, 2, 4).reshape(1, 12, 4, 3)
    with torch.no_grad():
        assert torch.allclose(x2(image), x4(unshuffled), atol=1e-6)
        assert x2(torch.rand(1, 3, 7, 5)).shape == (1, 3, 14, 10)


def test_srvgg_matches_a_functional_reimplementation() -> None:
    net = tiny("srvgg-x2")
    x = torch.rand(1, 3, 6, 7)
    convs = [m for m in net.body if isinstance(m, nn.Conv2d)]
    prelus = [m for m in net.body if isinstance(m, nn.PReLU)]
    out = x
    for conv, prelu in zip(convs, [*prelus, None], strict=True):
        out = F.conv2d(out, conv.weight, conv.bias, padding=1)
        out = out if prelu is None else F.prelu(out, prelu.weight)
    expected = F.pixel_shuffle(out, 2) + x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    with torch.no_grad():
        assert torch.allclose(net(x), expected, atol=1e-5)


def test_edsr_shifts_by_the_div2k_mean_in_the_0_255_range() -> None:
    net = EDSR(scale=2, num_feat=4, num_block=0)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.zero_()
        out = net(torch.rand(1, 3, 5, 5))
    assert torch.allclose(out, torch.tensor([0.4488, 0.4371, 0.4040]).reshape(1, 3, 1, 1).expand_as(out))
    assert "mean" not in net.state_dict()


# ---- receptive radii and cancel points ---------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(TINY))
def test_receptive_radius_is_an_upper_bound(key: str) -> None:
    architecture, arguments = TINY[key]
    network = tiny(key).double()
    radius = ARCHITECTURES[architecture].receptive_radius(arguments)
    influence = furthest_influence(network, arguments["scale"], radius)
    assert influence <= radius
    assert radius <= 2 * influence + 8  # a bound, not a wild overestimate


def test_default_radii() -> None:
    assert ARCHITECTURES["rrdbnet"].receptive_radius({"num_block": 23}) == 349
    assert ARCHITECTURES["srvgg_compact"].receptive_radius({"num_conv": 32}) == 34
    assert ARCHITECTURES["edsr"].receptive_radius({"num_block": 32, "scale": 4}) == 68


def test_every_rrdb_of_a_23_block_rrdbnet_gets_a_cancel_check() -> None:
    """Benchmark note (benchmarks/cancel_latency.py --arch rrdbnet): checking before each RRDB keeps a
    cancel within a second on a 256² input; here we check the hooks sit on every block."""
    network = RRDBNet(num_block=23)
    hooked = engine.cancel_modules(network, ARCHITECTURES["rrdbnet"].cancel_points)
    assert all(any(block is m for m in hooked) for block in network.body)
    cancel = CancelToken()
    network = tiny("rrdb-x4")
    ran = []
    network.body[0].register_forward_hook(lambda *_: cancel.cancel())
    network.body[1].register_forward_hook(lambda *_: ran.append(1))
    points = ARCHITECTURES["rrdbnet"].cancel_points
    with pytest.raises(Cancelled), torch.no_grad(), engine.cancel_between_layers(network, cancel, points):
        network(torch.rand(1, 3, 8, 8))
    assert not ran and not network.body[1]._forward_pre_hooks


def test_srvgg_cancel_points_are_its_layers() -> None:
    network = SRVGGNetCompact(num_feat=4, num_conv=3)
    hooked = engine.cancel_modules(network, ARCHITECTURES["srvgg_compact"].cancel_points)
    assert len(hooked) == len(network.body)
