"""A picture too large for memory, for real: the CLI runs under an address-space limit, so the CPU allocator
itself fails (no injected error), and the engine halves its tile until the picture fits."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import numpy as np
from PIL import Image

LIMIT = 3 << 30  # bytes of address space: torch loads, a 3000² whole-image pass does not fit


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def test_a_whole_image_pass_that_exhausts_memory_completes_in_smaller_tiles(tmp_path, library, data_dir):
    source, target = tmp_path / "big.png", tmp_path / "big_x2.png"
    rows = np.linspace(0, 255, 3000, dtype=np.uint8)
    Image.fromarray(np.stack([np.add.outer(rows, rows)] * 3, axis=2)).save(source)
    command = [sys.executable, "-m", "sr_studio", "upscale", str(source), "-o", str(target), "--model",
               "smooth-x2", "--device", "cpu", "--precision", "fp32", "--tile", "none", "--json"]  # fmt: skip
    env = {**os.environ, "SR_STUDIO_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=600, preexec_fn=limit_memory
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert 0 < json.loads(result.stdout)["tile"] < 3000  # it did run out, and went on with smaller tiles
    with Image.open(target) as image:
        assert image.size == (6000, 6000)
