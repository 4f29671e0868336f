"""What a batch on Dask costs and gains on one machine: the plain batch vs --cluster local:1 vs local:2.

    python benchmarks/cluster_batch.py [N] [--model srresnet-x4] [--size 160] [--workers 1 2]
        [--backend auto] [--precision fp32]

N small photos (default 50) are taken from /work/shared/data/sr/bsd200 (481×321 JPEGs, reused under new
names when N is larger), shrunk so their longest side is `--size` (0 keeps them), and upscaled by the
plain batch in this process (torch's default threads) and on local clusters of 1 and 2 worker processes
(each with cores // workers torch threads). Each run writes into its own empty folder. Cluster start-up
(spawning the workers) is timed apart from the batch; the batch time includes each worker's one model load.
"extra s/file" is (batch time − plain batch time) / N: the cost of tasks, pickling and fates on local:1,
where the compute is the plain batch's; on local:2 it also holds the gain of two processes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import busy_processes

from sr_studio.core.batch import OutputOptions, batch_job, plan_batch
from sr_studio.core.cluster import ClusterSpec, cluster_batch_job, connect
from sr_studio.core.jobs import run_job
from sr_studio.core.library import ModelLibrary

PHOTOS = Path("/work/shared/data/sr/bsd200")


def make_inputs(folder: Path, count: int, size: int) -> None:
    """`count` photos in `folder`, the longest side shrunk to `size` (0: as they are)."""
    sources = sorted(PHOTOS.glob("*.jpg"))
    if not sources:
        raise SystemExit(f"no photos in {PHOTOS}")
    folder.mkdir(parents=True)
    for index in range(count):
        with Image.open(sources[index % len(sources)]) as photo:
            picture = photo.convert("RGB")
        if size:
            picture.thumbnail((size, size), Image.Resampling.LANCZOS)
        picture.save(folder / f"{index:04d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", type=int, nargs="?", default=50, help="number of photos")
    parser.add_argument("--model", default="srresnet-x4")
    parser.add_argument("--size", type=int, default=160, help="longest side of each input (0: 481)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()

    library = ModelLibrary()
    entry = library.find(args.model)
    scale = entry.card.scale or 1
    options = OutputOptions()
    policy = {"device": "cpu", "precision": args.precision, "backend": args.backend, "max_pixels": 64_000_000}
    work = Path(tempfile.mkdtemp(prefix="sr-cluster-bench-"))
    try:
        make_inputs(work / "in", args.count, args.size)

        def plan(name: str):
            return plan_batch([work / "in"], work / name, options, scale=scale, model=entry.name)[0]

        started = time.perf_counter()
        model = library.load(entry)
        load = time.perf_counter() - started
        started = time.perf_counter()
        plain = run_job(batch_job(plan("plain"), model, options, **policy))
        plain_s = time.perf_counter() - started
        rows = [("plain batch", load, plain_s, len(plain.written))]
        for workers in args.workers:
            started = time.perf_counter()
            with connect(ClusterSpec(None, workers)) as (client, threads):
                start_up = time.perf_counter() - started
                started = time.perf_counter()
                job = cluster_batch_job(
                    plan(f"local{workers}"), entry, options, client=client, threads=threads, **policy
                )
                report = run_job(job)
                rows.append(
                    (
                        f"--cluster local:{workers}",
                        start_up,
                        time.perf_counter() - started,
                        len(report.written),
                    )
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"{args.count} photos (longest side {args.size or 481}), {args.model}, cpu, {args.precision}, "
          f"backend {args.backend}, {os.cpu_count()} cores; settings used: {plain.settings}")  # fmt: skip
    print("start-up: the model load for the plain batch, spawning the workers for a cluster")
    header = ("run", "start-up s", "batch s", "written", "files/s", "× plain", "extra s/file")
    print(f"{header[0]:<20} " + " ".join(f"{name:>{len(name) + 1}}" for name in header[1:]))
    for name, start_up, seconds, written in rows:
        rate = args.count / seconds
        print(
            f"{name:<20} {start_up:>11.2f} {seconds:>8.2f} {written:>8} {rate:>8.2f} "
            f"{plain_s / seconds:>8.2f} {(seconds - plain_s) / args.count:>13.3f}"
        )
    for line in busy_processes():
        print(f"busy: {line}")


if __name__ == "__main__":
    main()
