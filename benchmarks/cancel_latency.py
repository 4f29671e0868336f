"""How long an upscale takes to stop after Cancel: the engine checks between tiles and residual blocks.

    python benchmarks/cancel_latency.py [--size 512] [--repeats 5] [--device cpu] [--tile none]
        [--arch srresnet|rrdbnet] [--backend torch|openvino|auto] [--precision fp32|bf16]

Each run starts an SRResNet ×4 (16 blocks, 64 channels) or, with `--arch rrdbnet`, an ESRGAN RRDBNet ×4
(23 blocks, 64 channels, random weights) upscale in a worker thread, cancels it after a
random delay within its run time, and times the moment of cancel to the moment the job has raised
`Cancelled`. The goal is under 1 s. The first row, the uncancelled run, is what a job that never checked
would keep you waiting at worst (with `--tile none` it is also the wait if checks were between tiles only).
On OpenVINO (`--backend openvino`) a running tile is an asynchronous request that cancel interrupts.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from sr_studio.core.errors import Cancelled
from sr_studio.core.images import Picture
from sr_studio.core.jobs import CancelToken
from sr_studio.core.library import ModelLibrary
from sr_studio.core.upscale import upscale
from sr_studio.models import build

ARCHITECTURES = {
    "srresnet": {"scale": 4, "blocks": 16, "channels": 64, "norm": "batch"},
    "rrdbnet": {"scale": 4, "num_feat": 64, "num_block": 23, "num_grow_ch": 32},
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tile", default="none", help="tile size, or none for one whole-image tile")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="srresnet")
    parser.add_argument("--backend", choices=("torch", "openvino", "auto"), default="torch")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    args = parser.parse_args()

    torch.manual_seed(0)
    random.seed(0)
    arguments = ARCHITECTURES[args.arch]
    picture = Picture(
        pixels=np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
    )
    with tempfile.TemporaryDirectory() as folder:
        library = ModelLibrary(builtin_dir=Path(folder) / "b", user_dir=Path(folder) / "u")
        network = build(args.arch, **arguments)
        library.add(network, name="bench", task="upscale", architecture=args.arch, arguments=arguments)
        model = library.load("bench")

        def run(cancel: CancelToken | None) -> float:
            start = time.perf_counter()
            upscale(
                picture,
                model,
                device=args.device,
                precision=args.precision,
                tile=args.tile,
                cancel=cancel,
                backend=args.backend,
            )
            return time.perf_counter() - start

        def uncancelled() -> float:
            """Timed in a worker thread like the cancelled runs: on the CPU a worker thread can run
            2-3× faster than the main thread, and a main-thread time would cancel after the end."""
            seconds: list[float] = []
            worker = threading.Thread(target=lambda: seconds.append(run(None)))
            worker.start()
            worker.join()
            return seconds[0]

        uncancelled()  # warm-up: the first run pays for kernel selection
        tile_seconds = uncancelled()
        latencies = []
        for _ in range(args.repeats):
            cancel, stopped = CancelToken(), {}

            def work(token: CancelToken = cancel, result: dict = stopped) -> None:
                try:
                    run(token)
                except Cancelled:
                    result["at"] = time.perf_counter()

            worker = threading.Thread(target=work)
            worker.start()
            time.sleep(random.uniform(0.2, 0.8) * tile_seconds)
            cancelled_at = time.perf_counter()
            cancel.cancel()
            worker.join()
            latencies.append(stopped["at"] - cancelled_at)

    threads = torch.get_num_threads()
    print(
        f"{args.arch} on {args.device} ({args.backend}), {args.size}² input ×4 {args.precision}, "
        f"tile {args.tile}, {threads} threads"
    )
    print(f"{'the whole upscale, not cancelled':<62} {tile_seconds:8.3f} s")
    print(f"{'cancel → stopped, median of ' + str(args.repeats):<62} {statistics.median(latencies):8.3f} s")
    print(f"{'cancel → stopped, worst':<62} {max(latencies):8.3f} s")


if __name__ == "__main__":
    main()
