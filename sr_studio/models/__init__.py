"""Network architectures: plain `nn.Module`s whose constructor arguments map 1:1 to a model card.

`ARCHITECTURES` maps the id a card stores to the architecture's `Architecture` descriptor, declared in
its light `specs` module; torch is imported only when a network is actually built, so that listing
models or starting the CLI stays light. Detection tries the descriptors in this order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sr_studio.models.architecture import Architecture
from sr_studio.models.specs.edsr import EDSR
from sr_studio.models.specs.gan import (
    DCGAN_DISCRIMINATOR,
    DCGAN_GENERATOR,
    SRGAN_DISCRIMINATOR,
    UNET_DISCRIMINATOR_SN,
)
from sr_studio.models.specs.rrdbnet import RRDBNET
from sr_studio.models.specs.srresnet import MSRRESNET, SRRESNET
from sr_studio.models.specs.srvgg import SRVGG

if TYPE_CHECKING:
    from torch import nn

ARCHITECTURES: dict[str, Architecture] = {
    arch.id: arch
    for arch in (
        SRRESNET,
        RRDBNET,  # before MSRResNet: ESRGAN's later layout also has conv_first and upconv1
        MSRRESNET,
        EDSR,
        SRVGG,
        DCGAN_GENERATOR,
        SRGAN_DISCRIMINATOR,
        UNET_DISCRIMINATOR_SN,
        DCGAN_DISCRIMINATOR,
    )
}


def architecture(name: str) -> Architecture:
    """The descriptor registered under `name`; KeyError names the known ones."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise KeyError(f"unknown architecture {name!r} (known: {', '.join(sorted(ARCHITECTURES))})") from None


def build(name: str, **arguments: Any) -> nn.Module:
    """Construct the architecture `name` with the card's arguments."""
    return architecture(name).build(**arguments)
