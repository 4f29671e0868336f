"""The contract every long operation follows: yield `Progress`, check a `CancelToken` between units.

A job is a generator; `run_job` drives one to its return value for callers that want a plain function,
and `relay` passes one's events on, changed, inside another job (`result = yield from relay(job, f)`).
The GUI's worker (`ui/jobs/workers.py`) is the one other driver: it turns the events into Qt signals.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sr_studio.core.errors import Cancelled

T = TypeVar("T")
E = TypeVar("E")
F = TypeVar("F")


@dataclass(frozen=True)
class Progress:
    """What every long job yields after each unit of work (tile, file, step)."""

    done: int
    total: int
    stage: str
    eta_s: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)


class CancelToken:
    """A thread-safe flag a face sets and a job checks between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def check_cancel(cancel: CancelToken | None) -> None:
    """Raise `Cancelled` if a token was given and has been set."""
    if cancel is not None:
        cancel.raise_if_cancelled()


class EtaClock:
    """Estimates the time left from the average rate of the units finished so far.

    Work weights let units of unequal size (tiles of different areas) share one estimate.
    """

    def __init__(self, total_work: float) -> None:
        self.total_work = float(total_work)
        self.done_work = 0.0
        self._start = time.perf_counter()

    def advance(self, work: float = 1.0) -> float | None:
        """Record finished work; return the estimated seconds left, or None before any rate is known."""
        self.done_work += work
        elapsed = time.perf_counter() - self._start
        if self.done_work <= 0 or elapsed <= 0:
            return None
        return max(0.0, (self.total_work - self.done_work) * elapsed / self.done_work)


def run_job(job: Generator[E, None, T], progress: Callable[[E], None] | None = None) -> T:
    """Drive a job generator to its end, passing each progress event on; return the job's result."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(event)


def relay(job: Generator[E, None, T], convert: Callable[[E], F]) -> Generator[F, None, T]:
    """`job`'s events, each passed through `convert`, and then its result: for a job that runs another
    and speaks of its progress in its own terms."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        yield convert(event)
