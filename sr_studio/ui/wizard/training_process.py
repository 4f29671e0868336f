"""The training job as seen from the GUI: a child process whose stdout is one JSON event per line.

A child, not a thread, so a crash or an out-of-memory kill in training cannot take the app down and GPU
memory is freed when it exits. Stopping asks the job to checkpoint and report `stopped`: by SIGTERM
(QProcess.terminate), or on Windows, where terminate() posts a WM_CLOSE that a console child never
sees, by a file named `stop` in the run folder, which the job watches.

This module also reads the run folders left behind (by a crash, or a wizard closed mid-run), so they can
be offered for resuming. No torch here: the job imports it, the GUI never does.
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

from sr_studio.train.child import child_environment, training_command
from sr_studio.train.protocol import (  # the job's own names; that module has no torch
    CHECKPOINT,
    CHECKPOINT_EVENT,
    CONFIG,
    DONE,
    EVENTS,
    STOP_FILE,
    STOPPED,
    TERMINAL_EVENTS,
)

_TAIL_BYTES = 8192  # enough of events.jsonl's end to hold its last event


def parse_line(line: str) -> dict[str, Any] | None:
    """The event a line holds, or None for anything else (a warning, a stray print)."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and isinstance(value.get("event"), str) else None


class LineSplitter:
    """Bytes in, whole lines out: a pipe delivers chunks that may end in the middle of a line."""

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, data: bytes | bytearray | memoryview) -> list[str]:
        *lines, self._partial = (self._partial + bytes(data)).split(b"\n")
        return [_decode(line) for line in lines]

    def flush(self) -> list[str]:
        """The unterminated last line, if any (a process that exits mid-line)."""
        rest, self._partial = self._partial, b""
        return [_decode(rest)] if rest.strip() else []


