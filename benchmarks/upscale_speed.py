"""Upscale throughput (output MP/s) and peak memory: the naive fp32 baseline against the engine's policies.

Each configuration runs in its own child process so that its peak memory (RSS on the CPU, allocated
memory on CUDA) is its own; the same parent run measures the baseline, so the ratios compare like with like.

    python benchmarks/upscale_speed.py                      # CPU, 256² and 512² inputs, ×4
    python benchmarks/upscale_speed.py --device cuda --sizes 512 1024

Configurations:
  naive-fp32   the whole image in one pass, BN unfolded, contiguous layout, torch.no_grad (what a script does)
  engine-fp32  the engine with precision fp32: BN folded, channels-last, inference_mode, auto tiles
  engine-bf16  the engine forced to bf16 (on a CPU without native bf16 this shows why auto avoids it)
  engine-auto  the engine's default policy (bf16 on a CPU with native bf16, fp16 on CUDA)
The network is SRResNet ×4, 16 blocks, 64 channels, seeded random weights: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = ("naive-fp32", "engine-fp32", "engine-bf16", "engine-auto")


def measure(config: str, size: int, device: str, repeats: int) -> dict:
    """Run one configuration `repeats` times (after a warm-up) in this process and report its figures."""
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
    pixels = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
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

    def engine_run(precision: str) -> str:
        return upscale(Picture(pixels=pixels), model, device=device, precision=precision).precision

    run = {
        "naive-fp32": naive,
        "engine-fp32": lambda: engine_run("fp32"),
        "engine-bf16": lambda: engine_run("bf16"),
        "engine-auto": lambda: engine_run("auto"),
    }
    timings = []
    for index in range(repeats + 1):
        if torch_device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        precision = run[config]()
        if torch_device.type == "cuda":
            torch.cuda.synchronize()
        if index:  # the first run warms up kernels and allocators
            timings.append(time.perf_counter() - start)
    if torch_device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    median = statistics.median(timings)
    return {
        "config": config,
        "precision": precision,
        "size": size,
        "median_s": median,
        "out_mps": (size * 4) ** 2 / 1e6 / median,
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


def child(arguments: list[str]) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, *arguments], check=True, capture_output=True, text=True
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=3)
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
    header = ("input", "config", "precision", "median s", "out MP/s", "× first", "peak MB")
    print("{:>7} {:<12} {:<9} {:>9} {:>9} {:>8} {:>8}".format(*header))
    for size in args.sizes:
        baseline = None
        for config in args.configs:
            r = child(["--child", config, str(size), "--device", args.device, "--repeats", str(args.repeats)])
            baseline = baseline or r["out_mps"]
            print(
                f"{size:>5}² {config:<12} {r['precision']:<9} {r['median_s']:>9.2f} {r['out_mps']:>9.3f} "
                f"{r['out_mps'] / baseline:>8.2f} {r['peak_mb'] - idle:>8.0f}"
            )


if __name__ == "__main__":
    main()
