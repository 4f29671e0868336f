"""Our ST-LPIPS against the `stlpips-pytorch` package's own code, and its behaviour as a loss.

The package must be installed (`pip install --no-deps stlpips-pytorch==0.0.2`): without it these tests fail
with that instruction, they do not skip.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from sr_studio.core.errors import ModelError, UsageError
from sr_studio.train import stlpips
from sr_studio.train.stlpips import STLPIPS, load_weights, weights_path

NETS = ["vgg", "alex"]


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """The CPU is shared; one thread keeps these tests from crowding it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def ours() -> dict[str, STLPIPS]:
    return {net: STLPIPS(net) for net in NETS}


def _stub(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    return module


@pytest.fixture(scope="module")
def reference() -> Iterator[dict[str, torch.nn.Module]]:
    """The package's own `LPIPS(variant="shift_tolerant")`, imported with its unused imports stubbed out.

    It imports torchvision (absent: it does not import beside our torch), IPython and torchsummary at the
    top; its shift-tolerant path calls none of them.
    """
    weights_path()  # fails with the install command when the package is missing
    models = _stub("torchvision.models")
    stubs = {
        "torchvision": _stub("torchvision", models=models),
        "torchvision.models": models,
        "IPython": _stub("IPython", embed=lambda *args, **kwargs: None),
        "torchsummary": _stub("torchsummary", summary=lambda *args, **kwargs: None),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, module in stubs.items():
            patch.setitem(sys.modules, name, module)
        from stlpips_pytorch import stlpips as package

        yield {net: package.LPIPS(net=net, variant="shift_tolerant", verbose=False).eval() for net in NETS}
    for name in [name for name in sys.modules if name.partition(".")[0] == "stlpips_pytorch"]:
        del sys.modules[name]  # it holds the stubs; nothing else may import it


def _pair(shape: tuple[int, ...], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random image and a noisy, clipped copy of it, so distances are of a realistic size."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=generator)
    return x, (x + 0.2 * torch.randn(shape, generator=generator)).clamp(0, 1)


@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (1, 3, 48, 80), (1, 3, 21, 30)])
def test_matches_the_package(
    ours: dict[str, STLPIPS], reference: dict[str, torch.nn.Module], net: str, shape: tuple[int, ...]
) -> None:
    x, y = _pair(shape, seed=sum(shape))
    with torch.no_grad():
        expected = reference[net](x, y, normalize=True).flatten()
        got = ours[net](x, y)
    assert got.shape == (shape[0],)
    assert torch.allclose(got, expected, rtol=0, atol=1e-5), (got, expected)


@pytest.mark.parametrize("net", NETS)
def test_every_tensor_of_the_file_is_loaded(ours: dict[str, STLPIPS], net: str) -> None:
    raw = torch.load(weights_path(net), map_location="cpu", weights_only=True)
    state = ours[net].state_dict()
    assert len(load_weights(net)) == len(raw) == len(state)
    for name, tensor in load_weights(net).items():
        assert torch.equal(state[name], tensor), name


def test_a_file_with_a_stray_tensor_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    state = load_weights("alex")
    monkeypatch.setattr(stlpips, "load_weights", lambda net: {**state, "extra.weight": torch.zeros(1)})
    with pytest.raises(ModelError, match="do not fit"):
        STLPIPS("alex")


def test_a_distance_and_a_loss(ours: dict[str, STLPIPS]) -> None:
    metric = ours["vgg"]
    x, y = _pair((2, 3, 40, 40), seed=1)
    with torch.no_grad():
        assert torch.equal(metric(x, x), torch.zeros(2))
        there, back = metric(x, y), metric(y, x)
    assert (there > 0).all()
    assert torch.allclose(there, back, atol=1e-6)
    x.requires_grad_(True)
    metric(x, y).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(parameter.grad is None and not parameter.requires_grad for parameter in metric.parameters())


def test_too_small_an_image_is_refused(ours: dict[str, STLPIPS]) -> None:
    x = torch.rand(1, 3, 17, 64)
    with pytest.raises(UsageError, match="at least 18 pixels"):
        ours["vgg"](x, x)


def test_a_missing_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: None)
    with pytest.raises(ModelError, match=re.escape("pip install --no-deps stlpips-pytorch==0.0.2")):
        weights_path("vgg")


def test_an_unknown_trunk_is_refused() -> None:
    with pytest.raises(UsageError, match="vgg, alex"):
        weights_path("squeeze")


def test_the_srgan_loss_option_uses_the_metric_and_trains_through_it(ours):
    from sr_studio.train.config import config_from_dict
    from sr_studio.train.losses import SHIFT, perceptual_loss

    loss = perceptual_loss("stlpips-vgg", seed=0)
    x = torch.rand(2, 3, 48, 48, requires_grad=True)
    y = torch.rand(2, 3, 48, 48)
    torch.manual_seed(1)
    dy, dx = (int(v) for v in torch.randint(0, SHIFT, (2,)))
    torch.manual_seed(1)
    value = loss(x, y)  # the pair cropped by the same random offset, drawn from torch's generator
    assert (dy, dx) != (0, 0)
    assert torch.allclose(value, ours["vgg"](x[..., dy:, dx:], y[..., dy:, dx:]).mean())
    value.backward()
    assert x.grad is not None and bool(x.grad.abs().sum() > 0)
    with pytest.raises(UsageError, match="perceptual_loss"):
        config_from_dict({"data": {"train": ["x"]}, "train": {"perceptual_loss": "vgg19"}}, Path("."), "t")
