"""The fine-tuning wizard: pick a task and a folder, choose settings with a measured time estimate, watch
the training child process, then save the result into the model library.

Training never runs in the app: each run is `python -m sr_studio.train` in its own folder under
`user_data_dir()/runs` (training_process.py). The wizard writes the recipe, starts the child and draws
what it reports. Closing the wizard mid-run asks whether the job goes on in the background or stops. A
run that was stopped (Cancel, or the wizard closed) or killed keeps its checkpoint; the first page offers
to resume it. One page per module (`*_page.py` in this package); the plan is `plan.py`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget, QWizard

from sr_studio.core import paths
from sr_studio.core.library import ModelLibrary
from sr_studio.ui.app.settings import Settings
from sr_studio.ui.jobs import workers
from sr_studio.ui.wizard.data_page import DataPage
from sr_studio.ui.wizard.finish_page import FinishPage
from sr_studio.ui.wizard.plan import DATA, FINISH, SETTINGS, TRAIN, WHAT
from sr_studio.ui.wizard.settings_page import SettingsPage
from sr_studio.ui.wizard.state import WizardState
from sr_studio.ui.wizard.train_page import STOP_TIMEOUT_MS, TrainPage
from sr_studio.ui.wizard.what_page import WhatPage

TITLE = "Train on my images"  # also the Tools menu entry that opens it (with "…")
KEEP, STOP, STAY = "keep", "stop", "stay"  # closing mid-run: the job goes on, or stops, or the wizard stays


class FineTuneWizard(QWizard):
    """Fine-tune an upscaler or train a GAN on the user's pictures, in a child process.

    `modelReady(name)` says a model was installed in the library and should be selected. `settings`, where
    given, remembers the last folder of pictures.
    """

    modelReady = Signal(str)

    def __init__(
        self,
        library: ModelLibrary,
        *,
        parent: QWidget | None = None,
        run_root: Path | None = None,
        pool: workers.Pool | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.library = library
        self.pool = pool
        self.settings = settings
        self.run_root = Path(run_root) if run_root is not None else paths.user_data_dir() / "runs"
        self.state = WizardState()
        self.what_page = WhatPage(self.run_root, self.state)
        self.data_page = DataPage(self)
        self.settings_page = SettingsPage(self)
        self.train_page = TrainPage(self)
        self.finish_page = FinishPage(self)
        for page_id, page in (
            (WHAT, self.what_page),
            (DATA, self.data_page),
            (SETTINGS, self.settings_page),
            (TRAIN, self.train_page),
            (FINISH, self.finish_page),
        ):
            self.setPage(page_id, page)
        self.currentIdChanged.connect(self.update_back_button)
        self.resize(760, 680)

    @property
    def task(self) -> str:
        return self.what_page.task

    @property
    def running(self) -> bool:
        """True while a training job runs (closing the app should stop it first: `stop_job`)."""
        return self.train_page.running

    def stop_job(self, timeout_ms: int = STOP_TIMEOUT_MS) -> bool:
        """Stop the training job and wait until it has checkpointed and exited (it can be resumed later
        from the first page). Blocks: for closing only. True if it stopped cleanly (or nothing ran)."""
        self.settings_page.stop_probe()
        return self.train_page.stop_and_wait(timeout_ms)

    def update_back_button(self) -> None:
        """No going back from a running or finished job (QWizard re-enables Back on each page change)."""
        if self.currentId() == TRAIN:
            page = self.train_page
            self.button(QWizard.WizardButton.BackButton).setEnabled(
                not page.running and page.done_event is None
            )

    def ask_close(self) -> str:
        """KEEP, STOP or STAY: what closing does with the running job (tests answer in its place)."""
        run_dir = self.train_page.run_dir
        text = f"A training job is running; its run folder is {run_dir}."
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running", text, parent=self)
        box.setInformativeText(
            "Keep training: the job goes on in the background. Stop: it saves a checkpoint and ends. "
            "A stopped run continues from its checkpoint with Resume on the wizard's first page, or with "
            f"sr-studio train --resume {run_dir}"
        )
        keep = box.addButton("Keep training in the background", QMessageBox.ButtonRole.AcceptRole)
        stop = box.addButton("Stop with a checkpoint", QMessageBox.ButtonRole.DestructiveRole)
        stay = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(stay)
        box.setEscapeButton(stay)
        box.exec()
        clicked = box.clickedButton()
        return KEEP if clicked is keep else STOP if clicked is stop else STAY

    def done(self, result: int) -> None:
        """Closing mid-run asks first: the job goes on in the background, stops with a checkpoint (so it
        can be resumed), or the wizard stays open. A timing probe always ends."""
        running = self.running and not self.train_page.process.stop_requested  # a stopping job: wait
        choice = self.ask_close() if running else STOP
        if choice == STAY:
            return
        if choice == KEEP:  # only hide: QWizard.done would reset the pages, and so stop the job
            self.settings_page.stop_probe()
            QDialog.done(self, result)
            return
        self.stop_job()
        super().done(result)
