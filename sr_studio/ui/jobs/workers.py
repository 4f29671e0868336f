"""Running core jobs off the GUI thread: each job is a generator driven in a QThreadPool worker.

The worker turns the job's `Progress` events into Qt signals (delivered on the GUI thread by Qt's queued
connections), checks nothing itself — cancellation is the job's own `CancelToken` — and ends with exactly
one of `finished(result)`, `failed(message)` or `cancelled()`. Errors a user can act on arrive as their
one-line message; anything else is logged with its traceback and shown as one line naming the log.

Tests pass `SynchronousPool`, which runs a job at once on the calling thread (Picard's trick), so a test
can drive the GUI without timing races; the signals then arrive before `start_job` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Protocol

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from sr_studio.core.errors import Cancelled, SRStudioError
from sr_studio.core.jobs import CancelToken, Progress
from sr_studio.core.logs import log_exception

JobFactory = Callable[[CancelToken], Generator[Progress, None, Any]]


class Pool(Protocol):
    def start(self, runnable: QRunnable) -> None: ...


class JobHandle(QObject):
    """The GUI's view of one running job: its signals and the way to cancel it."""

    progress = Signal(object)  # Progress
    finished = Signal(object)  # the job's return value
    failed = Signal(str)  # one line for the user
    cancelled = Signal()
    ended = Signal()  # after any of the three endings, for clean-up

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.token = CancelToken()
        self.running = True

    def cancel(self) -> None:
        """Ask the job to stop at its next unit of work; `cancelled` follows."""
        self.token.cancel()


class _Runner(QRunnable):
    def __init__(self, factory: JobFactory, handle: JobHandle) -> None:
        super().__init__()
        self.factory = factory
        self.handle = handle
        self.setAutoDelete(True)

    def run(self) -> None:
        handle = self.handle
        try:
            job = self.factory(handle.token)
            while True:
                try:
                    event = next(job)
                except StopIteration as stop:
                    handle.finished.emit(stop.value)
                    break
                handle.progress.emit(event)
        except Cancelled:
            handle.cancelled.emit()
        except SRStudioError as error:
            handle.failed.emit(str(error))
        except MemoryError:
            handle.failed.emit("not enough memory for this job; try a smaller tile size or image")
        except Exception as error:  # a bug: the user gets one line, the log gets the traceback
            where = log_exception(error)
            handle.failed.emit(f"internal error: {error.__class__.__name__}: {error} (details in {where})")
        finally:
            handle.running = False
            handle.ended.emit()


class SynchronousPool:
    """A pool that runs each job at once on the calling thread: deterministic GUI tests."""

    def start(self, runnable: QRunnable) -> None:
        runnable.run()


_live: set[JobHandle] = set()


def start_job(factory: JobFactory, pool: Pool | None = None) -> JobHandle:
    """Run `factory(token)`'s generator on `pool` (the global thread pool by default).

    The handle is kept alive until the job ends, so callers may drop their reference.
    Connect to its signals before the event loop runs again (a real pool) — with `SynchronousPool`
    connect through `prepare_job` instead, as the job runs inside `start`.
    """
    handle = prepare_job()
    launch(handle, factory, pool)
    return handle


def prepare_job() -> JobHandle:
    """A handle to connect signals to before `launch` starts the job."""
    handle = JobHandle()
    _live.add(handle)
    handle.ended.connect(lambda: _live.discard(handle))
    return handle


def launch(handle: JobHandle, factory: JobFactory, pool: Pool | None = None) -> None:
    """Start `factory`'s job on `pool`, reporting through `handle`."""
    (pool or QThreadPool.globalInstance()).start(_Runner(factory, handle))
