"""Descriptors of SRResNet (Ledig et al. 2017) and BasicSR's batch-norm-free MSRResNet."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sr_studio.models.architecture import (
    Architecture,
    Arguments,
    StateDict,
    conv_shape,
    count,
    dtype_bytes,
    shuffle_factor,
    shuffle_factors,
    upsampled_radius,
)

if TYPE_CHECKING:
    from torch import nn


def residual_net_bytes(channels: int, scale: int, precision: str) -> int:
    """Peak activations per LR pixel of a residual trunk with a sub-pixel upsampler, on the high side.

    Measured on the CPU: whole-image fp32 ×4 SRResNet (64 channels) peaks near 10 KB per input pixel;
    the formula gives 14 KB there, so tiles it sizes leave headroom.
    """
    return dtype_bytes(precision) * channels * (3 * scale * scale + 8)


def srresnet_radius(arguments: Arguments) -> int:
    """9×9 head and tail, two 3×3 convs a block, the trunk conv, a conv per shuffle stage: 40 by default."""
    stages = [(1, factor) for factor in shuffle_factors(arguments.get("scale", 4))]
    return 4 + 1 + 2 * arguments.get("blocks", 16) + upsampled_radius(4, stages)


def msrresnet_radius(arguments: Arguments) -> int:
    """As SRResNet with 3×3 ends; the bilinear skip reads one LR neighbour and adds 1: 36 by default."""
    stages = [(1, factor) for factor in shuffle_factors(arguments.get("scale", 4))]
    return 1 + 2 * arguments.get("blocks", 16) + upsampled_radius(2, stages) + 1


def _bytes(arguments: Arguments, precision: str) -> int:
    return residual_net_bytes(arguments.get("channels", 64), arguments.get("scale", 4), precision)


def _detect_srresnet(sd: StateDict) -> Arguments | None:
    if "head.0.weight" not in sd:
        return None
    channels, inputs = conv_shape(sd, "head.0.weight", kernel=9)
    if inputs != 3:
        raise ValueError(f"head.0.weight reads {inputs} channels, not 3")
    stages = count(sd, "upsample.{}.0.weight")
    return {
        "scale": math.prod(shuffle_factor(sd, f"upsample.{k}.0.weight", channels) for k in range(stages)),
        "blocks": count(sd, "body.{}.conv1.weight"),
        "channels": channels,
        "norm": "batch" if "trunk.1.weight" in sd else "none",
    }


def _detect_msrresnet(sd: StateDict) -> Arguments | None:
    if "conv_first.weight" not in sd or "upconv1.weight" not in sd:
        return None
    channels, inputs = conv_shape(sd, "conv_first.weight")
    if inputs != 3:
        raise ValueError(f"conv_first.weight reads {inputs} channels, not 3")
    upconvs = ["upconv1.weight", "upconv2.weight"] if "upconv2.weight" in sd else ["upconv1.weight"]
    return {
        "scale": math.prod(shuffle_factor(sd, key, channels) for key in upconvs),
        "blocks": count(sd, "body.{}.conv1.weight"),
        "channels": channels,
    }


def _fold(network: nn.Module) -> nn.Module:
    """Batch norms folded into the convs before them (a norm-free network is returned as it is)."""
    from sr_studio.models.srresnet import SRResNet, fold_batchnorm

    if not isinstance(network, SRResNet) or network.norm != "batch":
        return network
    return fold_batchnorm(network).eval()


SRRESNET = Architecture(
    id="srresnet",
    name="SRResNet",
    task="upscale",
    network="sr_studio.models.srresnet:SRResNet",
    detect=_detect_srresnet,
    fold=_fold,
    receptive_radius=srresnet_radius,
    bytes_per_input_pixel=_bytes,
    cancel_points=("*", "body.*", "upsample.*"),
)
MSRRESNET = Architecture(
    id="msrresnet",
    name="MSRResNet",
    task="upscale",
    network="sr_studio.models.msrresnet:MSRResNet",
    detect=_detect_msrresnet,
    receptive_radius=msrresnet_radius,
    bytes_per_input_pixel=_bytes,
    cancel_points=("*", "body.*"),
)
