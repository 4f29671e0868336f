"""Descriptor of RRDBNet (ESRGAN, Real-ESRGAN) in its public key layouts.

BasicSR's: conv_first, body.N.rdbK.convJ, conv_body, conv_up1/2(/3), conv_hr, conv_last. The original
ESRGAN repository's: model.0, model.1.sub.N.RDBK.convJ.0, model.1.sub.{blocks}, then model.3, 6, (9)
for the upsampling convs (each after a nearest upsample, followed by an activation), the HR conv and
the last conv. That repository's later layout (RRDB_ESRGAN_x4.pth): conv_first, RRDB_trunk.N.RDBK.convJ,
trunk_conv, upconv1/2, HRconv, conv_last. Real-ESRGAN's ×2 and ×1 models pixel-unshuffle RGB into 12 or
48 input channels.
"""

from __future__ import annotations

import re
from typing import Any

from sr_studio.models.architecture import Architecture, Arguments, StateDict, conv_shape, count, dtype_bytes

UNSHUFFLED_SCALES = {3: 4, 12: 2, 48: 1}  # conv_first input channels → scale (3: ×4 or ×8)
ESRGAN_DENSE = re.compile(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)")
ESRGAN_LAYER = re.compile(r"model\.(\d+)\.(weight|bias)")
TRUNK_DENSE = re.compile(r"RRDB_trunk\.(\d+)\.RDB(\d)\.(conv\d\.(?:weight|bias))")
TRUNK_LAYERS = {"trunk_conv": "conv_body", "upconv1": "conv_up1", "upconv2": "conv_up2", "HRconv": "conv_hr"}


def _unshuffle(arguments: Arguments) -> int:
    return {1: 4, 2: 2}.get(arguments.get("scale", 4), 1)


def _upsamples(arguments: Arguments) -> int:
    return 3 if arguments.get("scale", 4) == 8 else 2


def rename_esrgan_keys(sd: dict[str, Any]) -> dict[str, Any]:
    """The ESRGAN repository's layouts' keys under BasicSR's names; BasicSR's come back unchanged."""
    if "trunk_conv.weight" in sd:
        return {_trunk_key(key): value for key, value in sd.items()}
    if "model.0.weight" not in sd:
        return sd
    blocks = count(sd, "model.1.sub.{}.RDB1.conv1.0.weight")
    upconvs = _esrgan_upconvs(sd)
    layers = {0: "conv_first", 3 * upconvs + 2: "conv_hr", 3 * upconvs + 4: "conv_last"}
    layers.update({3 + 3 * k: f"conv_up{k + 1}" for k in range(upconvs)})
    renamed = {}
    for key, value in sd.items():
        if dense := ESRGAN_DENSE.fullmatch(key):
            block, rdb, conv, kind = dense.groups()
            key = f"body.{block}.rdb{rdb}.conv{conv}.{kind}"
        elif key.startswith(f"model.1.sub.{blocks}."):
            key = "conv_body." + key.rsplit(".", 1)[1]
        elif (layer := ESRGAN_LAYER.fullmatch(key)) and int(layer.group(1)) in layers:
            key = f"{layers[int(layer.group(1))]}.{layer.group(2)}"
        renamed[key] = value
    return renamed


def _trunk_key(key: str) -> str:
    if dense := TRUNK_DENSE.fullmatch(key):
        return f"body.{dense.group(1)}.rdb{dense.group(2)}.{dense.group(3)}"
    layer, _, kind = key.partition(".")
    return f"{TRUNK_LAYERS[layer]}.{kind}" if layer in TRUNK_LAYERS else key


def _esrgan_upconvs(sd: StateDict) -> int:
    """Upsampling stages of the ESRGAN layout: convs at model.3, 6, 9, ... (the HR and last convs sit
    at indices 2 and 1 modulo 3, after each stage's upsample, conv and activation)."""
    stages = 0
    while f"model.{3 + 3 * stages}.weight" in sd:
        stages += 1
    return stages


def _detect(sd: StateDict) -> Arguments | None:
    if ("model.0.weight" in sd and "model.1.sub.0.RDB1.conv1.0.weight" in sd) or "trunk_conv.weight" in sd:
        sd = rename_esrgan_keys(dict(sd))
    elif "conv_body.weight" not in sd or "conv_up1.weight" not in sd:
        return None
    num_feat, inputs = conv_shape(sd, "conv_first.weight")
    if inputs not in UNSHUFFLED_SCALES:
        raise ValueError(f"conv_first.weight reads {inputs} channels, not 3, 12 or 48 (RGB)")
    if conv_shape(sd, "conv_last.weight")[0] != 3:
        raise ValueError("conv_last.weight does not make RGB")
    scale = UNSHUFFLED_SCALES[inputs]
    if "conv_up3.weight" in sd:
        if scale != 4:
            raise ValueError("an ×8 layout (conv_up3) with pixel-unshuffled input")
        scale = 8
    blocks = count(sd, "body.{}.rdb1.conv1.weight")
    grow = conv_shape(sd, "body.0.rdb1.conv1.weight")[0] if blocks else 32
    return {"scale": scale, "num_feat": num_feat, "num_block": blocks, "num_grow_ch": grow}


def _radius(arguments: Arguments) -> int:
    """In trunk pixels: conv_first, 15 convs an RRDB, conv_body, then each ×2 stage's conv after its
    nearest upsample, conv_hr and conv_last; carried back by ceil(r / 2) a stage. Unshuffled input adds
    one trunk pixel of phase and counts u input pixels a trunk pixel, rounded to the alignment."""
    hr = 2
    for _ in range(_upsamples(arguments)):
        hr = -(-(hr + 1) // 2)
    trunk = 2 + 15 * arguments.get("num_block", 23) + hr
    u = _unshuffle(arguments)
    return trunk if u == 1 else u * (trunk + 1)


def _bytes(arguments: Arguments, precision: str) -> int:
    """The HR stages (three num_feat maps at ×scale) and the trunk (an RRDB's dense concatenation, its
    skips and the trunk's skip, at 1/u² of the input pixels)."""
    feat, grow, scale = (
        arguments.get("num_feat", 64),
        arguments.get("num_grow_ch", 32),
        arguments.get("scale", 4),
    )
    trunk = (6 * feat + 8 * grow) // _unshuffle(arguments) ** 2 + 1
    return dtype_bytes(precision) * (3 * feat * scale * scale + trunk + 8)


RRDBNET = Architecture(
    id="rrdbnet",
    name="RRDBNet (ESRGAN / Real-ESRGAN)",
    task="upscale",
    network="sr_studio.models.rrdbnet:RRDBNet",
    detect=_detect,
    rename_keys=rename_esrgan_keys,
    receptive_radius=_radius,
    alignment=_unshuffle,
    bytes_per_input_pixel=_bytes,
    cancel_points=("*", "body.*"),
)
