"""Running core jobs off the GUI thread: each job is a generator driven in a QThreadPool worker.

The one way the UI runs a job is `start_job(factory, pool, finished=…, failed=…, …)`, or its two halves
`prepare_job` and `launch`: the slots are connected before the job starts, as superqt's
`create_worker(_connect=…)` does, so a `SynchronousPool` reaches them too. The worker turns the job's
`Progress` events into Qt signals (delivered on the GUI thread by Qt's queued connections), checks nothing
itself — cancellation is the job's own `CancelToken` — and ends with exactly one of `finished(result)`,
`errored(exception)` or `cancelled()`, then `ended()`. As in superqt's `WorkerBase`, the exception object
itself travels to the GUI thread (`errored`); there the handle logs a bug's traceback and says
`failed(message)`, the one line a user reads (`failure_message`).

`await_workers` waits for the worker threads at quit (the window cancels its jobs first), so none
outlives the app.

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
SHUTDOWN_WAIT_MS = 10_000  # at quit: a cancelled job stops within a tile; a device probe cannot be stopped
OUT_OF_MEMORY = "not enough memory for this job; try a smaller tile size or image"


class Pool(Protocol):
    def start(self, runnable: QRunnable) -> None: ...


def failure_message(error: BaseException) -> str:
    """The one line a user reads for `error`: its own for errors they can act on; for a bug, its type and
    text and where the traceback was logged."""
    if isinstance(error, SRStudioError):
        return str(error)
    if isinstance(error, MemoryError):
        return OUT_OF_MEMORY
    where = log_exception(error)
    return f"internal error: {error.__class__.__name__}: {error} (details in {where})"


class JobHandle(QObject):
    """The GUI's view of one running job: its signals and the way to cancel it."""

    progress = Signal(object)  # Progress
    finished = Signal(object)  # the job's return value
    errored = Signal(object)  # the exception that ended the job (not Cancelled), as raised
    failed = Signal(str)  # the same ending as one line for the user, said on the GUI thread
    cancelled = Signal()
    ended = Signal()  # after any of the endings, for clean-up

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.token = CancelToken()
        self.running = True
        self.errored.connect(self._say_failed)  # queued: runs on the handle's (the GUI) thread

    def cancel(self) -> None:
        """Ask the job to stop at its next unit of work; `cancelled` follows."""
        self.token.cancel()

    def _say_failed(self, error: BaseException) -> None:
        self.failed.emit(failure_message(error))


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
        except Exception as error:  # MemoryError too: the GUI thread words it (failure_message)
            handle.errored.emit(error)
        finally:
            handle.running = False
            handle.ended.emit()


class SynchronousPool:
    """A pool that runs each job at once on the calling thread: deterministic GUI tests."""

    def start(self, runnable: QRunnable) -> None:
        runnable.run()


_live: set[JobHandle] = set()


def prepare_job(
    *,
    progress: Callable[[Progress], Any] | None = None,
    finished: Callable[[Any], Any] | None = None,
    errored: Callable[[BaseException], Any] | None = None,
    failed: Callable[[str], Any] | None = None,
    cancelled: Callable[[], Any] | None = None,
    ended: Callable[[], Any] | None = None,
) -> JobHandle:
    """A handle with the given slots connected, for `launch`: a caller that must hold the handle before
    the job's first signal (a `SynchronousPool` runs it inside `launch`) keeps it between the two."""
    handle = JobHandle()
    _live.add(handle)  # kept alive until the job ends, so callers may drop their reference
    handle.ended.connect(lambda: _live.discard(handle))
    slots = (
        (handle.progress, progress),
        (handle.finished, finished),
        (handle.errored, errored),
        (handle.failed, failed),
        (handle.cancelled, cancelled),
        (handle.ended, ended),
    )
    for signal, slot in slots:
        if slot is not None:
            signal.connect(slot)
    return handle


def launch(handle: JobHandle, factory: JobFactory, pool: Pool | None = None) -> None:
    """Start `factory(token)`'s generator on `pool` (the global thread pool by default), reporting
    through `handle`."""
    (pool or QThreadPool.globalInstance()).start(_Runner(factory, handle))


def start_job(factory: JobFactory, pool: Pool | None = None, **slots: Callable[..., Any]) -> JobHandle:
    """Run `factory`'s job with `slots` (as `prepare_job` takes them) connected first: the usual way."""
    handle = prepare_job(**slots)
    launch(handle, factory, pool)
    return handle


def await_workers(timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
    """Wait up to `timeout_ms` for the global pool's workers to end, as superqt's
    `WorkerBase.await_workers` does at quit: the window's close has cancelled its jobs, and none then
    writes a file or emits into an app being torn down. True when they all ended."""
    return QThreadPool.globalInstance().waitForDone(timeout_ms)
