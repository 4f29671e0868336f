"""Measuring for gui_responsiveness.py: the heartbeat, the machine probe, --profile's profiler and sampler."""

from __future__ import annotations

import functools
import gc
import importlib
import inspect
import pkgutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shiboken6
from driving import run_for
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication

HEARTBEAT_MS = 10
GOAL_GAP_MS = 50.0
TAIL_S = 0.5


# ----------------------------------------------------------------------------------------- measuring


class Heartbeat(QObject):
    """A 10 ms precise timer on the GUI thread: a gap between ticks is a time the thread was busy."""

    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self.tick)
        self.ticks: list[float] = []
        self.active = False  # read by StallProbe's thread

    def tick(self) -> None:
        self.ticks.append(time.monotonic())

    @contextmanager
    def running(self) -> Iterator[list[float]]:
        """Tick while the block runs and TAIL_S after it; then the gaps (ms) are in the yielded list."""
        gaps: list[float] = []
        self.ticks = [time.monotonic()]
        self.timer.start()
        self.active = True
        yield gaps
        run_for(TAIL_S)
        self.active = False
        self.timer.stop()
        self.tick()
        gaps.extend(np.diff(self.ticks) * 1000)


@dataclass
class Row:
    """One scenario's measuring windows (one per repeat): the heartbeat's gaps and the machine's worst."""

    scenario: str
    seconds: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    worst_each: list[float] = field(default_factory=list)
    machine_each: list[float] = field(default_factory=list)

    def add(self, seconds: float, gaps: list[float], machine_worst: float) -> None:
        self.seconds.append(seconds)
        self.gaps.extend(gaps)
        self.worst_each.append(max(gaps))
        self.machine_each.append(machine_worst)

    def cells(self) -> list[str]:
        gaps = np.array(self.gaps)
        worst = gaps.max()

        def machine(gap: float) -> str:
            return f"{gap:.0f}" if gap > MACHINE_REPORTS_MS else f"<{MACHINE_REPORTS_MS:.0f}"

        return [
            self.scenario,
            f"{statistics.median(self.seconds):.1f}",
            str(len(gaps)),
            f"{np.median(gaps):.1f}",
            f"{np.percentile(gaps, 99):.1f}",
            ", ".join(f"{gap:.0f}" for gap in self.worst_each),
            "yes" if worst <= GOAL_GAP_MS else "**no**",
            ", ".join(machine(gap) for gap in self.machine_each),
        ]


@dataclass
class Call:
    name: str
    start: float
    seconds: float


@dataclass
class GuiProfiler:
    """--profile: what the GUI thread spent its time on.

    Every method of sr_studio.ui's QObject classes is wrapped and timed when it runs on the GUI thread
    (slots, and Python overrides such as paintEvent); and every event Qt delivers there that takes over
    EVENT_MS is recorded with its receiver, so C++ work (a QTableWidget painting its cells) shows too.
    """

    EVENT_MS = 5.0
    calls: list[Call] = field(default_factory=list)
    events: list[Call] = field(default_factory=list)
    collections: list[Call] = field(default_factory=list)  # garbage collections, any thread
    _collecting: float = 0.0

    def install(self) -> int:
        import sr_studio.ui as package

        gc.callbacks.append(self._collection)
        gui_thread = threading.get_ident()
        wrapped = 0
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for klass in vars(module).values():
                if not (inspect.isclass(klass) and klass.__module__ == module.__name__):
                    continue
                if not issubclass(klass, QObject):
                    continue
                for name, value in list(vars(klass).items()):
                    if inspect.isfunction(value) and not name.startswith("__"):
                        setattr(klass, name, self._timed(f"{klass.__name__}.{name}", value, gui_thread))
                        wrapped += 1
        return wrapped

    def _collection(self, phase: str, info: dict[str, int]) -> None:
        """A collection holds the GIL throughout, whichever thread runs it: every Python thread waits."""
        if phase == "start":
            self._collecting = time.monotonic()
            return
        where = "GUI thread" if threading.current_thread() is threading.main_thread() else "a worker"
        label = f"generation {info['generation']} in {where}"
        self.collections.append(Call(label, self._collecting, time.monotonic() - self._collecting))

    def _timed(self, label: str, function: Callable[..., Any], gui_thread: int) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != gui_thread:
                return function(*args, **kwargs)
            start = time.monotonic()
            try:
                return function(*args, **kwargs)
            finally:
                self.calls.append(Call(label, start, time.monotonic() - start))

        return timed

    def application(self) -> QApplication:
        """A QApplication whose `notify` times every event delivered on the GUI thread."""
        profiler = self
        gui_thread = threading.get_ident()

        class TimedApplication(QApplication):
            def notify(self, receiver: QObject, event: QEvent) -> bool:
                kind = event.type().name
                start = time.monotonic()
                try:
                    return super().notify(receiver, event)
                finally:
                    took = time.monotonic() - start
                    if took * 1000 > profiler.EVENT_MS and threading.get_ident() == gui_thread:
                        profiler.events.append(Call(f"{kind} → {_describe(receiver)}", start, took))

        return TimedApplication([sys.argv[0]])

    def report(self, windows: list[tuple[str, float, float, list[float]]]) -> None:
        print("\nslowest GUI-thread work per measuring window (--profile; inclusive, nested calls overlap):")
        for name, start, end, _ in windows:
            for label, calls in (
                ("methods", self.calls),
                ("events", self.events),
                ("garbage collections", self.collections),
            ):
                inside = [call for call in calls if start <= call.start <= end]
                slowest = sorted(inside, key=lambda call: call.seconds, reverse=True)[:4]
                listed = ", ".join(f"{call.name} {call.seconds * 1000:.0f} ms" for call in slowest)
                print(f"  {name} — {label}: {listed or 'none'}")


