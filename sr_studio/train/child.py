"""How a face starts the training job as a child process: the program, its arguments and environment.

One definition for the wizard (QProcess) and the self-test (subprocess). A frozen app has no Python to
run `-m`: it runs its own executable with the `train` subcommand. No torch here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import sr_studio


def training_command(args: Sequence[str]) -> tuple[str, list[str]]:
    """Program and arguments that run `sr_studio.train ARGS`."""
    if getattr(sys, "frozen", False):
        return sys.executable, ["train", *args]
    return sys.executable, ["-m", "sr_studio.train", *args]


def child_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """`environment` with our package first on PYTHONPATH, so the child runs the same code even from a
    source tree that was never installed; unbuffered so warnings arrive as they happen."""
    result = dict(environment)
    if not getattr(sys, "frozen", False):
        source = str(Path(sr_studio.__file__).resolve().parent.parent)
        existing = result.get("PYTHONPATH", "")
        result["PYTHONPATH"] = os.pathsep.join(p for p in (source, existing) if p)
    result["PYTHONUNBUFFERED"] = "1"
    result["PYTHONIOENCODING"] = "utf-8"
    return result
