"""Stop requests for a training job, importable before torch so a signal is never lost at start-up.

POSIX faces send SIGTERM/SIGINT. Windows has no SIGTERM for console children, so a file named `stop` in the
run folder asks the same (the loop looks for it at every step).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from sr_studio.train.protocol import STOP_FILE


class StopRequest:
    """Set by SIGTERM/SIGINT (or the run folder's stop file); the loop checkpoints and exits."""

    def __init__(self) -> None:
        self._signalled = False
        self._created = time.time()
        self.run_dir: Path | None = None

    def watch(self, run_dir: Path) -> None:
        """Follow `run_dir`'s stop file; one left from before this process started is spent, so it goes."""
        stop_file = run_dir / STOP_FILE
        try:
            if stop_file.stat().st_mtime < self._created:
                stop_file.unlink()
        except FileNotFoundError:
            pass
        self.run_dir = run_dir

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self._signalled = True

    @property
    def requested(self) -> bool:
        return self._signalled or (self.run_dir is not None and (self.run_dir / STOP_FILE).exists())
