"""Tiny models and checks shared by the model-library tests."""

from __future__ import annotations

import torch

from sr_studio.core.library import ModelLibrary
from sr_studio.models.srresnet import SRResNet

ARGS = {"scale": 2, "blocks": 1, "channels": 4, "norm": "batch"}


def tiny_srresnet(**arguments) -> SRResNet:
    """A tiny SRResNet whose batch norms do something, so that folding them is actually tested."""
    torch.manual_seed(0)
    net = SRResNet(**{**ARGS, **arguments})
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return net.eval()


def run(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net.eval()(x)


def add_tiny(library: ModelLibrary, name: str = "tiny") -> tuple[SRResNet, object]:
    net = tiny_srresnet()
    entry = library.add(
        net,
        name=name,
        task="upscale",
        architecture="srresnet",
        arguments=ARGS,
        description="a tiny test model",
        metrics={"psnr": 30.5},
        recipe="training/tiny.toml",
    )
    return net, entry
