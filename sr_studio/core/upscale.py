"""The one upscaling path that the CLI, the GUI workers, the batch job and the tests all use.

Grey pictures run through the RGB network as three equal channels and come back as the mean of the three.
Alpha is upscaled as its own channel by the same network (as a grey image), so edges of cut-outs stay as
sharp as the colour; a uniform alpha is simply enlarged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from sr_studio.core.errors import SRStudioError, UsageError
from sr_studio.core.images import Picture
from sr_studio.core.jobs import CancelToken, Progress, run_job

if TYPE_CHECKING:
    from sr_studio.core.library import LoadedModel


@dataclass(frozen=True)
class UpscaleResult:
    """The upscaled picture and how it was made, for `--json` output and the About/status texts."""

    picture: Picture
    model: str
    scale: int
    device: str
    precision: str
    tile: int | None
    seconds: float
    ensemble: bool = False
    backend: str = "torch"  # the forward pass that ran: "torch" or "openvino" (see core/backends)
    notes: tuple[str, ...] = ()  # e.g. why the requested backend is not the one that ran


def parse_tile(tile: int | str | None) -> int | Literal["auto"] | None:
    """Read a tile option: "auto", "none" or 0 (whole image), or a tile size in LR pixels (at least 16)."""
    if tile in (None, "none", 0, "0"):
        return None
    if tile == "auto":
        return "auto"
    try:
        size = int(tile)  # type: ignore[arg-type]  # None was handled above
    except (TypeError, ValueError):
        raise UsageError(f"tile must be auto, none or a number of pixels, not {tile!r}") from None
    if size < 16:
        raise UsageError(f"tile must be at least 16 pixels, not {size}")
    return size


def colour_channels(picture: Picture) -> int:
    """1 for grey (with or without alpha), 3 for colour."""
    return 1 if picture.is_grey else 3


def _planes(picture: Picture) -> tuple[np.ndarray, np.ndarray | None]:
    """The picture as float32 RGB in [0, 1] plus its alpha plane (None when absent)."""
    peak = float(np.iinfo(picture.pixels.dtype).max)
    pixels = picture.pixels.astype(np.float32) / peak
    channels = colour_channels(picture)
    colour = pixels[..., :channels]
    if channels == 1:
        colour = np.repeat(colour, 3, axis=2)
    alpha = pixels[..., channels] if picture.has_alpha else None
    return np.ascontiguousarray(colour), alpha


def upscale_job(
    picture: Picture,
    model: LoadedModel,
    *,
    device: str = "auto",
    precision: str = "auto",
    tile: int | str | None = "auto",
    ensemble: bool = False,
    cancel: CancelToken | None = None,
    backend: str = "auto",
) -> Generator[Progress, None, UpscaleResult]:
    """Upscale `picture` with `model`, yielding tile progress; returns the result with the choices made.

    `ensemble` ("max quality") averages the 8 flips and rotations of every tile: about 8× the time.
    `backend` ("auto", "torch", "openvino") picks the forward pass's runtime (`core.backends`).
    A 16-bit picture runs in fp32 unless `precision` says otherwise.
    """
    from sr_studio.core import engine
    from sr_studio.core.backends import check_backend, choose_backend

    if model.card.task != "upscale":
        raise SRStudioError(f"model {model.card.name!r} is a {model.card.task} model, not an upscaler")
    if model.architecture.input_channels != 3:  # pictures reach the network as RGB, grey as three equal
        raise SRStudioError(f"{model.architecture.name} does not read RGB input")
    check_backend(backend)
    started = time.perf_counter()
    arch, arguments = model.architecture, model.card.arguments
    scale, pad, pixel_bytes = model.scale, model.receptive_radius, arch.bytes_per_input_pixel
    if scale is None or pad is None or pixel_bytes is None:  # descriptors of upscalers give all three
        raise SRStudioError(f"{model.card.name!r} does not give its scale and tiling needs")
    torch_device = engine.resolve_device(device)
    if precision == "auto" and picture.bit_depth == 16:
        precision = "fp32"  # bf16 and fp16 carry 8 and 11 bits: a 16-bit picture would lose its levels
    chosen_precision = engine.resolve_precision(precision, torch_device, tuple(model.card.precision))
    requested = parse_tile(tile)
    tile_size: int | None
    if requested == "auto":
        tile_size = engine.auto_tile_size(torch_device, pixel_bytes(arguments, chosen_precision), pad)
    else:
        tile_size = requested
    forward = choose_backend(
        model.network,
        request=backend,
        device=torch_device,
        precision=chosen_precision,
        alignment=arch.alignment(arguments),
        label=f"{model.card.name} ({arch.id})",
    )
    network = forward.network

    colour, alpha = _planes(picture)
    height, width = colour.shape[:2]
    out = np.empty((height * scale, width * scale, picture.channels), dtype=picture.pixels.dtype)

    def run(
        source: np.ndarray, target: np.ndarray, tile: int | None, stage: str
    ) -> Generator[Progress, None, int | None]:
        return engine.run_tiled(
            network,
            source,
            target,
            tile=tile,
            stage=stage,
            scale=scale,
            pad=pad,
            device=torch_device,
            precision=chosen_precision,
            cancel=cancel,
            ensemble=ensemble,
            cancel_points=arch.cancel_points,
            alignment=arch.alignment(arguments),
        )

    channels = colour_channels(picture)
    colour_out = out[..., :channels]
    tile_size = yield from run(colour, colour_out, tile_size, "colour")
    if alpha is not None:
        alpha_out = out[..., channels:]
        if alpha.min() == alpha.max():
            alpha_out[...] = picture.pixels[0, 0, channels]
        else:
            grey_alpha = np.ascontiguousarray(np.repeat(alpha[..., None], 3, axis=2))
            tile_size = yield from run(grey_alpha, alpha_out, tile_size, "alpha")

    result = replace(picture, pixels=out, notes=())
    return UpscaleResult(
        picture=result,
        model=model.card.name,
        scale=scale,
        device=str(torch_device),
        precision=chosen_precision,
        tile=tile_size,
        seconds=time.perf_counter() - started,
        ensemble=ensemble,
        backend=forward.name,
        notes=() if forward.note is None else (forward.note,),
    )


def upscale(
    picture: Picture,
    model: LoadedModel,
    *,
    device: str = "auto",
    precision: str = "auto",
    tile: int | str | None = "auto",
    ensemble: bool = False,
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
    backend: str = "auto",
) -> UpscaleResult:
    """`upscale_job` as a plain function: progress goes to the callback, the result is returned."""
    job = upscale_job(
        picture,
        model,
        device=device,
        precision=precision,
        tile=tile,
        ensemble=ensemble,
        cancel=cancel,
        backend=backend,
    )
    return run_job(job, progress)
