"""Descriptor of EDSR in BasicSR's layout."""

from __future__ import annotations

from sr_studio.models.architecture import (
    Architecture,
    Arguments,
    StateDict,
    conv_shape,
    count,
    shuffle_factor,
    shuffle_factors,
    upsampled_radius,
)
from sr_studio.models.specs.srresnet import residual_net_bytes

WIDE = 256  # EDSR-L's width; BasicSR trains it with res_scale 0.1


def _detect(sd: StateDict) -> Arguments | None:
    if "conv_first.weight" not in sd or "conv_after_body.weight" not in sd:
        return None
    num_feat, inputs = conv_shape(sd, "conv_first.weight")
    if inputs != 3:
        raise ValueError(f"conv_first.weight reads {inputs} channels, not 3")
    scale = 1
    stage = 0
    while f"upsample.{stage}.weight" in sd:
        scale *= shuffle_factor(sd, f"upsample.{stage}.weight", num_feat)
        stage += 2
    if scale not in (2, 3, 4):
        raise ValueError(f"the upsample.* stages make ×{scale}, not ×2, ×3 or ×4")
    return {
        "scale": scale,
        "num_feat": num_feat,
        "num_block": count(sd, "body.{}.conv1.weight"),
        "res_scale": 0.1 if num_feat == WIDE else 1.0,  # not in the weights: BasicSR's configs' choice
    }


def _radius(arguments: Arguments) -> int:
    stages = [(1, factor) for factor in shuffle_factors(arguments.get("scale", 4))]
    return 2 + 2 * arguments.get("num_block", 16) + upsampled_radius(1, stages)


def _bytes(arguments: Arguments, precision: str) -> int:
    return residual_net_bytes(arguments.get("num_feat", 64), arguments.get("scale", 4), precision)


EDSR = Architecture(
    id="edsr",
    name="EDSR",
    task="upscale",
    network="sr_studio.models.edsr:EDSR",
    detect=_detect,
    receptive_radius=_radius,
    bytes_per_input_pixel=_bytes,
    cancel_points=("*", "body.*", "upsample.*"),
    import_note=(
        "res_scale is not stored in the weights: assumed 1 for width 64 and 0.1 for width 256, as BasicSR's"
        " EDSR configs use"
    ),
)
