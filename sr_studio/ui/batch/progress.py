"""The batch dialog's live part: how far the batch is (moving within long files), then what it did.

It is fed the batch job's `Progress` events and its ending; the summary lists every failed file with its
one-line reason, including those that failed while planning (missing, clashing names).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QGroupBox,
    QLabel,
    QProgressBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sr_studio.core.batch import BatchReport
from sr_studio.core.estimate import eta_text
from sr_studio.core.jobs import Progress

STEPS_PER_FILE = 100  # the overall bar counts hundredths of a file, so it moves within long files


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


class BatchProgress(QWidget):
    """Progress bars while a batch runs, and its summary once it has ended."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._files_done = 0
        self._failures: list[tuple[str, str]] = []  # (input, reason)

        self.file_label = QLabel()
        self.overall_bar = QProgressBar()
        self.file_bar = QProgressBar()
        self.file_bar.setRange(0, STEPS_PER_FILE)
        self.eta_label = QLabel()
        self.progress_box = QGroupBox("Progress")
        progress_layout = QVBoxLayout(self.progress_box)
        progress_layout.addWidget(self.overall_bar)
        progress_layout.addWidget(self.file_label)
        progress_layout.addWidget(self.file_bar)
        progress_layout.addWidget(self.eta_label)
        self.progress_box.hide()

        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.failures_list = QTreeWidget()
        self.failures_list.setHeaderLabels(["File", "Problem"])
        self.failures_list.setRootIsDecorated(False)
        self.failures_list.setMaximumHeight(140)
        self.summary_box = QGroupBox("Summary")
        summary_layout = QVBoxLayout(self.summary_box)
        summary_layout.addWidget(self.summary_label)
        summary_layout.addWidget(self.failures_list)
        self.summary_box.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.progress_box)
        layout.addWidget(self.summary_box)
        self.hide()  # nothing to show before the first batch

    def begin(self, model: str) -> None:
        """A batch is starting: a busy bar until its first event (planning and loading the model)."""
        self._files_done = 0
        self._failures = []
        self.failures_list.clear()
        self.summary_box.hide()
        self.overall_bar.setRange(0, 0)
        self.overall_bar.setFormat("")
        self.file_bar.setValue(0)
        self.file_label.setText(f"Loading {model}…")
        self.eta_label.setText(eta_text(None))
        self.progress_box.show()
        self.show()

    def advance(self, event: Progress) -> None:
        """Show one of the batch job's events: the file it is on, how far through it, and time left."""
        info = event.info
        status = info.get("status")
        fraction = float(info.get("file_fraction", 0.0))
        # `done` already counts a file once it has a status (or all its tiles): add the fraction otherwise.
        position = event.done if status or fraction >= 1.0 else event.done + fraction
        total = max(event.total, 1)
        self.overall_bar.setRange(0, total * STEPS_PER_FILE)
        self.overall_bar.setValue(round(position * STEPS_PER_FILE))
        self.overall_bar.setFormat(f"{int(position)} of {_files(event.total)}")
        self.file_bar.setValue(round(fraction * STEPS_PER_FILE))
        name = Path(info.get("file", "")).name
        number = min(int(position) + (0 if status else 1), event.total)
        verb = {"skipped": "Skipped (already done)", "failed": "Failed", "written": "Wrote"}.get(
            status, "Upscaling"
        )
        self.file_label.setText(f"{verb}: {name} — file {number} of {event.total}")
        self.eta_label.setText(eta_text(event.eta_s))
        if status:
            self._files_done += 1
        if status == "failed":
            self._failures.append((info.get("file", ""), info.get("error", "")))

    def cancelling(self) -> None:
        self.eta_label.setText("cancelling…")

    def finish(self, report: BatchReport) -> None:
        """The batch ran to its end: the counts, and every failure from the report."""
        if self.overall_bar.maximum() == 0:  # nothing ran (every input failed in planning)
            self.overall_bar.setRange(0, 1)
            self.overall_bar.setValue(1)
            self.file_bar.setValue(STEPS_PER_FILE)
        self.eta_label.setText(f"done in {report.seconds:.1f} s")
        self._failures = [(str(source), problem) for source, problem in report.failed]
        self._show_summary(
            f"{len(report.written)} written, {len(report.skipped)} skipped (already done), "
            f"{len(report.failed)} failed"
        )

    def cancelled(self) -> None:
        self.eta_label.setText("cancelled")
        self._show_summary(
            f"Cancelled after {_files(self._files_done)} — run again to finish the rest "
            "(done files are skipped)"
        )

    def stopped(self, message: str) -> None:
        """The batch failed as a whole (no images, an unusable model): the reason, one line."""
        self.eta_label.setText("stopped")
        self._show_summary(f"Stopped after {_files(self._files_done)}: {message}")

    def end(self) -> None:
        if self.overall_bar.maximum() == 0:  # still busy: the job ended before its first event
            self.overall_bar.setRange(0, 1)

    def _show_summary(self, text: str) -> None:
        self.summary_label.setText(text)
        self.failures_list.clear()
        for source, problem in self._failures:
            item = QTreeWidgetItem([Path(source).name, problem])
            item.setToolTip(0, source)
            item.setToolTip(1, problem)
            self.failures_list.addTopLevelItem(item)
        self.failures_list.setVisible(bool(self._failures))
        self.summary_box.show()
