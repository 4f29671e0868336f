"""The batch dialog: upscale a folder (or a handful of dropped files) with the same core path as the CLI.

Planning, loading the model and upscaling all run in one worker job (the core's `batch_request_job`, as
`sr-studio upscale` runs it), so the dialog only turns its fields into a `BatchRequest` and the job's
`Progress` events into bars and a summary (`BatchProgress`). Outputs are written atomically by the core,
so a cancelled batch leaves complete files only and a re-run skips them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sr_studio.core.batch import (
    DEFAULT_PATTERN,
    BatchReport,
    BatchRequest,
    OutputOptions,
    batch_request_job,
    default_output_dir,
    validate_pattern,
)
from sr_studio.core.errors import SRStudioError, UsageError
from sr_studio.core.jobs import Progress
from sr_studio.ui.batch.progress import BatchProgress
from sr_studio.ui.common import ENSEMBLE_TIP, ERROR_STYLE, ask_yes_no
from sr_studio.ui.jobs import workers
from sr_studio.ui.jobs.devices import DeviceCombo
from sr_studio.ui.models.purpose import model_label, model_tooltip

if TYPE_CHECKING:
    from sr_studio.core.library import ModelEntry, ModelLibrary

FORMATS = ("png", "jpg", "webp", "avif", "tif")
QUALITY_FORMATS = frozenset({"jpg", "webp", "avif"})
DEFAULT_QUALITY = 90


class BatchDialog(QDialog):
    """Upscale a whole folder (or a list of files): settings, live progress, cancel, and a summary."""

    batchFinished = Signal(object)  # the BatchReport, when a batch ran to its end
    batchEnded = Signal()  # after any ending: finished, cancelled or failed
    progressChanged = Signal(object)  # each Progress event, after the dialog has shown it

    def __init__(
        self,
        library: ModelLibrary,
        *,
        inputs: Sequence[Path] = (),
        output_dir: Path | None = None,
        model: str | None = None,
        device: str = "auto",
        devices: Sequence[str] | None = None,
        pool: workers.Pool | None = None,
        parent: QWidget | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch upscale")
        self.library = library
        self.backend = backend  # Settings → Inference backend, passed on to the batch
        self.pool = pool
        self.report: BatchReport | None = None
        self.handle: workers.JobHandle | None = None
        self._request: BatchRequest | None = None
        self._running = False
        self._devices_requested = devices is not None

        self._build_widgets()
        self._fill_models(model)
        self.device_combo.add_names(devices or ())
        self.device_combo.select(device)
        self._set_inputs([Path(path) for path in inputs])
        if output_dir is not None:
            self.output_edit.setText(str(output_dir))
        self._connect()
        self._update_format()
        self._update_defaults()
        self._validate()

    # --- building ---------------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.input_edit = QLineEdit()
        self.input_edit.setPlaceholderText("a folder of pictures")
        self.input_browse = QPushButton("Browse…")
        self.folder_row = _row(self.input_edit, self.input_browse)
        self.file_list = QListWidget()
        self.file_list.setMaximumHeight(110)
        self.use_folder_button = QPushButton("Use a folder instead")
        self.files_box = QWidget()
        files_layout = QVBoxLayout(self.files_box)
        files_layout.setContentsMargins(0, 0, 0, 0)
        files_layout.addWidget(self.file_list)
        files_layout.addWidget(self.use_folder_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.recursive_check = QCheckBox("Include sub-folders (keep the folder tree)")

        self.output_edit = QLineEdit()
        self.output_browse = QPushButton("Browse…")
        self.pattern_edit = QLineEdit(DEFAULT_PATTERN)
        self.pattern_edit.setToolTip("Fields: {stem} (the input's name), {scale}, {model}")
        self.pattern_error = QLabel()
        self.pattern_error.setStyleSheet(ERROR_STYLE)
        self.pattern_error.setWordWrap(True)  # a long pattern must not widen the dialog
        self.pattern_error.hide()
        self.format_combo = QComboBox()
        self.format_combo.addItem("keep (same as input)", None)
        for extension in FORMATS:
            self.format_combo.addItem(extension, extension)
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(DEFAULT_QUALITY)
        self.quality_spin.setPrefix("quality ")
        self.model_combo = QComboBox()
        self.device_combo = DeviceCombo()
        self.overwrite_check = QCheckBox("Overwrite existing outputs")
        self.overwrite_check.setToolTip("Off: outputs that already exist are skipped, so re-runs resume")
        self.ensemble_check = QCheckBox("Max quality (about 8× slower)")
        self.ensemble_check.setToolTip(ENSEMBLE_TIP)

        self.settings_box = QWidget()
        form = QFormLayout(self.settings_box)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Input folder:", self.folder_row)
        form.addRow("Input files:", self.files_box)
        form.addRow("", self.recursive_check)
        form.addRow("Output folder:", _row(self.output_edit, self.output_browse))
        form.addRow("Name pattern:", self.pattern_edit)
        form.addRow("", self.pattern_error)
        form.addRow("Format:", _row(self.format_combo, self.quality_spin))
        form.addRow("Model:", self.model_combo)
        form.addRow("Device:", self.device_combo)
        form.addRow("", self.ensemble_check)
        form.addRow("", self.overwrite_check)
        self._form = form

        self.progress_view = BatchProgress()
        # The progress view's parts, under the dialog's own names (tests read them).
        self.overall_bar, self.file_bar = self.progress_view.overall_bar, self.progress_view.file_bar
        self.eta_label, self.summary_label = self.progress_view.eta_label, self.progress_view.summary_label
        self.summary_box, self.failures_list = (
            self.progress_view.summary_box,
            self.progress_view.failures_list,
        )

        self.status_label = QLabel()  # problems found before a batch starts, one line
        self.status_label.setStyleSheet(ERROR_STYLE)
        self.status_label.setWordWrap(True)
        self.status_label.hide()
        self.open_output_button = QPushButton("Open output folder")
        self.open_output_button.setEnabled(False)
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_output_button)
        buttons.addStretch(1)
        for button in (self.start_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.settings_box)
        layout.addWidget(self.progress_view)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
        self.resize(620, 0)

    def _connect(self) -> None:
        self.input_edit.textChanged.connect(self._on_inputs_changed)
        self.input_browse.clicked.connect(self._browse_input)
        self.use_folder_button.clicked.connect(self._use_folder)
        self.output_browse.clicked.connect(self._browse_output)
        self.pattern_edit.textChanged.connect(self._validate)
        self.format_combo.currentIndexChanged.connect(self._update_format)
        self.model_combo.currentIndexChanged.connect(self._update_defaults)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)
        self.open_output_button.clicked.connect(self.open_output_folder)

    def _fill_models(self, wanted: str | None) -> None:
        self._entries = {entry.name: entry for entry in self.library.entries("upscale")}
        for entry in self._entries.values():  # what each is for; the details in its tooltip
            self.model_combo.addItem(model_label(entry), entry.name)
            self.model_combo.setItemData(
                self.model_combo.count() - 1, model_tooltip(entry), Qt.ItemDataRole.ToolTipRole
            )
        if not self._entries:
            self._show_status("no upscaling model is installed (import one with: sr-studio models import)")
            return
        default = self.library.default("upscale")
        chosen = wanted if wanted in self._entries else (default.name if default else None)
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(chosen)))
        if wanted is not None and wanted not in self._entries:
            self._show_status(f"no upscaling model named {wanted!r}; using {chosen}")

    def _set_inputs(self, paths: list[Path]) -> None:
        """One folder goes in the folder field; files (or several paths) become a list instead."""
        self.file_list.clear()
        if len(paths) == 1 and paths[0].is_dir():
            self.input_edit.setText(str(paths[0]))
            paths = []
        for path in paths:
            self.file_list.addItem(str(path))
            self.file_list.item(self.file_list.count() - 1).setToolTip(str(path))
        self._form.setRowVisible(self.folder_row, not paths)
        self._form.setRowVisible(self.files_box, bool(paths))

    # --- reading the fields -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """From start() until the job's ending reaches the GUI thread (the worker may finish earlier)."""
        return self._running

    def input_paths(self) -> list[Path]:
        """The dropped files if there are any, else the folder field (empty when blank)."""
        if self.file_list.count():
            return [Path(self.file_list.item(row).text()) for row in range(self.file_list.count())]
        text = self.input_edit.text().strip()
        return [Path(text).expanduser()] if text else []

    def selected_model(self) -> ModelEntry | None:
        return self._entries.get(self.model_combo.currentData())

    def request(self) -> BatchRequest:
        """The batch the fields describe; an `SRStudioError` names what is missing or wrong."""
        inputs = self.input_paths()
        if not inputs:
            raise UsageError("choose a folder of pictures first")
        if not self.file_list.count() and not inputs[0].is_dir():
            raise SRStudioError("no such folder", inputs[0])
        entry = self.selected_model()
        if entry is None:
            raise UsageError("choose an upscaling model first")
        extension = self.format_combo.currentData()
        output = self.output_edit.text().strip()
        options = OutputOptions(
            pattern=validate_pattern(self.pattern_edit.text()),
            format=extension,
            quality=self.quality_spin.value() if extension in QUALITY_FORMATS else None,
            overwrite=self.overwrite_check.isChecked(),
        )
        return BatchRequest(
            inputs=tuple(inputs),
            output=Path(output).expanduser() if output else None,
            options=options,
            model=entry,
            device=self.device_combo.currentData(),
            recursive=self.recursive_check.isChecked(),
            ensemble=self.ensemble_check.isChecked(),
            backend=self.backend,
        )

    # --- reacting to edits --------------------------------------------------------------------------

    def _on_inputs_changed(self) -> None:
        self._update_defaults()
        self._validate()

    def _use_folder(self) -> None:
        self._set_inputs([])
        self._on_inputs_changed()

    def _browse_input(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of pictures", self.input_edit.text())
        if folder:
            self.input_edit.setText(folder)

    def _browse_output(self) -> None:
        start = self.output_edit.text() or self.output_edit.placeholderText().removeprefix("default: ")
        folder = QFileDialog.getExistingDirectory(self, "Output folder", start)
        if folder:
            self.output_edit.setText(folder)

    def _update_format(self) -> None:
        self.quality_spin.setEnabled(self.format_combo.currentData() in QUALITY_FORMATS)

    def _update_defaults(self) -> None:
        """Show where outputs go when the output field is left empty: the core's default."""
        entry = self.selected_model()
        inputs = self.input_paths()
        if self.file_list.count():
            text = "default: beside each file"
        elif entry is not None and inputs:
            text = f"default: {default_output_dir(inputs[0], entry.card.scale)}"
        else:
            text = "default: a folder beside the input folder"
        self.output_edit.setPlaceholderText(text)

    def _validate(self) -> None:
        """Check the pattern as it is typed; Start only when there is something valid to run."""
        try:
            validate_pattern(self.pattern_edit.text())
        except UsageError as error:
            self.pattern_error.setText(str(error))
            self.pattern_error.show()
            pattern_ok = False
        else:
            self.pattern_error.hide()
            pattern_ok = True
        ready = pattern_ok and bool(self.input_paths()) and self.selected_model() is not None
        self.start_button.setEnabled(ready and not self.running)

    def _show_status(self, text: str) -> None:
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))

    # --- running ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Run the batch the fields describe in a worker; problems with the fields show inline."""
        if self.running:
            return
        try:
            request = self.request()
        except SRStudioError as error:
            self._show_status(str(error))
            return
        self._show_status("")
        self._request = request
        self.report = None
        self.open_output_button.setEnabled(False)
        self.progress_view.begin(request.model.name)
        self._set_running(True)

        self.handle = workers.start_job(
            partial(batch_request_job, request, self.library),
            self.pool,
            progress=self._on_progress,
            finished=self._on_finished,
            failed=self._on_failed,
            cancelled=self._on_cancelled,
            ended=self._on_ended,
        )
        self.destroyed.connect(self.handle.cancel)  # never leave a job writing for a dialog that is gone

    def cancel(self) -> None:
        """Stop at the next tile; finished outputs stay (they are complete) and a re-run skips them."""
        if self._running and self.handle is not None:
            self.handle.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_view.cancelling()

    def open_output_folder(self) -> None:
        """Show the results in the file manager; where none could be started, say where they are."""
        if self._request is None:
            return
        folder = self._request.output_folder()
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.status_label.setText(f"No file manager could be started: the results are in {folder}")
            self.status_label.show()

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.settings_box.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.start_button.setEnabled(False)
        else:
            self._validate()

    def _on_progress(self, event: Progress) -> None:
        self.progress_view.advance(event)
        self.progressChanged.emit(event)

    def _on_finished(self, report: BatchReport) -> None:
        self.report = report
        self.progress_view.finish(report)
        self.batchFinished.emit(report)

    def _on_cancelled(self) -> None:
        self.progress_view.cancelled()

    def _on_failed(self, message: str) -> None:
        self.progress_view.stopped(message)

    def _on_ended(self) -> None:
        self.progress_view.end()
        self._set_running(False)
        self.open_output_button.setEnabled(
            self._request is not None and self._request.output_folder().is_dir()
        )
        self.batchEnded.emit()

    # --- lifetime ----------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        """List the devices once the dialog is up: it needs torch, which loads in a worker."""
        super().showEvent(event)
        if not self._devices_requested:
            self.device_combo.probe(self.pool)

    def reject(self) -> None:
        """Close, Esc and the window's × all come here (QDialog routes closeEvent through reject): while a
        batch runs, ask first, then cancel it so nothing keeps writing after the dialog is gone."""
        if self.running:
            confirmed = ask_yes_no(
                self,
                "Stop the batch?",
                "A batch is running. Stop it and close? Finished files are kept; "
                "running it again finishes the rest.",
            )
            if not confirmed:
                return
            self.cancel()
        super().reject()


def _row(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, QLineEdit) else 0)
    return row
