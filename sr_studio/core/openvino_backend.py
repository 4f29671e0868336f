"""OpenVINO as the CPU forward pass: the library's `nn.Module` converted in memory, compiled per tile shape.

Why OpenVINO: on a CPU its graph compiler (fused convolutions, AMX / AVX-512 BF16 kernels when the
precision hint says bf16) ran SRResNet faster than torch at the same precision (benchmarks/README.md).
- **Conversion** traces the network once per module object (kept while the module lives) and checks the
  result against torch on a probe input of another size than the trace, so a model whose trace baked in
  a shape, or an operation that converts wrongly, is refused with a reason instead of giving wrong pixels.
  A checked conversion is kept on disk (`openvino_cache`), so a later process reads it back instead of
  tracing again (about 1 s for SRResNet); OpenVINO's compiled blobs are kept beside it.
- **An image-skip network** (`models.image_skip`: MSRResNet, SRVGG) has only its residual converted; its
  upscaled input and the sum are computed by torch in fp32, where the bf16 hint cannot round them.
- **Compilation** is per tile shape: a static shape ran about 25 % faster than one dynamic compilation, and
  compiling takes 0.1-0.5 s. Each compiled shape holds its own activations (about 0.5 GB for a 336² SRResNet
  tile in bf16), so only the most recent ones are kept, up to `COMPILED_PIXELS` input pixels in all: three
  full tiles, as a row of tiles has three shapes (first, inner, last) and the rows between the first and
  the last share theirs.
- **Cancel**: a tile runs as an asynchronous request that is polled, and `InferRequest.cancel()` stops it
  within a few tens of milliseconds, so even a large tile stops well inside a second.
- **No telemetry**: importing `openvino` sends a usage event to Google Analytics and writes a client id
  under ~/intel unless the user has opted out. SR Studio promises that nothing leaves the machine, so the
  telemetry package is blocked before the import; OpenVINO then uses its own no-op stub.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sr_studio.core import openvino_cache
from sr_studio.core.jobs import CancelToken, check_cancel
from sr_studio.models.image_skip import ImageSkip, ResidualBranch

COMPILED_PIXELS = 3 * 336 * 336  # input pixels of the compiled shapes kept (each holds its activations)
POLL_MS = 20  # how often a running tile looks at its cancel token
PROBE_TOLERANCE = 1e-3  # relative to the output's magnitude: f32 conversions agree to about 1e-6
PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16"}
INSTALL_HINT = "pip install 'sr-studio[openvino]'"
Skip = Callable[[torch.Tensor], torch.Tensor]
INPUT_SHAPE = [1, 3, -1, -1]  # one picture, RGB, any size: each tile shape is fixed when it is compiled
TRACE_SIDE = 32  # the traced example's side (then aligned); the probe is another size, to catch baked shapes


class Unavailable(Exception):
    """OpenVINO cannot run this model here; the message says why, in a few words."""


class Missing(Unavailable):
    """OpenVINO is not installed (or its libraries cannot be loaded)."""


@dataclass(eq=False)
class _Conversion:
    """One module's conversion: the OpenVINO model, or why there is none."""

    model: Any  # openvino.Model; None when there is a problem
    problem: str | None = None
    source: str = "converted"  # or "cache": read back from the on-disk cache, without tracing


_lock = threading.Lock()
_conversions: weakref.WeakKeyDictionary[nn.Module, _Conversion] = weakref.WeakKeyDictionary()
_compiled: OrderedDict[tuple, tuple[_Conversion, Any]] = OrderedDict()


def load_openvino() -> Any:
    """The `openvino` module, imported with its telemetry blocked; `Missing` says why it cannot be."""
    if "openvino_telemetry" not in sys.modules:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # ImportError → their stub
    try:
        import openvino
    except ModuleNotFoundError:
        raise Missing(f"OpenVINO is not installed ({INSTALL_HINT})") from None
    except Exception as error:  # a broken install: its shared libraries, an ABI mismatch
        raise Missing(f"OpenVINO cannot be loaded: {reason(error)}") from None
    return openvino


def version() -> str:
    """OpenVINO's version, e.g. "2026.4.1"; `Missing` when it is not installed."""
    return load_openvino().__version__.split("-")[0]