def _describe(receiver: QObject) -> str:
    """Our widget's class ("SampleGrid"), or a Qt child's with its parent's ("QWidget in SampleGrid")."""
    if not shiboken6.isValid(receiver):
        return "(deleted)"
    name = type(receiver).__name__
    parent = receiver.parent()
    return f"{name} in {type(parent).__name__}" if name.startswith("Q") and parent is not None else name


MACHINE_PROBE = """
import os, sys, threading, time
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
last = time.monotonic()
while True:
    time.sleep(0.005)
    now = time.monotonic()
    if (now - last) * 1000 > %(least)s:
        print(now, (now - last) * 1000, flush=True)
    last = now
"""
MACHINE_REPORTS_MS = 15.0  # the machine probe reports only its gaps longer than this


class MachineProbe:
    """A separate process waking every 5 ms: its late wake-ups are the machine's load, not the app's."""

    def __init__(self) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-c", MACHINE_PROBE % {"least": MACHINE_REPORTS_MS}],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.gaps: list[tuple[float, float]] = []  # (when, gap ms), filled by stop()

    def stop(self) -> None:
        output, _ = self._child.communicate("")
        self.gaps = [(float(at), float(gap)) for at, gap in (line.split() for line in output.splitlines())]

    def worst(self, start: float, end: float) -> float:
        return max((gap for at, gap in self.gaps if start <= at <= end), default=0.0)


def _stack(frame: Any, depth: int = 4) -> str:
    """The innermost `depth` frames as "function (file:line) ← caller …"."""
    parts = []
    while frame is not None and len(parts) < depth:
        code = frame.f_code
        parts.append(f"{code.co_name} ({Path(code.co_filename).name}:{frame.f_lineno})")
        frame = frame.f_back
    return " ← ".join(parts)


class StallSampler:
    """--profile: a Python thread waking every 5 ms; whenever the heartbeat is over STALL_MS late it records
    the GUI thread's stack and the other threads'. Its own late wake-ups are what the GIL and the CPU
    cost any Python thread of this process (compare with the machine probe's)."""

    STALL_MS = 30.0

    def __init__(self, heartbeat: Heartbeat) -> None:
        self.heartbeat = heartbeat
        self.stalls: list[tuple[float, str, list[str]]] = []
        self.gaps: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        gui, me = threading.main_thread().ident, threading.get_ident()
        last = time.monotonic()
        while not self._stop.is_set():
            time.sleep(0.005)
            now = time.monotonic()
            self.gaps.append((now, (now - last) * 1000))
            last = now
            ticks = self.heartbeat.ticks
            if self.heartbeat.active and ticks and (now - ticks[-1]) * 1000 > self.STALL_MS:
                frames = sys._current_frames()
                others = [_stack(frame, 3) for tid, frame in frames.items() if tid not in (gui, me)]
                self.stalls.append((now, _stack(frames.get(gui)), others))
                del frames  # a frame kept alive keeps its locals: a QPainter must end with its paintEvent

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def report(self, name: str, start: float, end: float) -> None:
        worst = max((gap for at, gap in self.gaps if start <= at <= end), default=0.0)
        stalls = [stall for stall in self.stalls if start <= stall[0] <= end]
        print(
            f"  {name}: longest gap of a Python thread here {worst:.0f} ms; "
            f"{len(stalls)} samples with the heartbeat over {self.STALL_MS:.0f} ms late"
        )
        for label, stacks in (
            ("GUI thread", [gui for _, gui, _ in stalls]),
            ("other threads", [other for _, _, others in stalls for other in others]),
        ):
            for stack, count in Counter(stacks).most_common(3):
                print(f"      {label} ×{count}: {stack}")
