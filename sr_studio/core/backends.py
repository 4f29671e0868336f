"""Which runtime does the forward pass: torch on every device, or OpenVINO on the CPU where it is faster.

Everything around the forward pass (tiles, stitching, progress, cancel, OOM back-off, self-ensemble) is
the engine's and the same for every backend; a backend only turns a tile batch into its output batch.
OpenVINO is optional: where it is missing, cannot convert a model or disagrees with torch, the upscale
runs on torch with a one-line note, never an error. `auto` picks OpenVINO on the CPU when it is installed
and converts the model; it stays quiet when OpenVINO is simply not installed (the default install), and
says why when it is installed but cannot run the model.

Light to import (no torch, no openvino), so that settings and the command line can name the choices.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sr_studio.core.errors import UsageError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from sr_studio.core.engine import ForwardPass

BACKENDS = ("auto", "torch", "openvino")
_noted: weakref.WeakKeyDictionary[nn.Module, set[str]] = weakref.WeakKeyDictionary()
# Prepared copies of each loaded network, by device and precision; they go with the network.
PreparedCopies = dict[tuple[str, str], "nn.Module"]
_prepared: weakref.WeakKeyDictionary[nn.Module, PreparedCopies] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Backend:
    """The forward pass an upscale runs: its name, the callable the engine feeds, and any note on why
    the requested backend is not the one running."""

    name: str  # "torch" or "openvino"
    network: nn.Module | ForwardPass
    note: str | None = None


def check_backend(request: str) -> str:
    """`request` if it names a backend, else a usage error listing them."""
    if request not in BACKENDS:
        raise UsageError(f"unknown backend {request!r} (choose from {', '.join(BACKENDS)})")
    return request


def choose_backend(
    network: nn.Module,
    *,
    request: str,
    device: torch.device,
    precision: str,
    alignment: int = 1,
    label: str = "this model",
) -> Backend:
    """The forward pass for `network` on `device` in `precision`, as `request` asks where it can be.

    `label` names the model in notes ("my-model (rrdbnet)"); `alignment` is its pixel grid. A note is
    given once per network object, so that a batch of a hundred files says it once, not a hundred times.
    """
    chosen = _choose(network, request, device, precision, alignment, label)
    if chosen.note is not None:
        seen = _noted.setdefault(network, set())
        if chosen.note in seen:
            return Backend(chosen.name, chosen.network)
        seen.add(chosen.note)
    return chosen


def _choose(
    network: nn.Module, request: str, device: torch.device, precision: str, alignment: int, label: str
) -> Backend:
    check_backend(request)
    if request == "torch":
        return torch_backend(network, device, precision)
    if device.type != "cpu":
        note = None if request == "auto" else f"OpenVINO runs on the CPU only; using torch on {device}"
        return torch_backend(network, device, precision, note)
    import torch

    from sr_studio.core import openvino_backend

    try:
        forward = openvino_backend.prepare(
            network, precision=precision, threads=torch.get_num_threads(), alignment=alignment
        )
    except openvino_backend.Missing as error:
        note = None if request == "auto" else f"{error}; using torch"
        return torch_backend(network, device, precision, note)
    except openvino_backend.Unavailable as error:
        return torch_backend(network, device, precision, f"OpenVINO cannot run {label}: {error}; using torch")
    return Backend("openvino", forward)


def torch_backend(
    network: nn.Module, device: torch.device, precision: str, note: str | None = None
) -> Backend:
    """The network itself, prepared by the engine for `device` and `precision`: once per loaded model,
    not once per file of a batch (a copy moved to the device and cast, which costs more than a small
    picture's upscale)."""
    from sr_studio.core import engine

    copies = _prepared.setdefault(network, {})
    key = (str(device), precision)
    if key not in copies:
        copies[key] = engine.prepare_network(network, device, precision)
    return Backend("torch", copies[key], note)


def describe(request: str = "auto") -> str:
    """One line for the About box: what `request` runs on the CPU here, with OpenVINO's version."""
    if request == "torch":
        return f"torch (setting: {request})"
    from sr_studio.core import openvino_backend

    try:
        version = openvino_backend.version()
    except openvino_backend.Missing as error:
        return f"torch on every device (setting: {request}; {error})"
    return (
        f"OpenVINO {version} on the CPU where it converts the model, else torch (setting: {request}); "
        f"{_describe_cache()}"
    )


def _describe_cache() -> str:
    """Where converted models are kept, how many and how much, or that the cache is off."""
    from sr_studio.core import openvino_cache

    folder = openvino_cache.cache_dir()
    if folder is None:
        return f"model cache off ({openvino_cache.DISABLE_VARIABLE})"
    models, size = openvino_cache.usage(folder)
    return f"model cache: {models} converted, {size / 2**20:.0f} MB in {folder}"
