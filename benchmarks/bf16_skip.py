"""What bf16 costs an image-skip upscaler, rounded everywhere against rounded only in its residual.

    python benchmarks/bf16_skip.py --model srresnet-x2 --threads 1      # all of sr/val.txt
    python benchmarks/bf16_skip.py --model srresnet-x4 --limit 4

Per image of the validation list (`sr_quality.py`'s protocol: 8-bit bicubic LR, 8-bit output, Y-PSNR with
the scale's border cropped), Y-PSNR in dB of:
- fp32 on torch (the reference);
- torch bf16 everywhere: a bf16 copy fed bf16, so the input, the skip and the sum are rounded too (what the
  app ran before `models.image_skip`), and the same copy fed fp32, which rounds only the residual (now);
- OpenVINO under the bf16 hint: the whole network converted (the app's default before), and the residual
  alone with the skip added by torch in fp32 (now, `core.openvino_backend`).
Each runs the whole LR image at once (OpenVINO compiled for its shape, included in the time), so the
seconds compare the rows with each other, not with the app's tiled path. Means over images and the
difference to fp32, the worst image's difference, and the median seconds an image.
Needs a CPU with native bf16 (AVX-512 BF16 or AMX) to mean anything, and OpenVINO for its columns.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from machine import busy_processes
from sr_quality import DEFAULT_VAL, hr_and_lr, val_files

from sr_studio.core import openvino_backend
from sr_studio.core.engine import cpu_has_fast_bf16, to_pixels
from sr_studio.core.library import LoadedModel, ModelLibrary
from sr_studio.core.metrics import psnr_y
from sr_studio.core.system import cpu_name
from sr_studio.models.image_skip import ResidualBranch
from sr_studio.train.data import to_tensor

Method = Callable[[np.ndarray], np.ndarray]


def to_bytes(values: torch.Tensor) -> np.ndarray:
    return to_pixels(values[0].float(), np.dtype(np.uint8))


def on_torch(model: LoadedModel, dtype: torch.dtype, input_dtype: torch.dtype) -> Method:
    network = copy.deepcopy(model.network).eval().to(dtype)

    def run(lr: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return to_bytes(network(to_tensor(lr).to(input_dtype)))

    return run


def on_openvino(model: LoadedModel, threads: int, *, residual_only: bool) -> Method:
    """The network (or its residual, the skip then added by torch in fp32) under the bf16 hint."""
    openvino = openvino_backend.load_openvino()
    network = model.network.eval()
    converted = ResidualBranch(network) if residual_only else network
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(converted, torch.rand(1, 3, 32, 32), check_trace=False)
    graph = openvino.convert_model(traced, input=[openvino.PartialShape([1, 3, -1, -1])])
    core = openvino.Core()
    config = {"INFERENCE_PRECISION_HINT": "bf16", "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1}

    def run(lr: np.ndarray) -> np.ndarray:
        x = to_tensor(lr)
        shaped = graph.clone()
        shaped.reshape(list(x.shape))
        compiled = core.compile_model(shaped, "CPU", config)
        output = torch.from_numpy(np.ascontiguousarray(compiled(x.numpy())[0]))
        return to_bytes(output + network.skip(x) if residual_only else output)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="srresnet-x2", help="a library upscaler with an image skip")
    parser.add_argument("--val", type=Path, default=DEFAULT_VAL)
    parser.add_argument("--limit", type=int, help="only the first N images")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = ModelLibrary().load(args.model)
    print(f"{cpu_name()}, native bf16: {cpu_has_fast_bf16()}, {args.threads} thread(s)")
    print(f"also running: {busy_processes() or 'nothing else'}")
    methods: dict[str, Method] = {
        "fp32": on_torch(model, torch.float32, torch.float32),
        "torch bf16 everywhere (before)": on_torch(model, torch.bfloat16, torch.bfloat16),
        "torch bf16 residual (now)": on_torch(model, torch.bfloat16, torch.float32),
    }
    try:
        methods["OpenVINO bf16 whole (before)"] = on_openvino(model, args.threads, residual_only=False)
        methods["OpenVINO bf16 residual (now)"] = on_openvino(model, args.threads, residual_only=True)
    except openvino_backend.Unavailable as error:
        print(f"OpenVINO columns left out: {error}")
    scores: dict[str, list[float]] = {name: [] for name in methods}
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    for path in val_files(args.val, args.limit):
        hr, lr = hr_and_lr(path, model.scale)
        for name, method in methods.items():
            started = time.perf_counter()
            result = method(lr)
            seconds[name].append(time.perf_counter() - started)
            scores[name].append(psnr_y(result / 255.0, hr / 255.0, model.scale))
        print(f"{path.name}: " + "  ".join(f"{s[-1]:.3f}" for s in scores.values()), flush=True)
    reference = scores["fp32"]
    print(f"\n{args.model}, {len(reference)} images\n")
    print("| path | mean Y-PSNR dB | − fp32 | worst image − fp32 | median s/image |")
    print("|---|---:|---:|---:|---:|")
    for name, values in scores.items():
        gaps = [value - exact for value, exact in zip(values, reference, strict=True)]
        print(
            f"| {name} | {statistics.mean(values):.4f} | {statistics.mean(gaps):+.4f} | {min(gaps):+.3f} "
            f"| {statistics.median(seconds[name]):.2f} |"
        )


if __name__ == "__main__":
    main()
