"""What a batch does with odd, broken and hostile files: outcome counts per input class, and the slowest
answer per class (a refusal should take well under 10 s; a hang would never come back).

    python benchmarks/hostile_corpus.py [--model srresnet-x4] [--device cpu]

The corpus is `tests/corpus.py`'s, written to a temporary folder and run through the same batch job as
`sr-studio upscale` (files in, outputs written atomically, every failure one line). "crashed" counts a
failure whose line is not a one-line user message (a traceback or an internal error); "hung" cannot be
counted from inside, so the run itself is the proof: it prints a row for every class.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.corpus, beside the package

from sr_studio.core.batch import OutputOptions, batch_job, plan_batch
from sr_studio.core.library import ModelLibrary
from tests.corpus import write_corpus

CLASSES = (
    ("cut-", "truncated (6 formats × 8 cut points)"),
    ("mode-", "every Pillow mode"),
    ("orientation-", "EXIF orientations 1-8"),
    ("exif-", "broken EXIF"),
    ("icc-", "garbage ICC profiles"),
    ("bomb", "decompression bombs"),
    ("empty", "zero-byte files"),
    ("text", "text / random bytes"),
    ("random", "text / random bytes"),
)


def input_class(name: str) -> str:
    for prefix, label in CLASSES:
        if name.startswith(prefix):
            return label
    return "shapes, frames, names, APNG"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="srresnet-x4")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    library = ModelLibrary()
    model = library.load(args.model)
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus"
        write_corpus(corpus)
        out = Path(folder) / "out"
        jobs, clashes = plan_batch([corpus], out, OutputOptions(), scale=model.scale, model=args.model)
        assert not clashes, clashes  # every corpus file has an output name of its own
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        slowest: dict[str, float] = defaultdict(float)
        started, current = time.perf_counter(), None
        job = batch_job(jobs, model, OutputOptions(), device=args.device)
        while True:
            try:
                event = next(job)
            except StopIteration as stop:
                report = stop.value
                break
            status = event.info.get("status")
            if status is None:  # a file starts, or its tiles progress
                if "part" not in event.info:
                    current, started = event.info["file"], time.perf_counter()
                continue
            label = input_class(Path(event.info["file"]).name)
            error = event.info.get("error", "")
            crashed = status == "failed" and ("internal error" in error or "\n" in error)
            outcome = "crashed" if crashed else {"written": "processed", "failed": "refused"}[status]
            counts[label][outcome] += 1
            if current == event.info["file"]:
                slowest[label] = max(slowest[label], time.perf_counter() - started)
    print(f"model {args.model}, device {args.device}; {len(jobs)} files, {len(report.written)} written")
    print("| input class | files | processed | refused | crashed | hung | slowest (s) |")
    print("|---|---|---|---|---|---|---|")
    for label in dict.fromkeys([label for _, label in CLASSES] + ["shapes, frames, names, APNG"]):
        row = counts[label]
        total = sum(row.values())
        print(
            f"| {label} | {total} | {row['processed']} | {row['refused']} | {row['crashed']} | 0 |"
            f" {slowest[label]:.2f} |"
        )


if __name__ == "__main__":
    main()
