"""Descriptor of SRVGGNetCompact (Real-ESRGAN's compact models, PReLU activations)."""

from __future__ import annotations

import math

from sr_studio.models.architecture import Architecture, Arguments, StateDict, conv_shape, dtype_bytes


def _detect(sd: StateDict) -> Arguments | None:
    if "body.0.weight" not in sd:
        return None
    num_feat, inputs = conv_shape(sd, "body.0.weight")
    if inputs != 3:
        raise ValueError(f"body.0.weight reads {inputs} channels, not 3")
    if "body.1.weight" not in sd:
        raise ValueError("no PReLU weights at body.1 (only the PReLU variant is supported)")
    convs = 1
    while f"body.{2 * convs}.weight" in sd:
        convs += 1
    if convs < 2:
        raise ValueError("only one conv (body.0): no output conv")
    outputs = conv_shape(sd, f"body.{2 * convs - 2}.weight")[0]
    scale = math.isqrt(outputs // 3)
    if outputs != 3 * scale * scale:
        raise ValueError(f"the last conv makes {outputs} channels, not 3 × scale²")
    return {"scale": scale, "num_feat": num_feat, "num_conv": convs - 2}


def _radius(arguments: Arguments) -> int:
    """One LR pixel per conv; the shuffle and the nearest skip read only the output pixel's own."""
    return arguments.get("num_conv", 16) + 2


def _bytes(arguments: Arguments, precision: str) -> int:
    """A few num_feat maps at LR, the shuffled output and the upsampled skip at HR."""
    scale = arguments.get("scale", 4)
    return dtype_bytes(precision) * (4 * arguments.get("num_feat", 64) + 12 * scale * scale + 8)


SRVGG = Architecture(
    id="srvgg_compact",
    name="SRVGGNetCompact (Real-ESRGAN compact)",
    task="upscale",
    network="sr_studio.models.srvgg:SRVGGNetCompact",
    detect=_detect,
    receptive_radius=_radius,
    bytes_per_input_pixel=_bytes,
    cancel_points=("body.*",),
)
