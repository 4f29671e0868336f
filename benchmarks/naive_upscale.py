"""The whole-process comparison: `sr-studio upscale` against a plain PyTorch script with srresnet-x4.

    python benchmarks/naive_upscale.py IN.png OUT.png            # the naive script itself
    python benchmarks/naive_upscale.py --compare [--size 512] [--repeats 3]

The naive script builds the shipped srresnet-x4 (an MSRResNet, 16 blocks, 64 channels), loads its weights,
runs the whole picture at once in fp32 under `no_grad` (no tiles, no batch-norm folding, no channels-last)
and saves it. `--compare` times whole processes (start, imports, model, upscale, save) on one random
picture, in rounds that run every configuration once, so that a change in the machine's load falls on all
of them alike; it prints the medians and each one's speed-up over the naive script:
  naive           this script
  cache off       `sr-studio upscale` with SR_STUDIO_NO_MODEL_CACHE=1: converts for OpenVINO every time
  cold cache      an empty model cache: converts, and writes the cache
  warm IR only    the converted model cached, OpenVINO's compiled blobs not: compiles each tile shape
  warm            both cached: what every run after the first does
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = ("naive", "cache off", "cold cache", "warm IR only", "warm")


def main(source: str, target: str) -> None:
    import numpy as np
    import torch
    from PIL import Image
    from safetensors.torch import load_file

    from sr_studio.core.paths import builtin_models_dir
    from sr_studio.models.msrresnet import MSRResNet

    network = MSRResNet(scale=4, blocks=16, channels=64)
    network.load_state_dict(load_file(builtin_models_dir() / "srresnet-x4.safetensors"))
    network.eval()
    pixels = np.array(Image.open(source).convert("RGB"))
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        y = network(x)
    Image.fromarray(y[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()).save(target)


def timed(command: list[str], environment: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def compare(size: int, repeats: int) -> None:
    import numpy as np
    from PIL import Image

    work = Path(tempfile.mkdtemp(prefix="sr-studio-bench-"))
    try:
        picture, out = work / "in.png", work / "out.png"
        pixels = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(picture)
        upscale = [sys.executable, "-m", "sr_studio", "upscale", str(picture), "-o", str(out), "--overwrite"]
        naive = [sys.executable, __file__, str(picture), str(out)]
        base = {key: value for key, value in os.environ.items() if key != "SR_STUDIO_NO_MODEL_CACHE"}
        warm = work / "warm"
        timed(upscale, {**base, "SR_STUDIO_DATA_DIR": str(warm)})  # fills the cache used by "warm"
        cache = warm / "model-cache" / "openvino"
        times: dict[str, list[float]] = {config: [] for config in CONFIGS}
        for round_ in range(repeats):
            for config in CONFIGS:
                data = work / f"data-{round_}-{CONFIGS.index(config)}"
                environment = {**base, "SR_STUDIO_DATA_DIR": str(data)}
                if config == "naive":
                    times[config].append(timed(naive, environment))
                    continue
                if config == "cache off":
                    environment["SR_STUDIO_NO_MODEL_CACHE"] = "1"
                elif config == "warm IR only":
                    shutil.copytree(cache, data / "model-cache" / "openvino", ignore=_blobs)
                elif config == "warm":
                    environment["SR_STUDIO_DATA_DIR"] = str(warm)
                times[config].append(timed(upscale, environment))
        report(size, repeats, times)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _blobs(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name.endswith(".blob")]


def report(size: int, repeats: int, times: dict[str, list[float]]) -> None:
    from sr_studio.core.system import cpu_name

    naive = statistics.median(times["naive"])
    machine = f"{cpu_name()}, {os.cpu_count()} CPUs"
    print(f"whole process, {size}² RGB ×4 (srresnet-x4), medians of {repeats}; {machine}")
    print(f"{'config':<14} {'median s':>9} {'min s':>7} {'max s':>7} {'× naive':>8}")
    for config, runs in times.items():
        median = statistics.median(runs)
        print(f"{config:<14} {median:>9.2f} {min(runs):>7.2f} {max(runs):>7.2f} {naive / median:>8.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--compare":
        parser = argparse.ArgumentParser(
            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        parser.add_argument("--compare", action="store_true")
        parser.add_argument("--size", type=int, default=512, help="square input side (pixels)")
        parser.add_argument(
            "--repeats", type=int, default=3, help="rounds; each runs every configuration once"
        )
        arguments = parser.parse_args()
        compare(arguments.size, arguments.repeats)
    else:
        main(sys.argv[1], sys.argv[2])
