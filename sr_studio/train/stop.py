"""Stop requests for a training job, importable before torch so a signal is never lost at start-up.

POSIX faces send SIGTERM/SIGINT. Windows has no SIGTERM for console children, so a file named `stop` in the
run folder asks the same (the loop looks for it at every step).
"""

from __future__ import annotations

import signal
from pathlib import Path

STOP_FILE = "stop"


class StopRequest:
    """Set by SIGTERM/SIGINT (or the run folder's stop file); the loop checkpoints and exits."""

    def __init__(self) -> None:
        self._signalled = False
        self.run_dir: Path | None = None

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self._signalled = True

    @property
    def requested(self) -> bool:
        return self._signalled or (self.run_dir is not None and (self.run_dir / STOP_FILE).exists())