def reason(error: BaseException, limit: int = 160) -> str:
    """The telling line of an OpenVINO error, whose first lines name only its C++ source files."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    telling = [line for line in lines if not line.startswith(("Exception from", "Check '"))]
    text = (telling or lines or [type(error).__name__])[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


@cache
def _core() -> Any:
    return load_openvino().Core()


def _aligned(size: int, alignment: int) -> int:
    return -(-size // alignment) * alignment


def convert(network: nn.Module, alignment: int = 1) -> _Conversion:
    """`network` as an OpenVINO model (converted once per module object); `Unavailable` says why not.

    `alignment` is the architecture's pixel grid (a pixel-unshuffling network takes multiples of it).
    """
    with _lock:
        found = _conversions.get(network)
    if found is None:
        found = _convert(network, alignment)
        with _lock:
            _conversions[network] = found
    if found.problem is not None:
        raise Unavailable(found.problem)
    return found


def _convert(network: nn.Module, alignment: int) -> _Conversion:
    """The disk cache's model for `network` where it has one, else a fresh conversion, stored when it passes.

    A cached entry was checked against torch when it was written, and its files' hashes say it is
    unchanged, so a hit skips the probe as well as the trace."""
    openvino = load_openvino()
    folder = openvino_cache.cache_dir()
    if folder is None:
        return _convert_now(openvino, network, alignment)
    key = openvino_cache.model_key(_converted_module(network), _policy(openvino, alignment))
    cached = openvino_cache.load(folder, key, _core().read_model, reason)
    if cached is not None:
        return _Conversion(cached, source="cache")
    conversion = _convert_now(openvino, network, alignment)
    if conversion.problem is None:
        openvino_cache.store(folder, key, conversion.model, _saver(openvino), reason)
    return conversion


def _policy(openvino: Any, alignment: int) -> dict[str, Any]:
    """The converter's part of a cache key: what, besides the network, shapes the converted model."""
    return {
        "openvino": openvino.__version__,
        "alignment": alignment,
        "input": INPUT_SHAPE,
        "trace_side": _aligned(TRACE_SIDE, alignment),
    }


def _saver(openvino: Any) -> Any:
    def save(model: Any, path: str) -> None:
        openvino.save_model(model, path, compress_to_fp16=False)  # f32 as converted: the hint picks bf16

    return save


def _converted_module(network: nn.Module) -> nn.Module:
    """What is converted: an image-skip network's residual alone (its skip and sum stay in torch, in
    fp32, where the bf16 hint cannot round them: `models.image_skip`), any other network whole."""
    return ResidualBranch(network) if isinstance(network, ImageSkip) else network


def _convert_now(openvino: Any, network: nn.Module, alignment: int) -> _Conversion:
    reference = network
    if any(p.dtype != torch.float32 or p.device.type != "cpu" for p in network.parameters()):
        reference = _fp32_cpu_copy(network)
    reference = _converted_module(reference)
    side = _aligned(TRACE_SIDE, alignment)
    generator = torch.Generator().manual_seed(0)
    probe = torch.rand(1, 3, _aligned(24, alignment), _aligned(40, alignment), generator=generator)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings: the probe below is the real check
            example = torch.rand(1, 3, side, side, generator=generator)  # not the global RNG: no side effect
            traced = torch.jit.trace(reference.eval(), example, check_trace=False)
            model = openvino.convert_model(traced, input=[openvino.PartialShape(INPUT_SHAPE)])
            expected = reference(probe)
        got = _infer_once(model, probe)
    except Exception as error:  # any failure to convert or run is a refusal, never a crash
        return _Conversion(None, f"conversion failed: {reason(error)}")
    if got.shape != expected.shape:
        return _Conversion(None, f"its output is {tuple(got.shape)}, torch's {tuple(expected.shape)}")
    difference = float((got - expected).abs().max())
    if not difference <= PROBE_TOLERANCE * max(1.0, float(expected.abs().max())):
        return _Conversion(None, f"its result differs from torch's by {difference:.2g}")
    return _Conversion(model)


