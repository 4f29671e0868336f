"""A killed job loses nothing: `sr-studio upscale` SIGKILLed at random moments and re-run each time ends with
every output complete and equal to an uninterrupted run's, and no temp file left behind."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from sr_studio.core.ledger import LEDGER_NAME, read_ledger
from tests.pictures import textured

KILLS, IMAGES = 20, 60


def command(folder: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "sr_studio", "upscale", str(folder), "-o", str(out), "--model", "smooth-x2",
            "--device", "cpu", "--precision", "fp32"]  # fmt: skip


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_sigkill_at_random_moments_then_rerun_loses_no_output(tmp_path, library, data_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(IMAGES):
        Image.fromarray(textured(200, 300, seed=index)).save(folder / f"{index:02d}.png")
    env = {**os.environ, "SR_STUDIO_DATA_DIR": str(data_dir)}
    reference = tmp_path / "reference"
    started = time.time()
    subprocess.run(command(folder, reference), env=env, check=True, capture_output=True, timeout=300)
    written = sorted(path.stat().st_mtime - started for path in reference.glob("*.png"))
    first, last = written[0], written[-1]  # the batch's span on this machine, after start-up

    out = tmp_path / "out"
    rng = random.Random(20)  # seeded moments, scaled to this machine's speed: most while writing
    mid_batch = 0
    for _ in range(KILLS):
        moment = rng.uniform(0, first) if rng.random() < 0.2 else rng.uniform(0.9 * first, last)
        job = subprocess.Popen(
            command(folder, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(moment)
        job.kill()
        job.wait(timeout=60)
        done = len(list(out.glob("*.png"))) if out.exists() else 0
        mid_batch += 0 < done < IMAGES and job.returncode == -9
    final = subprocess.run(command(folder, out), env=env, capture_output=True, text=True, timeout=300)

    assert final.returncode == 0, final.stderr
    assert mid_batch >= 1  # the kills did land while outputs were being written
    expected = sorted(p.name for p in reference.glob("*.png"))
    assert sorted(p.name for p in out.iterdir()) == [*expected, LEDGER_NAME]  # every output, no temp file
    for name in expected:
        assert np.array_equal(pixels(out / name), pixels(reference / name)), name
    last_run = read_ledger(out / LEDGER_NAME)[-IMAGES:]  # the killed runs' fates come before
    assert sorted(Path(line["output"]).name for line in last_run) == expected
    assert {line["fate"] for line in last_run} <= {"written", "skipped"}
