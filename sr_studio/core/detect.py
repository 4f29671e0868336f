"""Read someone else's weights file safely and work out which architecture and arguments it fits.

Like spandrel, detection looks at the state dict's keys and shapes only; the library then builds the
network and strict-loads the weights, which is the real proof that the guess fits.
Torch is imported only when a file is read.
"""

from __future__ import annotations

import math
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sr_studio.core.errors import ModelError

if TYPE_CHECKING:
    import torch

WEIGHTS_SUFFIXES = (".safetensors", ".pth", ".pt")
# Checkpoint wrappers seen in the wild, most useful first: BasicSR keeps the EMA weights in params_ema.
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")
PARALLEL_PREFIX = "module."  # added by DataParallel / DistributedDataParallel
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's archive format
PICKLE_PROTOCOL = b"\x80"  # its legacy format starts with a pickle protocol opcode


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors in a .safetensors or .pth/.pt file, unwrapped, without unpickling any object."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WEIGHTS_SUFFIXES:
        raise ModelError(
            f"unsupported weights file type {suffix or '(none)'!r} (expected .safetensors, .pth or .pt)", path
        )
    if not path.is_file():
        raise ModelError("file not found", path)
    try:
        raw = _load_safetensors(path) if suffix == ".safetensors" else _load_pickle(path)
        return unwrap_state_dict(raw)
    except ValueError as error:
        raise ModelError(str(error), path) from None
    except OSError as error:
        raise ModelError(f"cannot read file: {first_line(error)}", path) from None


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except Exception as error:  # safetensors raises its own SafetensorError, OSError, ...
        raise ValueError(f"cannot read safetensors file: {first_line(error)}") from None


def state_dict_from_bytes(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors file already read into memory (the library hashes it first)."""
    from safetensors.torch import load

    try:
        return load(data)
    except Exception as error:  # safetensors raises its own SafetensorError
        raise ModelError(f"cannot read safetensors file: {first_line(error)}", path) from None


def _load_pickle(path: Path) -> Any:
    import torch

    with open(path, "rb") as file:
        head = file.read(4)
    if head != ZIP_MAGIC and head[:1] != PICKLE_PROTOCOL:  # so that garbage is not reported as a pickle
        raise ValueError("cannot read weights: not a PyTorch file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError("not a plain weights file (refusing to unpickle objects)") from None
    except Exception as error:  # a truncated zip, a TorchScript archive, an unreadable file, ...
        raise ValueError(f"cannot read weights: {first_line(error)}") from None


def unwrap_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """Peel checkpoint wrappers ({"params": ...}, {"state_dict": ...}) and DataParallel's "module." prefix."""
    import torch

    while isinstance(obj, Mapping):
        inner = next((obj[key] for key in WRAPPER_KEYS if isinstance(obj.get(key), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"no state dict found (the file holds {type(obj).__name__})")
    not_tensors = [str(key) for key, value in obj.items() if not isinstance(value, torch.Tensor)]
    if not_tensors or not all(isinstance(key, str) for key in obj):
        raise ValueError(f"no state dict found (entries that are not tensors: {_some(not_tensors)})")
    if all(key.startswith(PARALLEL_PREFIX) for key in obj):
        return {key[len(PARALLEL_PREFIX) :]: value for key, value in obj.items()}
    return dict(obj)


def detect_architecture(state_dict: Mapping[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    """("srresnet" | "msrresnet" | "dcgan_generator", constructor arguments) read from keys and shapes."""
    if "head.0.weight" in state_dict:
        return "srresnet", _srresnet(state_dict)
    if "conv_first.weight" in state_dict:
        return "msrresnet", _msrresnet(state_dict)
    if "layers.0.weight" in state_dict and "layers.0.bias" not in state_dict:
        return "dcgan_generator", _dcgan_generator(state_dict)
    raise ValueError(f"not an SRResNet-family state dict: unknown keys ({_some(list(state_dict))})")


def _srresnet(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    channels = _first_conv_channels(sd, "head.0.weight", kernel=9)
    stages = _count(sd, "upsample.{}.0.weight")
    factors = [_shuffle_factor(sd, f"upsample.{k}.0.weight", channels) for k in range(stages)]
    return {
        "scale": math.prod(factors),
        "blocks": _count(sd, "body.{}.conv1.weight"),
        "channels": channels,
        "norm": "batch" if "trunk.1.weight" in sd else "none",
    }


def _msrresnet(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    channels = _first_conv_channels(sd, "conv_first.weight", kernel=3)
    upconvs = ["upconv1.weight", "upconv2.weight"] if "upconv2.weight" in sd else ["upconv1.weight"]
    return {
        "scale": math.prod(_shuffle_factor(sd, key, channels) for key in upconvs),
        "blocks": _count(sd, "body.{}.conv1.weight"),
        "channels": channels,
    }


def _dcgan_generator(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Transposed convs are layers.{i}.weight of shape [in, out, 4, 4]: latent → ... → width → RGB."""
    convs = [
        weight
        for _, weight in sorted(
            (int(key.split(".")[1]), weight)
            for key, weight in sd.items()
            if re.fullmatch(r"layers\.\d+\.weight", key) and weight.ndim == 4
        )
    ]
    if len(convs) < 2 or convs[-1].shape[1] != 3 or any(tuple(w.shape[2:]) != (4, 4) for w in convs):
        raise ValueError("not an SRResNet-family state dict: layers.* look like no DCGAN generator")
    return {
        "latent_dim": convs[0].shape[0],
        "image_size": 4 * 2 ** (len(convs) - 1),
        "width": convs[-1].shape[0],
    }


def _first_conv_channels(sd: Mapping[str, torch.Tensor], key: str, *, kernel: int) -> int:
    shape = tuple(sd[key].shape)
    if len(shape) != 4 or shape[1:] != (3, kernel, kernel):
        raise ValueError(f"not an SRResNet-family state dict: {key} has shape {list(shape)}")
    return shape[0]


def _shuffle_factor(sd: Mapping[str, torch.Tensor], key: str, channels: int) -> int:
    """A sub-pixel conv feeding PixelShuffle(f) outputs f² times the trunk's channels."""
    if key not in sd:
        raise ValueError(f"not an SRResNet-family state dict: no {key}")
    outputs = sd[key].shape[0]
    for factor in (2, 3):
        if outputs == channels * factor * factor:
            return factor
    raise ValueError(f"{key} has {outputs} output channels, not 4 or 9 times {channels}")


def _count(sd: Mapping[str, Any], pattern: str) -> int:
    """How many consecutive indices 0, 1, 2, ... have `pattern` in the state dict."""
    count = 0
    while pattern.format(count) in sd:
        count += 1
    return count


def _some(keys: list[str], limit: int = 4) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown}, … {len(keys)} in all" if len(keys) > limit else shown


def first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, short enough for a one-line error."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
