"""Training throughput on one process against DistributedDataParallel on several (gloo on the CPU).

Each configuration is the job's own `--probe STEPS` (median seconds per step after one warm-up step), in
its own child: `python -m sr_studio.train RECIPE --probe N [--nproc P]`. `train.batch` is per process, so
P processes learn from P × batch images per step; images/s counts them all. On a CPU the processes share
its cores: at best P processes of 1 thread match 1 process of P threads, and do better only where one
process cannot keep its threads busy (small convolutions, the data sampling, Python overhead).

    python benchmarks/ddp_training.py                          # SRResNet ×2, 8 blocks, 32 channels
    python benchmarks/ddp_training.py --steps 3 --blocks 2 --channels 8 --patch 32   # a quick check

Configurations: `1p×1t` one process with one thread; `1p×Nt` one process with all the cores' threads;
`Np×1t` N processes (N = cores) of one thread each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from machine import busy_processes
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def write_recipe(folder: Path, args: argparse.Namespace) -> Path:
    """A recipe over seeded random-texture images (speed does not depend on what they show)."""
    images = folder / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for index in range(8):
        pixels = rng.integers(0, 256, (args.patch * 3, args.patch * 3, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"{index}.png")
    recipe = folder / "recipe.toml"
    recipe.write_text(
        f"""task = "upscale"
name = "ddp-benchmark"
precision = "fp32"
[data]
train = ["{images}"]
patch = {args.patch}
[model]
architecture = "srresnet"
arguments = {{ scale = 2, blocks = {args.blocks}, channels = {args.channels}, norm = "none" }}
[train]
batch = {args.batch}
"""
    )
    return recipe


def probe(recipe: Path, steps: int, processes: int, threads: int) -> float:
    """Median seconds per step, from the job's probe event (rank 0's: the ranks step together)."""
    command = [sys.executable, "-m", "sr_studio.train", str(recipe), "--probe", str(steps)]
    command += ["--threads", str(threads)] + (["--nproc", str(processes)] if processes > 1 else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    found = [e for e in events if e["event"] == "probe"]
    if result.returncode != 0 or not found:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr[-2000:]}")
    assert found[0]["processes"] == processes
    return float(found[0]["seconds_per_step"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per configuration")
    parser.add_argument("--batch", type=int, default=16, help="train.batch (per process)")
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    cores = args.cores
    configs = [(1, 1), (1, cores), (cores, 1)]
    with tempfile.TemporaryDirectory() as folder:
        recipe = write_recipe(Path(folder), args)
        rows = [(p, t, probe(recipe, args.steps, p, t)) for p, t in configs]
    print(f"SRResNet ×2, {args.blocks} blocks, {args.channels} channels, patch {args.patch}, "
          f"batch {args.batch} per process, fp32, {args.steps} steps; {cores} cores")  # fmt: skip
    busy = busy_processes()
    if busy:
        print("also running: " + "; ".join(busy))
    print("\n| config | processes × threads | s/step | steps/s | images/s | × 1p×1t images/s |")
    print("|---|---|---|---|---|---|")
    base = args.batch / rows[0][2]
    for processes, threads, seconds in rows:
        images = processes * args.batch / seconds
        print(f"| {processes}p×{threads}t | {processes} × {threads} | {seconds:.4f} | {1 / seconds:.2f} "
              f"| {images:.1f} | {images / base:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
