"""Check an installed SR Studio as its user would run it: the bundle's executable or a wheel's `sr-studio`.

    .venv/bin/python packaging/check_install.py dist/sr-studio/sr-studio
    .venv/bin/python packaging/check_install.py /tmp/wheel-venv/bin/sr-studio

It runs the program's `--self-test`, lists its models, samples two GAN pictures, upscales a picture and
compares the pixels with this environment's own `sr-studio` (the unfrozen package: ≥ 50 dB), checks that
a picture on the command line opens the window (it is still running after a few seconds), and times
start-up (`--version`, median of three). One line per check, exit status 0 when all pass.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from sr_studio.selftest import MIN_PSNR_DB, psnr

BUILTIN_MODELS = ("dcgan-emoji-64", "srgan-x4", "srresnet-x2", "srresnet-x4")
WINDOW_SECONDS = 8.0


def run(command: list[str], timeout: float = 600) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    return done, time.perf_counter() - start


def test_picture(path: Path) -> Path:
    """A 96×72 picture with edges, gradients and noise (no file from outside the repository needed)."""
    rows, columns = np.mgrid[0:72, 0:96]
    noise = np.random.default_rng(7).integers(0, 40, (72, 96, 3))
    pixels = np.stack([columns * 2.5, rows * 3.0, ((rows // 12 + columns // 12) % 2) * 180.0], axis=-1)
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(path)
    return path


def check_upscale(program: str, reference_program: str, folder: Path) -> str:
    picture = test_picture(folder / "picture.png")
    outputs = []
    for label, command in (("installed", program), ("reference", reference_program)):
        target = folder / f"{label}.png"
        options = ["--device", "cpu", "--precision", "fp32", "--model", "srresnet-x4"]
        done, _ = run([command, "upscale", str(picture), "-o", str(target), *options])
        if done.returncode != 0:
            raise AssertionError(f"{label} upscale failed: {done.stderr.strip()[-300:]}")
        outputs.append(np.asarray(Image.open(target).convert("RGB")))
    score = psnr(*outputs)
    if score < MIN_PSNR_DB:
        raise AssertionError(f"the installed program's pixels differ: {score:.1f} dB < {MIN_PSNR_DB:.0f}")
    return "identical pixels" if score == float("inf") else f"{score:.1f} dB"


def check_window(program: str, folder: Path) -> str:
    """A picture on the command line opens the window; a missing module or plugin would end it at once."""
    environment = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    environment["SR_STUDIO_DATA_DIR"] = str(folder / "data")
    environment["XDG_CONFIG_HOME"] = str(folder / "config")
    picture = test_picture(folder / "window.png")
    child = subprocess.Popen(
        [program, str(picture)], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        child.wait(WINDOW_SECONDS)
        raise AssertionError(f"the app ended within {WINDOW_SECONDS:.0f} s: {child.stdout.read()[-300:]}")
    except subprocess.TimeoutExpired:
        pass
    child.terminate()
    child.wait(30)
    return f"running after {WINDOW_SECONDS:.0f} s on {environment['QT_QPA_PLATFORM']}, closed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("program", help="the installed executable: dist/sr-studio/sr-studio, or a venv's")
    parser.add_argument("--reference", default=str(Path(sys.executable).with_name("sr-studio")))
    parser.add_argument("--expect-openvino", action="store_true", help="fail when OpenVINO does not run")
    args = parser.parse_args()
    program = str(Path(args.program).resolve())
    failures = 0

    def report(name: str, check) -> None:
        nonlocal failures
        start = time.perf_counter()
        try:
            detail, status = check(), "ok"
        except (AssertionError, OSError, subprocess.SubprocessError) as error:
            detail, status = str(error), "FAIL"
            failures += 1
        print(f"{status:4}  {name:<10}{detail} ({time.perf_counter() - start:.1f} s)", flush=True)

    def self_test() -> str:
        done, _ = run([program, "--self-test"])
        if done.returncode != 0:
            raise AssertionError("\n" + done.stdout + done.stderr)
        return done.stdout.strip().splitlines()[-1]

    def models() -> str:
        done, _ = run([program, "models", "list"])
        missing = [name for name in BUILTIN_MODELS if name not in done.stdout]
        if done.returncode != 0 or missing:
            raise AssertionError(f"models list lacks {missing}: {done.stderr.strip()[-200:]}")
        return "the four built-in models listed"

    def openvino(folder: Path) -> str:
        picture = test_picture(folder / "openvino.png")
        command = [program, "upscale", str(picture), "-o", str(folder / "openvino_x4.png"), "--json"]
        done, _ = run([*command, "--backend", "openvino", "--model", "srresnet-x4", "--device", "cpu"])
        if done.returncode != 0:
            raise AssertionError(f"upscale --backend openvino failed: {done.stderr.strip()[-300:]}")
        result = json.loads(done.stdout)
        used = result["results"][0] if "results" in result else result
        if used.get("backend") != "openvino":
            notes = "; ".join(str(n.get("note", n)) for n in used.get("notes") or [])  # {"file", "note"}
            if args.expect_openvino:
                raise AssertionError(f"OpenVINO did not run: {notes}")
            return f"not in this install, torch ran instead ({notes})"
        return f"ran in {used.get('precision')}"

    def sample(folder: Path) -> str:
        done, _ = run([program, "sample", "-o", str(folder / "samples"), "-n", "2", "--device", "cpu"])
        written = sorted((folder / "samples").glob("*.png"))
        if done.returncode != 0 or len(written) != 2:
            raise AssertionError(f"sample wrote {len(written)} of 2 pictures: {done.stderr.strip()[-200:]}")
        return f"2 samples written ({written[0].name}, …)"

    with tempfile.TemporaryDirectory(prefix="sr-studio-check-") as scratch:
        folder = Path(scratch)
        report("self-test", self_test)
        report("models", models)
        report("upscale", lambda: check_upscale(program, args.reference, folder))
        report("sample", lambda: sample(folder))
        report("openvino", lambda: openvino(folder))
        report("window", lambda: check_window(program, folder))
    starts = [run([program, "--version"])[1] for _ in range(3)]
    print(f"start-up (--version), median of 3: {statistics.median(starts):.2f} s")
    print("install check: " + ("OK" if not failures else f"FAILED ({failures})"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
