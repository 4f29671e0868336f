"""Running an upscaling network on an image of any size: device and precision policy, tiles, OOM backoff.

Tiles overlap by the network's receptive radius and only each tile's core is kept, so a tiled result equals
whole-image inference: every kept output pixel saw exactly the context it would have seen in one pass.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import numpy as np
import torch
from torch import nn

from sr_studio.core.errors import SRStudioError
from sr_studio.core.jobs import CancelToken, EtaClock, Progress, check_cancel
from sr_studio.models.architecture import PRECISIONS
from sr_studio.models.image_skip import ImageSkip

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
MIN_TILE = 16
# Largest automatic tile (LR pixels) per device type: on a CPU bigger tiles stop paying off while the
# padding overhead shrinks slowly, and a GPU is limited by its memory estimate instead.
MAX_AUTO_TILE = {"cpu": 256, "cuda": 1024, "mps": 512}
DEFAULT_CANCEL_POINTS = ("*", "body.*", "upsample.*")


@dataclass(frozen=True)
class Tile:
    """One tile: the LR core region it contributes and the padded region the network actually sees."""

    y0: int
    y1: int
    x0: int
    x1: int
    py0: int
    py1: int
    px0: int
    px1: int

    @property
    def padded_area(self) -> int:
        return (self.py1 - self.py0) * (self.px1 - self.px0)


class ForwardPass(Protocol):
    """A forward pass that is not an `nn.Module` (another runtime, see `backends`): tiles reach it as
    `input_dtype` tensors on the CPU, and it checks the engine's cancel token inside `cancellable`."""

    input_dtype: torch.dtype

    def __call__(self, batch: torch.Tensor) -> torch.Tensor: ...

    def cancellable(self, cancel: CancelToken | None) -> contextlib.AbstractContextManager[None]: ...


Network = nn.Module | ForwardPass  # what the engine runs tiles through


def available_devices() -> list[str]:
    """Every device this machine can run on, best first: each CUDA GPU, Apple's MPS, the CPU."""
    devices = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return [*devices, "cpu"]


def resolve_device(request: str = "auto") -> torch.device:
    """CUDA, then MPS, then the CPU for "auto"; an explicit request must name an available device."""
    if request == "auto":
        return torch.device(available_devices()[0])
    try:
        device = torch.device(request)
    except RuntimeError:
        raise SRStudioError(
            f"unknown device {request!r} (available: {', '.join(available_devices())})"
        ) from None
    known = {torch.device(name) for name in available_devices()}
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda:0")
    if device not in known:
        raise SRStudioError(
            f"device {request!r} is not available here (available: {', '.join(available_devices())})"
        )
    return device


@cache
def cpu_has_fast_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX-512 BF16 or AMX), where bf16 runs about 2× fp32."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "")
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags.split()))


def resolve_precision(request: str, device: torch.device, supported: tuple[str, ...] = PRECISIONS) -> str:
    """fp16 on CUDA (else bf16) and on MPS, bf16 on a CPU with native bf16, fp32 otherwise — within what the
    model allows."""
    if request != "auto":
        if request not in PRECISIONS:
            raise SRStudioError(f"unknown precision {request!r} (choose from auto, {', '.join(PRECISIONS)})")
        if device.type == "cpu" and request == "fp16":
            raise SRStudioError("fp16 is not supported on the CPU (use bf16 or fp32)")
        return request
    if device.type == "cuda":
        preferred = ["fp16", "bf16"]
    elif device.type == "mps":
        preferred = ["fp16"]
    else:
        preferred = ["bf16"] if cpu_has_fast_bf16() else []
    return next((p for p in preferred if p in supported), "fp32")


