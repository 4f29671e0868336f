"""`sr-studio --self-test`: proof that this install, a wheel or the PyInstaller bundle, has everything.

Each check uses the installed program's own parts: its built-in models and cards, torch, its Qt platform
plugins, and its training child process (for a frozen app, the executable itself). The upscale is
compared with a reference that the unfrozen package made (`packaging/make_selftest_reference.py`), so a
bundle that computes differently, or lost a data file, fails here and not on a user's picture. It runs in
a scratch folder and never touches the user's settings or models; one line per check, then a verdict.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from sr_studio.core import paths
from sr_studio.core.errors import first_line

SELFTEST_DIR = "selftest"
SAMPLE = "sample.png"
REFERENCE = "reference.png"
REFERENCE_CARD = "reference.json"  # the model (name and weights' sha256) and settings that made it
MIN_PSNR_DB = 50.0
TRAIN_STEPS = 3


class CheckFailed(Exception):
    """A check ran and found the install wrong; its message is the line the user sees."""


@dataclass(frozen=True)
class Outcome:
    name: str
    passed: bool
    detail: str
    seconds: float


def selftest_files() -> Path:
    return paths.resources_dir() / SELFTEST_DIR


def psnr(result: np.ndarray, reference: np.ndarray) -> float:
    """PSNR over every channel of two uint8 pictures; identical ones give infinity."""
    if result.shape != reference.shape:
        raise CheckFailed(f"result is {result.shape}, the reference {reference.shape}")
    error = np.mean((result.astype(np.float64) - reference.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(255.0**2 / error))


def check_models(scratch: Path) -> str:
    from sr_studio.core.library import ModelLibrary

    library = ModelLibrary(user_dir=scratch / "models")
    builtin = [entry.name for entry in library.entries() if entry.builtin]
    if library.problems:
        raise CheckFailed("; ".join(library.problems))
    if not builtin:
        raise CheckFailed(f"no built-in models in {paths.builtin_models_dir()}")
    return f"{len(builtin)} built-in: {', '.join(builtin)}"


def check_upscale(scratch: Path) -> str:
    from sr_studio.core.images import load_image
    from sr_studio.core.library import ModelLibrary
    from sr_studio.core.upscale import upscale

    folder = selftest_files()
    made_with = json.loads((folder / REFERENCE_CARD).read_text(encoding="utf-8"))
    library = ModelLibrary(user_dir=scratch / "models")
    entry = library.find(made_with["model"])
    if entry.card.sha256 != made_with["sha256"]:
        raise CheckFailed(f"the reference was made with other weights of {entry.name}: remake it")
    model = library.load(entry)
    result = upscale(load_image(folder / SAMPLE), model, **made_with["settings"])
    score = psnr(result.picture.pixels, load_image(folder / REFERENCE).pixels)
    if score < MIN_PSNR_DB:
        raise CheckFailed(f"{entry.name} differs from the reference: {score:.1f} dB < {MIN_PSNR_DB:.0f}")
    match = "identical pixels" if score == float("inf") else f"{score:.1f} dB ≥ {MIN_PSNR_DB:.0f}"
    return f"{entry.name} on {SAMPLE} matches the reference ({match})"


def check_sample(scratch: Path) -> str:
    from sr_studio.core.library import ModelLibrary
    from sr_studio.core.sample import sample

    library = ModelLibrary(user_dir=scratch / "models")
    entry = library.default("sample")
    if entry is None:
        raise CheckFailed("no sampler in the library")
    (picture,) = sample(library.load(entry), 1, seed=0, device="cpu")
    if picture.pixels.ndim != 3 or int(picture.pixels.max()) == int(picture.pixels.min()):
        raise CheckFailed(f"{entry.name} drew a blank {picture.pixels.shape} picture")
    height, width = picture.pixels.shape[:2]
    return f"{entry.name} drew one {width}×{height} picture"


def check_training(scratch: Path) -> str:
    """A few steps of a fine-tune through the training child process, as the wizard starts it."""
    from PIL import Image

    from sr_studio.core.library import ModelLibrary
    from sr_studio.train.child import child_environment, training_command

    data = scratch / "data"
    data.mkdir()
    with Image.open(selftest_files() / SAMPLE) as picture:
        for index, turn in enumerate((None, Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.ROTATE_90)):
            (picture if turn is None else picture.transpose(turn)).save(data / f"{index}.png")
    base = ModelLibrary(user_dir=scratch / "models").default("upscale")
    if base is None:
        raise CheckFailed("no upscaler to fine-tune")
    args = ["--task", "upscale", "--name", "self-test", "--base", base.name, "--steps", str(TRAIN_STEPS)]
    args += ["--batch", "2", "--patch", "32", "--threads", "1", "--eval-every", "1000", "--data", str(data)]
    args += ["--output", str(scratch / "trained"), "--run-dir", str(scratch / "run")]
    program, arguments = training_command(args)
    child = subprocess.run(
        [program, *arguments],
        env=child_environment(os.environ),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=300,
        check=False,
    )
    events = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]
    done = [event for event in events if event.get("event") == "done"]
    if child.returncode != 0 or not done:
        said = [e.get("message", "") for e in events if e.get("event") == "error"] + child.stderr.splitlines()
        said = [line for line in said if line.strip()] or [f"exit code {child.returncode}"]
        raise CheckFailed(f"the training child failed: {said[-1]}")
    trained = ModelLibrary(builtin_dir=scratch / "trained", user_dir=scratch / "models").find("self-test")
    steps = max(event.get("step", 0) for event in events)
    return f"{steps} steps from {base.name} in a child process ({Path(program).name}), model {trained.name}"


def check_window(scratch: Path) -> str:
    """The main window, built and closed: offscreen unless QT_QPA_PLATFORM names a platform (e.g. xcb)."""
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from sr_studio.ui.app.main_window import MainWindow

    qt_messages = logging.getLogger("sr_studio.qt")
    qInstallMessageHandler(lambda _kind, _context, text: qt_messages.info(text))  # not the user's terminal
    platform = [] if os.environ.get("QT_QPA_PLATFORM") else ["-platform", "offscreen"]
    app = QApplication.instance() or QApplication([sys.argv[0], *platform])
    window = MainWindow([])
    window.show()
    app.processEvents()
    title = window.windowTitle()
    window.close()
    app.processEvents()
    return f"main window '{title}' built and closed on '{QApplication.platformName()}'"


CHECKS: tuple[tuple[str, Callable[[Path], str]], ...] = (
    ("models", check_models),
    ("upscale", check_upscale),
    ("sample", check_sample),
    ("train", check_training),
    ("window", check_window),
)


@contextmanager
def _isolated(scratch: Path) -> Iterator[None]:
    """The user's models and settings stay untouched: the library and Qt's settings point into `scratch`."""
    saved = dict(os.environ)
    os.environ[paths.DATA_DIR_VARIABLE] = str(scratch / "data-dir")
    os.environ["XDG_CONFIG_HOME"] = str(scratch / "config")
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_checks(out: TextIO) -> list[Outcome]:
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="sr-studio-self-test-") as folder, _isolated(Path(folder)):
        for name, check in CHECKS:
            scratch = Path(folder) / name
            scratch.mkdir()
            start = time.perf_counter()
            try:
                detail, passed = check(scratch), True
            except Exception as error:  # every failure is this check's line, never a traceback
                detail, passed = first_line(error), False
            outcome = Outcome(name, passed, detail, time.perf_counter() - start)
            print(f"{'ok' if passed else 'FAIL':4}  {name:<8}{detail} ({outcome.seconds:.1f} s)", file=out)
            out.flush()
            outcomes.append(outcome)
    return outcomes


def main(out: TextIO | None = None) -> int:
    """Run every check; exit status 0 when all pass, else 1."""
    out = out or sys.stdout
    start = time.perf_counter()
    outcomes = run_checks(out)
    failed = [outcome.name for outcome in outcomes if not outcome.passed]
    seconds = time.perf_counter() - start
    if failed:
        print(f"self-test: FAILED ({', '.join(failed)}; {len(outcomes)} checks, {seconds:.1f} s)", file=out)
        return 1
    print(f"self-test: OK ({len(outcomes)} checks, {seconds:.1f} s)", file=out)
    return 0