def _decode(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").rstrip("\r")


def _child_environment() -> QProcessEnvironment:
    environment = QProcessEnvironment()
    for name, value in child_environment(os.environ).items():
        environment.insert(name, value)
    return environment


class TrainingProcess(QObject):
    """One training (or probe) child at a time; its JSON lines become `event` signals on the GUI thread.

    `finished` comes exactly once per `start`, after every event has been delivered, also when the program
    could not be started (exit code -1). `failed` comes before it when the job ended without saying why
    (no `done`, `stopped`, `error` or, for a probe, `probe` event): it could not start, crashed, or was
    killed.
    """

    event = Signal(dict)
    message = Signal(str)  # a line that is not an event: a library warning on stderr, a stray print
    finished = Signal(int)  # exit code: 0 done, 1 error, 2 bad config, 130 stopped, -1 crashed/never ran
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._process: QProcess | None = None
        self._stdout = LineSplitter()
        self._stderr = LineSplitter()
        self._stderr_tail: deque[str] = deque(maxlen=5)
        self._run_dir: Path | None = None
        self.last_event: str | None = None
        self.stop_requested = False

    @property
    def running(self) -> bool:
        return self._process is not None

    @staticmethod
    def command(args: Sequence[str]) -> tuple[str, list[str]]:
        """Program and arguments that run `sr_studio.train ARGS` (the frozen app runs itself)."""
        return training_command(args)

    def start(self, args: Sequence[str], *, run_dir: Path | None = None) -> None:
        """Start `python -m sr_studio.train ARGS` (or the frozen equivalent); `run_dir`, the job's run
        folder, is where `stop` leaves its stop file on Windows (a probe has none: it is only killed)."""
        if self.running:
            raise RuntimeError("a training process is already running")
        self._run_dir = run_dir
        if run_dir is not None:
            (run_dir / STOP_FILE).unlink(missing_ok=True)  # left by an earlier stop: not meant for this job
        self._stdout, self._stderr = LineSplitter(), LineSplitter()
        self._stderr_tail.clear()
        self.last_event, self.stop_requested = None, False
        program, arguments = self.command(args)
        process = QProcess(self)
        process.setProgram(program)
        process.setArguments(arguments)
        process.setProcessEnvironment(_child_environment())
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        process.start()
        process.closeWriteChannel()

    def stop(self) -> None:
        """Ask the job to checkpoint and exit; `stopped` and `finished(130)` follow."""
        if self._process is None:
            return
        self.stop_requested = True
        if sys.platform == "win32" and self._run_dir is not None:
            self._run_dir.mkdir(parents=True, exist_ok=True)  # a job stopped before it made its folder
            (self._run_dir / STOP_FILE).touch()
        else:
            self._process.terminate()

    def kill(self) -> None:
        """End the child at once (a probe, which has nothing to save; or a job that does not stop)."""
        if self._process is not None:
            self.stop_requested = True
            self._process.kill()

    def wait(self, msecs: int) -> bool:
        """Block until the child has ended (its events and `finished` are delivered meanwhile); True if it
        did. For closing only: the GUI thread should otherwise never wait."""
        process = self._process
        return process is None or process.waitForFinished(msecs) or self._process is None

    def _read_stdout(self) -> None:
        if self._process is not None:
            self._lines(self._stdout.feed(self._process.readAllStandardOutput().data()), stderr=False)

    def _read_stderr(self) -> None:
        if self._process is not None:
            self._lines(self._stderr.feed(self._process.readAllStandardError().data()), stderr=True)

    def _lines(self, lines: list[str], *, stderr: bool) -> None:
        for line in lines:
            event = None if stderr else parse_line(line)
            if event is not None:
                self.last_event = event["event"]
                self.event.emit(event)
            elif line.strip():
                if stderr:
                    self._stderr_tail.append(line.strip())
                self.message.emit(line.rstrip())

    def _on_finished(self, exit_code: int, status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        self._read_stderr()
        self._lines(self._stdout.flush(), stderr=False)
        self._lines(self._stderr.flush(), stderr=True)
        crashed = status == QProcess.ExitStatus.CrashExit
        self._end(
            -1 if crashed else exit_code, "crashed or was killed" if crashed else f"exit code {exit_code}"
        )

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            self._end(-1, f"could not be started: {self._process.errorString()}")

    def _end(self, exit_code: int, why: str) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.deleteLater()
        if self.last_event not in TERMINAL_EVENTS:
            detail = f": {self._stderr_tail[-1]}" if self._stderr_tail else ""
            self.failed.emit(f"the training job ended without finishing ({why}){detail}")
        self.finished.emit(exit_code)


# --------------------------------------------------------------------------------------- run folders
@dataclass(frozen=True)
class UnfinishedRun:
    """A run folder with a checkpoint whose job never reported `done`: it can be resumed."""

    run_dir: Path
    name: str
    task: str
    step: int
    steps: int

    def describe(self) -> str:
        kind = "upscaler" if self.task == "upscale" else "GAN"
        return f"{self.name} ({kind}) — step {self.step} of {self.steps} — {self.run_dir.name}"


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    """Every event a run has logged, for replaying its curves when it is resumed."""
    try:
        text = (run_dir / EVENTS).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [event for line in text.splitlines() if (event := parse_line(line)) is not None]


def _last_events(run_dir: Path) -> list[dict[str, Any]]:
    """The events in the last few KB of events.jsonl: `done` is always last, so this is all we need."""
    try:
        with (run_dir / EVENTS).open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - _TAIL_BYTES))
            tail = file.read()
    except OSError:
        return []
    lines = tail.decode("utf-8", errors="replace").splitlines()
    return [event for line in lines if (event := parse_line(line)) is not None]


def unfinished_runs(root: Path) -> list[UnfinishedRun]:
    """Runs under `root` that hold a checkpoint but never finished, newest first."""
    import tomllib

    found = []
    folders = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    for run_dir in sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True):
        if not (run_dir / CHECKPOINT).is_file():
            continue
        events = _last_events(run_dir)
        if any(event["event"] == DONE for event in events):
            continue
        try:
            config = tomllib.loads((run_dir / CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        steps = config.get("train", {}).get("steps", 0)
        step = max((e.get("step", 0) for e in events if e["event"] in (CHECKPOINT_EVENT, STOPPED)), default=0)
        found.append(
            UnfinishedRun(
                run_dir, str(config.get("name", run_dir.name)), config.get("task", "upscale"), step, steps
            )
        )
    return found
