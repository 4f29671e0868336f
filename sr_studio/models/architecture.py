"""The `Architecture` descriptor: every fact the app needs about one network, in one place, without torch.

Each architecture family declares its descriptors in a light `sr_studio.models.specs` module; detection,
the library, the engine, the upscale path and the estimates read architecture facts only from them. The
network class is named by dotted path and imported when a network is built, so listing models stays fast.
The shape (detect from keys and shapes, then build and strict-load) follows spandrel's, so a loader
backed by spandrel could register descriptors of its own later.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

Arguments = dict[str, Any]
StateDict = Mapping[str, Any]  # name → tensor; detection reads only keys and `.shape`
MODEL_TASKS = ("upscale", "sample")  # what a library model (its card) or a training run is for
TASKS = (*MODEL_TASKS, "discriminate")  # what an architecture is for: discriminators only train others
PRECISIONS = ("fp32", "bf16", "fp16")  # what inference can run in; a card or an architecture lists a subset


def _no_scale(arguments: Arguments) -> int | None:
    return arguments.get("scale")


def _unaligned(arguments: Arguments) -> int:
    return 1


@dataclass(frozen=True)
class Architecture:
    """One architecture: what it is for, how to recognise and build it, and how to run it in tiles.

    `detect` returns constructor arguments for a state dict in one of its layouts, None when the keys
    are not its own, and raises ValueError naming the problem when they are its own but do not fit.
    `rename_keys` maps a foreign layout's keys onto the module's; `fold` returns an equivalent network
    for inference (batch norm folded). `receptive_radius` is a safe upper bound in input pixels, and
    `alignment` the pixel multiple tile origins and sizes must keep (pixel-unshuffle inputs).
    `bytes_per_input_pixel` is a deliberately high estimate of peak activation memory per input pixel.
    `cancel_points` name submodules that get a cancel check before they run ("body.*": each child).
    """

    id: str
    name: str
    task: str
    network: str  # "module:Class"
    detect: Callable[[StateDict], Arguments | None] | None = None
    rename_keys: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    fold: Callable[[nn.Module], nn.Module] | None = None
    scale: Callable[[Arguments], int | None] = _no_scale
    receptive_radius: Callable[[Arguments], int] | None = None
    alignment: Callable[[Arguments], int] = _unaligned
    bytes_per_input_pixel: Callable[[Arguments, str], int] | None = None
    input_channels: int | None = 3  # None: the input is a latent vector
    value_range: tuple[float, float] = (0.0, 1.0)
    cancel_points: tuple[str, ...] = ("*",)
    precisions: tuple[str, ...] = PRECISIONS
    import_note: str = ""  # added to the description of an imported card

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"{self.id}: task must be one of {TASKS}, not {self.task!r}")
        if self.task == "upscale" and (self.receptive_radius is None or self.bytes_per_input_pixel is None):
            raise ValueError(f"{self.id}: an upscaler needs a receptive radius and a memory estimate")

    def network_class(self) -> type[nn.Module]:
        module_name, class_name = self.network.split(":")
        return getattr(importlib.import_module(module_name), class_name)

    def build(self, **arguments: Any) -> nn.Module:
        return self.network_class()(**arguments)


def dtype_bytes(precision: str) -> int:
    return 4 if precision == "fp32" else 2


def upsampled_radius(hr_radius: int, stages: list[tuple[int, int]]) -> int:
    """Carry a context radius measured at the output resolution back to the input resolution.

    `stages` lists (conv radius, upscale factor) in forward order, each conv run at the lower
    resolution (before a pixel shuffle); a conv run after nearest upsampling belongs to the higher
    level's radius instead. An output pixel at offset r from the one an input pixel became reaches
    ceil(r / factor) pixels one level down (the sub-pixel phase can land on either side), which keeps
    the result an exact integer bound rather than a rounded estimate.
    """
    radius = hr_radius
    for conv, factor in reversed(stages):
        radius = -(-radius // factor) + conv
    return radius


def shuffle_factors(scale: int) -> list[int]:
    """The pixel-shuffle stages BasicSR-style upsamplers use for `scale`: [3] or [2, 2, ...]."""
    return [3] if scale == 3 else [2] * (scale.bit_length() - 1)


def count(sd: Mapping[str, Any], pattern: str) -> int:
    """How many consecutive indices 0, 1, 2, ... have `pattern` in the state dict."""
    found = 0
    while pattern.format(found) in sd:
        found += 1
    return found


def shape(sd: StateDict, key: str) -> tuple[int, ...]:
    """The shape of `sd[key]`; ValueError when the key is missing."""
    if key not in sd:
        raise ValueError(f"no {key}")
    return tuple(sd[key].shape)


def conv_shape(sd: StateDict, key: str, *, kernel: int = 3) -> tuple[int, int]:
    """(out, in) channels of a square conv weight, or ValueError saying what the key holds instead."""
    found = shape(sd, key)
    if len(found) != 4 or found[2:] != (kernel, kernel):
        raise ValueError(f"{key} has shape {list(found)}, not a {kernel}×{kernel} conv")
    return found[0], found[1]


def shuffle_factor(sd: StateDict, key: str, channels: int) -> int:
    """A sub-pixel conv feeding PixelShuffle(f) outputs f² times the trunk's channels."""
    outputs = shape(sd, key)[0]
    for factor in (2, 3):
        if outputs == channels * factor * factor:
            return factor
    raise ValueError(f"{key} has {outputs} output channels, not 4 or 9 times {channels}")


def some(keys: list[str], limit: int = 4) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown}, … {len(keys)} in all" if len(keys) > limit else shown
