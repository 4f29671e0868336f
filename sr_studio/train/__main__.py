"""`python -m sr_studio.train CONFIG.toml` — the same job `sr-studio train` and the wizard start."""

from __future__ import annotations

import sys

from sr_studio.train.cli import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