def _fp32_cpu_copy(network: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(network).to(device="cpu", dtype=torch.float32)


def _infer_once(model: Any, batch: torch.Tensor) -> torch.Tensor:
    """One f32 inference of `batch` by a fresh compilation of `model` (the conversion's probe)."""
    shaped = model.clone()
    shaped.reshape(list(batch.shape))
    compiled = _core().compile_model(shaped, "CPU", _config("fp32", 1))
    return torch.from_numpy(compiled(batch.numpy())[0].copy())


def _config(precision: str, threads: int, blobs: Path | None = None) -> dict[str, Any]:
    """Compile settings; with `blobs`, OpenVINO keeps its compiled blobs there (its CACHE_DIR)."""
    config: dict[str, Any] = {
        "INFERENCE_PRECISION_HINT": PRECISION_HINTS[precision],
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",  # one stream: a tile at a time, all threads on it
        "NUM_STREAMS": 1,
    }
    if blobs is not None:
        config["CACHE_DIR"] = str(blobs)
    return config


def _compile(shaped: Any, precision: str, threads: int) -> Any:
    """`shaped` compiled, through OpenVINO's blob cache where the model cache is on and usable: a folder
    it cannot write (OpenVINO then raises) compiles without it."""
    folder = openvino_cache.cache_dir()
    blobs = None if folder is None else openvino_cache.ready_compiled_dir(folder)
    if folder is not None and blobs is not None:
        try:
            compiled = _core().compile_model(shaped, "CPU", _config(precision, threads, blobs))
        except Exception as error:  # its blob cache failing; a real compile error comes again below
            openvino_cache.note(f"model cache: compiling without compiled blobs: {reason(error)}")
        else:
            openvino_cache.prune(folder)  # a new shape may have added a blob
            return compiled
    return _core().compile_model(shaped, "CPU", _config(precision, threads))


def compiled_for(conversion: _Conversion, precision: str, threads: int, shape: tuple[int, ...]) -> Any:
    """The compiled model for one input shape, from the process's small cache or compiled now."""
    key = (id(conversion), precision, threads, shape)
    with _lock:
        hit = _compiled.get(key)
        if hit is not None:
            _compiled.move_to_end(key)
            return hit[1]
    shaped = conversion.model.clone()
    shaped.reshape(list(shape))
    compiled = _compile(shaped, precision, threads)
    with _lock:
        _compiled[key] = (conversion, compiled)  # the conversion too, so that its id stays unique
        while len(_compiled) > 1 and sum(_pixels(k) for k in _compiled) > COMPILED_PIXELS:
            _compiled.popitem(last=False)
    return compiled


def _pixels(key: tuple) -> int:
    *_, shape = key
    return shape[-2] * shape[-1]


def forget_compiled() -> None:
    """Drop every compiled shape (and the memory their activations hold); conversions stay."""
    with _lock:
        _compiled.clear()


class OpenVINOForward:
    """The forward pass on OpenVINO: torch tensors in and out, so the engine's tiling, stitching and
    self-ensemble stay exactly as they are for torch; cancel interrupts a running tile."""

    input_dtype = torch.float32  # the network sees f32; the bf16 hint is applied inside OpenVINO

    def __init__(
        self, conversion: _Conversion, precision: str, threads: int, skip: Skip | None = None
    ) -> None:
        self.conversion = conversion
        self.skip = skip  # an image-skip network's skip, added in fp32 to the converted residual
        self.source = conversion.source  # "converted" now, or read from the "cache"
        self.precision = precision
        self.threads = threads
        self._cancel: CancelToken | None = None

    @contextlib.contextmanager
    def cancellable(self, cancel: CancelToken | None) -> Iterator[None]:
        """Within this block a running tile polls `cancel` and stops when it is set."""
        self._cancel = cancel
        try:
            yield
        finally:
            self._cancel = None

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(batch.detach().to(device="cpu", dtype=torch.float32).numpy())
        compiled = compiled_for(self.conversion, self.precision, self.threads, tuple(array.shape))
        request = compiled.create_infer_request()
        request.start_async({0: array})
        while not request.wait_for(POLL_MS):
            if self._cancel is not None and self._cancel.cancelled:
                request.cancel()
                with contextlib.suppress(RuntimeError):  # a cancelled request's wait raises
                    request.wait()
                check_cancel(self._cancel)
        result = torch.from_numpy(request.get_output_tensor(0).data.copy())
        if self.skip is not None:
            with torch.inference_mode():
                result += self.skip(torch.from_numpy(array))
        return result


def prepare(network: nn.Module, *, precision: str, threads: int, alignment: int = 1) -> OpenVINOForward:
    """An OpenVINO forward pass for `network`, converted (and checked) now; `Unavailable` says why not."""
    if precision not in PRECISION_HINTS:
        raise Unavailable(f"OpenVINO on the CPU runs fp32 or bf16, not {precision}")
    skip = network.skip if isinstance(network, ImageSkip) else None
    return OpenVINOForward(convert(network, alignment), precision, threads, skip)
