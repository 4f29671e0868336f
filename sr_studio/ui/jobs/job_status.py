"""One job at a time for a tab, shown in the status bar: what it is doing, how far it is, and its ending.

Starting a job cancels the one still running, and whatever a replaced job still reports is ignored, so a
late result can never land on the wrong picture.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from sr_studio.core.estimate import eta_text
from sr_studio.core.jobs import Progress
from sr_studio.ui.jobs import workers


def progress_text(event: Progress) -> str:
    """One status line for a job's progress: "tile 3/12 — about 20 s left", or what the job is doing."""
    info = event.info
    label = f"{info['label']}: " if "label" in info else ""
    if "note" in info:
        return label + str(info["note"])
    if "text" in info:
        return label + str(info["text"])
    unit = {"colour": "tile", "alpha": "alpha tile"}.get(event.stage, event.stage)
    return f"{label}{unit} {event.done}/{event.total} — {eta_text(event.eta_s)}"


class JobStatus(QWidget):
    """Runs a tab's jobs one at a time and shows the current one's progress (a label and a bar)."""

    started = Signal()  # a job is about to run: `busy` is already true
    progress = Signal(object)  # each Progress of the current job, once shown
    failed = Signal(str)  # the current job's one-line error
    cancelled = Signal()
    ended = Signal(str)  # "finished", "failed" or "cancelled", once `busy` is false again

    def __init__(self, pool: workers.Pool | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.job: workers.JobHandle | None = None  # the current job, until its ending reaches this thread
        self._on_result: Callable[[Any], None] | None = None
        self._outcome = "finished"
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(220)
        self.bar.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)

    @property
    def busy(self) -> bool:
        """Whether the current job has not ended yet (as far as the GUI thread has heard)."""
        return self.job is not None

    def start(self, factory: workers.JobFactory, on_result: Callable[[Any], None], text: str) -> None:
        """Run `factory`'s job, replacing (and cancelling) any job still running; its result goes to
        `on_result` on the GUI thread, unless a newer job has replaced it by then."""
        if self.job is not None:
            self.job.cancel()
        handle = workers.prepare_job(
            progress=self._on_progress,
            finished=self._on_finished,
            failed=self._on_failed,
            cancelled=self._on_cancelled,
            ended=self._on_ended,
        )
        self.job = handle  # before launch: a synchronous pool's signals come from within it
        self._on_result = on_result
        self.bar.setRange(0, 0)  # busy until the first event
        self.bar.show()
        self.label.setText(text)
        self.started.emit()
        workers.launch(handle, factory, self.pool)

    def cancel(self) -> None:
        """Ask the current job to stop at its next unit of work; `cancelled` follows."""
        if self.job is not None:
            self.job.cancel()
            self.label.setText("cancelling…")

    def _current(self) -> bool:
        """Whether the signal being handled comes from the current job, not one it replaced."""
        return self.sender() is self.job

    def _on_progress(self, event: Progress) -> None:
        if not self._current():
            return
        if "text" not in event.info:  # a unit of work (tile); otherwise a step of unknown length
            self.bar.setRange(0, event.total)
            self.bar.setValue(event.done)
        if self.job is not None and not self.job.token.cancelled:  # keep saying "cancelling…"
            self.label.setText(progress_text(event))
        self.progress.emit(event)

    def _on_finished(self, result: object) -> None:
        if self._current() and self._on_result is not None:
            self._outcome = "finished"
            self._on_result(result)

    def _on_failed(self, message: str) -> None:
        if self._current():
            self._outcome = "failed"
            self.failed.emit(message)

    def _on_cancelled(self) -> None:
        if self._current():
            self._outcome = "cancelled"
            self.cancelled.emit()

    def _on_ended(self) -> None:
        if not self._current():
            return
        self.job = None
        self._on_result = None
        self.bar.hide()
        self.label.clear()
        self.ended.emit(self._outcome)