def free_memory_bytes(device: torch.device) -> int:
    """Memory the next tile may use on `device`, as the driver or the OS reports it now."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "mps":
        return max(0, torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    with contextlib.suppress(OSError, ValueError):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return 2 << 30


def auto_tile_size(device: torch.device, bytes_per_pixel: int, pad: int) -> int:
    """The largest tile (LR pixels per side) whose padded activations fit a quarter of free memory.

    `bytes_per_pixel` is the architecture's estimate of peak activation memory per input pixel.
    """
    budget = free_memory_bytes(device) // 4
    side = int(math.sqrt(budget / bytes_per_pixel)) - 2 * pad
    return max(MIN_TILE * 4, min(MAX_AUTO_TILE.get(device.type, 256), side))


def plan_tiles(height: int, width: int, tile: int | None, pad: int) -> list[Tile]:
    """Cover the image with tile×tile cores, each padded by `pad` pixels of context (clipped at borders)."""
    if tile is None or tile >= max(height, width):
        return [Tile(0, height, 0, width, 0, height, 0, width)]
    tiles = []
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            tiles.append(
                Tile(
                    y0,
                    y1,
                    x0,
                    x1,
                    max(0, y0 - pad),
                    min(height, y1 + pad),
                    max(0, x0 - pad),
                    min(width, x1 + pad),
                )
            )
    return tiles


def _aligned(size: int, alignment: int) -> int:
    return -(-size // alignment) * alignment


def is_out_of_memory(error: BaseException) -> bool:
    """True for the allocation failures of every backend (CUDA, MPS, the CPU allocator, OpenVINO's)."""
    oom_type = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    if isinstance(error, oom_type):
        return True
    message = str(error).lower()
    return isinstance(error, RuntimeError) and any(
        phrase in message
        for phrase in ("out of memory", "can't allocate memory", "not enough memory", "failed to allocate")
    )


def prepare_network(network: nn.Module, device: torch.device, precision: str) -> nn.Module:
    """A copy of `network` on `device` in `precision` and channels-last layout, ready for inference."""
    prepared = copy.deepcopy(network).eval().requires_grad_(False)
    # torch's type stubs lack Module.to(memory_format=...), which it has had since 1.5
    return prepared.to(device=device, dtype=DTYPES[precision], memory_format=torch.channels_last)  # type: ignore[call-overload]


def cancel_modules(network: nn.Module, points: tuple[str, ...]) -> list[nn.Module]:
    """The submodules named by cancel points: "conv_first", "body.*" (each child of body), "*" (each
    top-level child); names the network lacks are skipped, so one default serves unregistered nets."""
    found: list[nn.Module] = []
    for point in points:
        parent, _, star = point.rpartition(".") if point.endswith("*") else (point, "", "")
        try:
            module = network.get_submodule(parent)
        except AttributeError:
            continue
        found += list(module.children()) if star else [module]
    return found


@contextlib.contextmanager
def cancel_between_layers(
    network: nn.Module, cancel: CancelToken | None, points: tuple[str, ...] = DEFAULT_CANCEL_POINTS
) -> Iterator[None]:
    """Check `cancel` before each submodule the cancel points name (by default every top-level layer,
    residual block and upsampling stage), so a slow tile stops within one block."""
    if cancel is None:
        yield
        return
    handles = [
        m.register_forward_pre_hook(lambda *_: check_cancel(cancel)) for m in cancel_modules(network, points)
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def without_tf32() -> Iterator[None]:
    """fp32 means fp32: cuDNN would otherwise run convolutions in TF32, about 1e-3 off a true reference."""
    saved = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = saved


def to_pixels(values: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    """C×H×W float values in [0, 1] as H×W×C numpy of `dtype`, rounded when it holds integers.

    Done on the tensor's own device, so a GPU sends back 8- or 16-bit pixels instead of 32-bit floats.
    """
    if np.issubdtype(dtype, np.integer):
        peak = np.iinfo(dtype).max
        values = values.mul(peak).add_(0.5).clamp_(0, peak).to(torch.int32 if peak > 255 else torch.uint8)
    else:
        values = values.clamp(0.0, 1.0)
    return values.permute(1, 2, 0).cpu().numpy().astype(dtype, copy=False)


def self_ensemble(network: Network, batch: torch.Tensor) -> torch.Tensor:
    """The mean of the network's outputs over the 8 flips and rotations of `batch`, each undone (Lim et al.
    2017, EDSR+): about 8× the work for a cleaner, slightly more faithful result. Exact per tile, so tiled
    output still equals whole-image output."""
    total = None
    for turns in range(4):
        for mirrored in (False, True):
            view = torch.rot90(batch, turns, dims=(2, 3))
            view = view.flip(3) if mirrored else view
            result = network(view.contiguous(memory_format=torch.channels_last)).float()
            result = result.flip(3) if mirrored else result
            result = torch.rot90(result, -turns, dims=(2, 3))
            total = result if total is None else total.add_(result)
    assert total is not None  # the loops above ran eight times
    return total / 8


def _cancel_scope(
    network: Network, cancel: CancelToken | None, points: tuple[str, ...]
) -> contextlib.AbstractContextManager[None]:
    """Where the forward pass checks `cancel`: before the named layers of a torch network, or however
    another runtime can (OpenVINO: by cancelling its running request)."""
    if isinstance(network, nn.Module):
        return cancel_between_layers(network, cancel, points)
    return network.cancellable(cancel)


def _run_tile(
    network: Network, source: torch.Tensor, t: Tile, scale: int, out: np.ndarray, ensemble: bool
) -> np.ndarray:
    """The tile's padded region through the network; its core back as pixels ready for `out`."""
    batch = source[..., t.py0 : t.py1, t.px0 : t.px1].contiguous(memory_format=torch.channels_last)
    exact = without_tf32() if batch.is_cuda and batch.dtype == torch.float32 else contextlib.nullcontext()
    with exact, torch.inference_mode():
        result = self_ensemble(network, batch) if ensemble else network(batch)
        top, left = (t.y0 - t.py0) * scale, (t.x0 - t.px0) * scale
        core = result[0, :, top : top + (t.y1 - t.y0) * scale, left : left + (t.x1 - t.x0) * scale].float()
        if out.shape[2] == 1:  # a grey target keeps the mean of the three equal-input channels
            core = core.mean(dim=0, keepdim=True)
        return to_pixels(core, out.dtype)


def run_tiled(
    network: Network,
    image: np.ndarray,
    out: np.ndarray,
    *,
    scale: int,
    pad: int,
    device: torch.device,
    precision: str,
    tile: int | None,
    cancel: CancelToken | None = None,
    stage: str = "tiles",
    ensemble: bool = False,
    cancel_points: tuple[str, ...] = DEFAULT_CANCEL_POINTS,
    alignment: int = 1,
) -> Generator[Progress, None, int | None]:
    """Upscale `image` (H×W×3 float32 in [0, 1]) into `out` (sH×sW×3, or ×1 for grey) tile by tile.

    Returns the tile size finally used. `out` may be a view into a larger array (the colour or alpha
    channels of a picture) of float or integer type; integer targets are quantised as tiles arrive.
    `network` must already be prepared for `device` and `precision` (or be another runtime's
    `ForwardPass`, fed tiles of its `input_dtype`); `ensemble` averages each tile over
    its 8 flips and rotations (`self_ensemble`). `cancel_points` name where a tile checks `cancel`; tile
    and pad are rounded up to multiples of `alignment`, so that a network that pixel-unshuffles its input
    sees every tile on the whole image's pixel grid. On an out-of-memory error the tile
    is halved and the cores not yet written are redone with the smaller tiles; nothing finished is lost.
    """
    height, width = image.shape[:2]
    pad = _aligned(pad, alignment)
    if isinstance(network, ImageSkip):  # it casts for its residual itself: fp32 keeps its skip exact
        dtype = torch.float32
    else:
        dtype = DTYPES[precision] if isinstance(network, nn.Module) else network.input_dtype
    source = torch.from_numpy(image).permute(2, 0, 1)[None].to(device=device, dtype=dtype)
    finished = np.zeros((height, width), dtype=bool)
    while True:
        tile = None if tile is None else _aligned(tile, alignment)
        tiles = [
            t for t in plan_tiles(height, width, tile, pad) if not finished[t.y0 : t.y1, t.x0 : t.x1].all()
        ]
        clock = EtaClock(sum(t.padded_area for t in tiles))
        try:
            for done, t in enumerate(tiles, start=1):
                check_cancel(cancel)
                with _cancel_scope(network, cancel, cancel_points):
                    out[t.y0 * scale : t.y1 * scale, t.x0 * scale : t.x1 * scale] = _run_tile(
                        network, source, t, scale, out, ensemble
                    )
                finished[t.y0 : t.y1, t.x0 : t.x1] = True
                eta = clock.advance(t.padded_area)
                yield Progress(done, len(tiles), stage, eta, {"tile": tile})
            return tile
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            if device.type == "cuda":
                torch.cuda.empty_cache()
            current = tile or max(height, width)
            if current // 2 < MIN_TILE:
                raise SRStudioError(f"out of memory on {device} even with {current}-pixel tiles") from None
            tile = current // 2
            note = f"out of memory: retrying with {tile}-pixel tiles"
            yield Progress(0, 1, stage, None, {"tile": tile, "note": note})
