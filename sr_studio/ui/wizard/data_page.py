"""The wizard's picture folder page: a header-only scan says what is usable, what is skipped and why.

The scan runs as a worker job (folders can be large) and only once the user stops typing a path. The
folder last trained on is offered again next time (where the wizard has the app's settings).
"""

from __future__ import annotations

from collections.abc import Generator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QWizardPage,
)

from sr_studio.core.jobs import CancelToken, Progress
from sr_studio.train.protocol import validation_count
from sr_studio.ui.jobs import workers
from sr_studio.ui.wizard.plan import SAMPLE, UPSCALE
from sr_studio.ui.wizard.widgets import text_label

if TYPE_CHECKING:
    from sr_studio.train.data import ScanSummary
    from sr_studio.ui.wizard.wizard import FineTuneWizard

SCAN_DELAY_MS = 400  # typing a path: scan once the user pauses
MIN_SIDE = 8  # what the job itself refuses; the patch size is checked against the scan on the next page


def _scan_job(folder: str, cancel: CancelToken) -> Generator[Progress, None, tuple[str, ScanSummary]]:
    """Read the folder's image headers (the job's own scan), off the GUI thread: folders can be large."""
    from sr_studio.train.config import config_from_dict
    from sr_studio.train.data import scan

    yield Progress(0, 1, "scan")
    config = config_from_dict({"data": {"train": [folder]}}, Path(folder), "wizard")
    return folder, scan(config, min_side=MIN_SIDE)


class DataPage(QWizardPage):
    """Next needs at least one usable picture; the others are listed with the reason they are skipped."""

    def __init__(self, owner: FineTuneWizard) -> None:
        super().__init__()
        self.owner = owner
        self.setTitle("Your pictures")
        self.setSubTitle(
            "A folder (sub-folders included) of the kind of pictures the model should be good at."
        )
        self.summary: ScanSummary | None = None
        self._scanned_folder: str | None = None
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("a folder of pictures")
        self.browse_button = QPushButton("Browse…")
        self.summary_label = text_label("Choose a folder.")
        self.warnings_label = text_label(error=True)
        self.skipped_list = QListWidget()
        self.skipped_list.setMaximumHeight(120)
        self.val_spin = QSpinBox()
        self.val_spin.setRange(0, 50)
        self.val_spin.setValue(10)
        self.val_spin.setSuffix(" %")
        self.val_label = QLabel()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SCAN_DELAY_MS)

        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)
        val_row = QHBoxLayout()
        val_row.addWidget(self.val_spin)
        val_row.addWidget(self.val_label, 1)
        form = QFormLayout(self)
        form.addRow("Folder:", folder_row)
        form.addRow("", self.summary_label)
        form.addRow("", self.warnings_label)
        form.addRow("Skipped:", self.skipped_list)
        form.addRow("Validation:", val_row)
        self._form = form
        form.setRowVisible(self.skipped_list, False)
        self.warnings_label.hide()

        self.browse_button.clicked.connect(self._browse)
        self.folder_edit.textChanged.connect(self._folder_typed)
        self._timer.timeout.connect(self.scan)
        self.val_spin.valueChanged.connect(self._show_split)

    @property
    def folder(self) -> Path:
        return Path(self.folder_edit.text().strip()).expanduser()

    @property
    def val_share(self) -> float:
        """A GAN holds nothing back: it is measured against all the pictures, as FID usually is, and a
        small folder cannot spare any."""
        return 0.0 if self.owner.task == SAMPLE else self.val_spin.value() / 100

    def initializePage(self) -> None:
        self.val_spin.setEnabled(self.owner.task == UPSCALE)
        settings = self.owner.settings
        remembered = Path(settings.last_train_folder) if settings and settings.last_train_folder else None
        if not self.folder_edit.text() and remembered is not None and remembered.is_dir():
            self.set_folder(remembered)
        self._show_split()

    def validatePage(self) -> bool:
        state = self.owner.state
        state.folder, state.summary, state.val_share = self.folder, self.summary, self.val_share
        if self.owner.settings is not None:
            self.owner.settings.last_train_folder = str(self.folder.absolute())
        return True

    def set_folder(self, folder: Path) -> None:
        """Show `folder` and scan it now."""
        self.folder_edit.setText(str(folder))
        self.scan()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of pictures", self.folder_edit.text())
        if folder:
            self.set_folder(Path(folder))

    def _folder_typed(self) -> None:
        self.summary, self._scanned_folder = None, None
        self.completeChanged.emit()
        self._timer.start()

    def scan(self) -> None:
        self._timer.stop()
        text = self.folder_edit.text().strip()
        self.summary, self._scanned_folder = None, text
        self.completeChanged.emit()
        if not text:
            self.summary_label.setText("Choose a folder.")
            return
        if not self.folder.is_dir():
            self._show_problem(f"{text}: no such folder")
            return
        self.summary_label.setText("Scanning…")
        self.warnings_label.hide()
        workers.start_job(
            partial(_scan_job, str(self.folder)),
            self.owner.pool,
            finished=self._on_scanned,
            failed=self._show_problem,
        )

    def _show_problem(self, message: str) -> None:
        self.summary_label.setText("")
        self.warnings_label.setText(message)
        self.warnings_label.show()
        self.skipped_list.clear()
        self._form.setRowVisible(self.skipped_list, False)

    def _on_scanned(self, result: tuple[str, ScanSummary]) -> None:
        folder, summary = result
        if self._scanned_folder is None or Path(folder) != self.folder:
            return  # a scan of a folder the user has since left
        self.summary = summary
        usable = summary.usable
        if usable:
            sides = sorted(min(w, h) for _, w, h in usable)
            smallest = min(usable, key=lambda u: u[1] * u[2])
            largest = max(usable, key=lambda u: u[1] * u[2])
            self.summary_label.setText(
                f"{len(usable)} usable image{'s' if len(usable) != 1 else ''}, "
                f"{summary.megapixels:.2f} megapixels in all, from {smallest[1]}×{smallest[2]} "
                f"to {largest[1]}×{largest[2]} pixels (shortest side {sides[0]}–{sides[-1]})."
            )
        else:
            self.summary_label.setText("No usable images in this folder.")
        self.warnings_label.setText("\n".join(summary.warnings))
        self.warnings_label.setVisible(bool(summary.warnings))
        self.skipped_list.clear()
        for path, reason in summary.skipped:
            self.skipped_list.addItem(f"{path.name} — {reason}")
        self._form.setRowVisible(self.skipped_list, bool(summary.skipped))
        self._show_split()
        self.completeChanged.emit()

    def _show_split(self) -> None:
        count = len(self.summary.usable) if self.summary else 0
        val = validation_count(count, self.val_share)
        if self.owner.task == SAMPLE:
            self.val_label.setText("a GAN is measured against all your pictures; none are held back")
        else:
            self.val_label.setText(f"{val} kept for validation, {count - val} for training" if count else "")

    def isComplete(self) -> bool:
        return self.summary is not None and bool(self.summary.usable)
