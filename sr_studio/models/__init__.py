"""Network architectures: plain `nn.Module`s whose constructor arguments map 1:1 to a model card.

The registry names each architecture by the string a card stores, and imports torch only when a
network is actually built, so that listing models or starting the CLI stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

ARCHITECTURES: dict[str, str] = {
    "srresnet": "sr_studio.models.srresnet:SRResNet",
    "msrresnet": "sr_studio.models.msrresnet:MSRResNet",
    "srgan_discriminator": "sr_studio.models.srgan:SRGANDiscriminator",
    "dcgan_generator": "sr_studio.models.dcgan:DCGANGenerator",
    "dcgan_discriminator": "sr_studio.models.dcgan:DCGANDiscriminator",
}


def architecture_class(name: str) -> type[nn.Module]:
    """The class registered under `name`; KeyError names the known ones."""
    try:
        module_name, class_name = ARCHITECTURES[name].split(":")
    except KeyError:
        raise KeyError(f"unknown architecture {name!r} (known: {', '.join(sorted(ARCHITECTURES))})") from None
    return getattr(importlib.import_module(module_name), class_name)


def build(name: str, **arguments: Any) -> nn.Module:
    """Construct the architecture `name` with the card's arguments."""
    return architecture_class(name)(**arguments)
