"""Descriptors of the DCGAN generator and discriminator and of the SRGAN and U-Net discriminators."""

from __future__ import annotations

import re

from sr_studio.models.architecture import Architecture, Arguments, StateDict


def _detect_dcgan_generator(sd: StateDict) -> Arguments | None:
    """Transposed convs are layers.{i}.weight of shape [in, out, 4, 4]: latent → ... → width → RGB."""
    if "layers.0.weight" not in sd or "layers.0.bias" in sd:
        return None
    convs = [
        tuple(weight.shape)
        for _, weight in sorted(
            (int(key.split(".")[1]), weight)
            for key, weight in sd.items()
            if re.fullmatch(r"layers\.\d+\.weight", key) and len(weight.shape) == 4
        )
    ]
    if len(convs) < 2 or convs[-1][1] != 3 or any(shape[2:] != (4, 4) for shape in convs):
        raise ValueError("layers.* hold no 4×4 transposed convs ending in RGB")
    return {"latent_dim": convs[0][0], "image_size": 4 * 2 ** (len(convs) - 1), "width": convs[-1][0]}


DCGAN_GENERATOR = Architecture(
    id="dcgan_generator",
    name="DCGAN generator",
    task="sample",
    network="sr_studio.models.dcgan:DCGANGenerator",
    detect=_detect_dcgan_generator,
    input_channels=None,
    value_range=(-1.0, 1.0),  # ends in tanh
)
DCGAN_DISCRIMINATOR = Architecture(
    id="dcgan_discriminator",
    name="DCGAN discriminator",
    task="discriminate",
    network="sr_studio.models.dcgan:DCGANDiscriminator",
    value_range=(-1.0, 1.0),
)
SRGAN_DISCRIMINATOR = Architecture(
    id="srgan_discriminator",
    name="SRGAN discriminator",
    task="discriminate",
    network="sr_studio.models.srgan:SRGANDiscriminator",
)
UNET_DISCRIMINATOR_SN = Architecture(
    id="unet_discriminator_sn",
    name="U-Net discriminator (spectral norm)",
    task="discriminate",
    network="sr_studio.models.unet_discriminator:UNetDiscriminatorSN",
)
