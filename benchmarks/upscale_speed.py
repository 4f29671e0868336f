"""Upscale throughput (output MP/s) and peak memory: the naive fp32 baseline against the engine's policies.

Each configuration runs in its own child process so that its peak memory (RSS on the CPU, allocated
memory on CUDA) is its own; the same parent run measures the baseline, so the ratios compare like with like.

    python benchmarks/upscale_speed.py                      # CPU, 256² and 512² inputs, ×4
    python benchmarks/upscale_speed.py --device cuda --sizes 512 1024
    python benchmarks/upscale_speed.py --sizes 512 --photo  # and a 12-MP photo (4000×3000; slow)

Configurations:
  naive-fp32     the whole image in one pass, BN unfolded, contiguous, torch.no_grad (what a script does)
  engine-fp32    the engine on torch with precision fp32: BN folded, channels-last, inference_mode, auto tiles
  engine-bf16    the engine on torch forced to bf16 (without native bf16 on the CPU: why auto avoids it)
  engine-auto    the engine on torch with its precision policy (bf16 on a CPU with native bf16, fp16 on CUDA)
  openvino-fp32  the engine with the OpenVINO forward pass (CPU only), f32
  openvino-bf16  the same with OpenVINO's bf16 inference-precision hint
  auto           the default: backend and precision auto (OpenVINO where installed, on the CPU)
  auto-cached    the same with OpenVINO's model cache filled by an earlier process (what every run after
                 the first one does); every other configuration starts from an empty cache
The network is SRResNet ×4, 16 blocks, 64 channels, seeded random weights: speed does not depend on them.
"setup s" is converting the network for OpenVINO (once per model and process; from the model cache, reading
it back); "first s" is the warm-up run, which for OpenVINO includes compiling each tile shape (from the
cache's compiled blobs for auto-cached). The naive baseline is left out of the 12-MP
photo: one pass over it would need about 50 GB of activations.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = (
    "naive-fp32",
    "engine-fp32",
    "engine-bf16",
    "engine-auto",
    "openvino-fp32",
    "openvino-bf16",
    "auto",
    "auto-cached",
)
PHOTO = (3000, 4000)  # a 12-MP photo, height × width
# (backend, precision) of each engine configuration
ENGINE = {
    "engine-fp32": ("torch", "fp32"),
    "engine-bf16": ("torch", "bf16"),
    "engine-auto": ("torch", "auto"),
    "openvino-fp32": ("openvino", "fp32"),
    "openvino-bf16": ("openvino", "bf16"),
    "auto": ("auto", "auto"),
    "auto-cached": ("auto", "auto"),
}


def measure(config: str, size: int, device: str, repeats: int) -> dict:
    """Run one configuration `repeats` times (after a warm-up) in this process and report its figures.

    `size` 0 stands for the 12-MP photo."""
    import resource

    import numpy as np
    import torch

    from sr_studio.core import engine
    from sr_studio.core.images import Picture
    from sr_studio.core.library import ModelLibrary
    from sr_studio.core.upscale import upscale
    from sr_studio.models.srresnet import SRResNet

    torch.manual_seed(0)
    network = SRResNet(scale=4, blocks=16, channels=64, norm="batch").eval()
    height, width = PHOTO if size == 0 else (size, size)
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    torch_device = engine.resolve_device(device)

    with tempfile.TemporaryDirectory() as folder:
        library = ModelLibrary(builtin_dir=Path(folder) / "builtin", user_dir=Path(folder) / "user")
        arguments = {"scale": 4, "blocks": 16, "channels": 64, "norm": "batch"}
        library.add(network, name="bench", task="upscale", architecture="srresnet", arguments=arguments)
        model = library.load("bench")

    def naive() -> str:
        net = network.to(torch_device)
        x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float().div(255).to(torch_device)
        with torch.no_grad():
            net(x).clamp(0, 1).mul(255).round().byte().cpu()
        return "fp32"

    used = {}

    def engine_run() -> str:
        backend, precision = ENGINE[config]
        result = upscale(Picture(pixels=pixels), model, device=device, precision=precision, backend=backend)
        used.update(backend=result.backend, notes=result.notes)
        return result.precision

    setup = 0.0
    if config.startswith("openvino") or (config.startswith("auto") and torch_device.type == "cpu"):
        from sr_studio.core import openvino_backend

        start = time.perf_counter()
        with contextlib.suppress(openvino_backend.Unavailable):  # then it runs on torch, with a note
            openvino_backend.convert(model.network, model.architecture.alignment(model.card.arguments))
        setup = time.perf_counter() - start
    run = naive if config == "naive-fp32" else engine_run
    timings = []
    for index in range(repeats + 1):
        if torch_device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        precision = run()
        if torch_device.type == "cuda":
            torch.cuda.synchronize()
        if index:  # the first run warms up kernels and allocators (and compiles OpenVINO's tile shapes)
            timings.append(time.perf_counter() - start)
        else:
            first = time.perf_counter() - start
    if torch_device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    median = statistics.median(timings or [first])  # --repeats 0: the one cold run is the figure
    return {
        "config": config,
        "backend": used.get("backend", "torch"),
        "notes": list(used.get("notes", ())),
        "precision": precision,
        "size": size,
        "setup_s": setup,
        "first_s": first,
        "median_s": median,
        "out_mps": height * width * 16 / 1e6 / median,
        "peak_mb": peak_mb,
        "threads": torch.get_num_threads(),
    }


def idle_rss_mb() -> float:
    """Peak RSS of a process that imports torch and builds the network but runs nothing."""
    import resource

    import torch  # noqa: F401

    from sr_studio.models.srresnet import SRResNet

    SRResNet(scale=4).eval()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(arguments: list[str], data: Path | None = None) -> dict:
    """One child's figures; `data` is its user data folder (and so its OpenVINO model cache)."""
    environment = {key: value for key, value in os.environ.items() if key != "SR_STUDIO_NO_MODEL_CACHE"}
    if data is not None:
        environment["SR_STUDIO_DATA_DIR"] = str(data)
    output = subprocess.run(
        [sys.executable, __file__, *arguments], check=True, capture_output=True, text=True, env=environment
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[256, 512], help="square inputs (none: --photo only)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after a warm-up (0: one cold run)")
    parser.add_argument(
        "--baseline-repeats", type=int, help="timed runs of naive-fp32 (default: --repeats; it is slow)"
    )
    parser.add_argument(
        "--photo", action="store_true", help="also a 12-MP photo (4000×3000), without the naive baseline"
    )
    parser.add_argument(
        "--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS), help="first is the baseline"
    )
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--idle", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.idle:
        print(json.dumps({"idle_mb": idle_rss_mb()}))
        return
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.device, args.repeats)))
        return

    idle = child(["--idle"])["idle_mb"] if args.device == "cpu" else 0.0
    print(f"device {args.device}; medians of {args.repeats} runs after a warm-up; SRResNet ×4 B16 C64")
    if idle:
        print(
            f"peak memory is RSS above an idle process that imported torch and built the net ({idle:.0f} MB)"
        )
    header = ("input", "config", "backend", "precision", "setup s", "first s", "median s", "out MP/s")
    print(
        "{:>9} {:<14} {:<9} {:<9} {:>7} {:>8} {:>9} {:>9} {:>8} {:>8}".format(*header, "× first", "peak MB")
    )
    for size in [*args.sizes, *([0] if args.photo else [])]:
        baseline = None
        for config in args.configs:
            if size == 0 and config == "naive-fp32":
                continue
            repeats = (
                args.baseline_repeats if config == "naive-fp32" and args.baseline_repeats else args.repeats
            )
            command = ["--child", config, str(size), "--device", args.device, "--repeats", str(repeats)]
            data = Path(tempfile.mkdtemp(prefix="sr-studio-bench-"))  # an empty model cache, never the user's
            if config == "auto-cached":
                child(command, data)  # fills the cache, as an earlier run of the app would
            r = child(command, data)
            shutil.rmtree(data, ignore_errors=True)
            baseline = baseline or r["out_mps"]
            label = "12 MP" if size == 0 else f"{size}²"
            print(
                f"{label:>9} {config:<14} {r['backend']:<9} {r['precision']:<9} {r['setup_s']:>7.2f} "
                f"{r['first_s']:>8.2f} {r['median_s']:>9.2f} {r['out_mps']:>9.3f} "
                f"{r['out_mps'] / baseline:>8.2f} {r['peak_mb'] - idle:>8.0f}",
                flush=True,
            )
            for note in r["notes"]:
                print(f"{'':>9} note: {note}", flush=True)


if __name__ == "__main__":
    main()
