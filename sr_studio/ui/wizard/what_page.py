"""The wizard's first page: fine-tune an upscaler, train a GAN, or resume a run that was stopped or killed."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QVBoxLayout,
    QWizardPage,
)

from sr_studio.ui.wizard.plan import DATA, SAMPLE, TRAIN, UPSCALE
from sr_studio.ui.wizard.state import WizardState
from sr_studio.ui.wizard.training_process import UnfinishedRun, unfinished_runs


class WhatPage(QWizardPage):
    """The task; "Resume" (and the list of runs) shows only when `run_root` holds an unfinished run."""

    def __init__(self, run_root: Path, state: WizardState) -> None:
        super().__init__()
        self.state = state
        self.setTitle("What would you like to train?")
        self.upscale_radio = QRadioButton("Fine-tune an upscaler on my images")
        self.gan_radio = QRadioButton("Train a GAN sampler on my images")
        self.resume_radio = QRadioButton("Resume an unfinished run")
        self.upscale_radio.setChecked(True)
        self.runs_list = QListWidget()
        self.runs_list.setMaximumHeight(140)
        group = QButtonGroup(self)
        layout = QVBoxLayout(self)
        for radio in (self.upscale_radio, self.gan_radio, self.resume_radio):
            group.addButton(radio)
            layout.addWidget(radio)
            radio.toggled.connect(self._update)
        layout.addWidget(self.runs_list)
        layout.addStretch(1)
        self.runs_list.itemSelectionChanged.connect(self._update)
        self.runs_list.itemDoubleClicked.connect(self._resume_clicked)
        self._list_runs(run_root)

    def _list_runs(self, run_root: Path) -> None:
        for run in unfinished_runs(run_root):
            item = QListWidgetItem(run.describe())
            item.setData(Qt.ItemDataRole.UserRole, run)
            self.runs_list.addItem(item)
        has_runs = self.runs_list.count() > 0
        if has_runs:
            self.runs_list.setCurrentRow(0)
        self.resume_radio.setVisible(has_runs)
        self._update()

    @property
    def task(self) -> str:
        return SAMPLE if self.gan_radio.isChecked() else UPSCALE

    def selected_run(self) -> UnfinishedRun | None:
        if not self.resume_radio.isChecked():
            return None
        item = self.runs_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _resume_clicked(self) -> None:
        self.resume_radio.setChecked(True)

    def _update(self) -> None:
        self.runs_list.setVisible(not self.resume_radio.isHidden())
        self.runs_list.setEnabled(self.resume_radio.isChecked())
        self.completeChanged.emit()

    def validatePage(self) -> bool:
        self.state.resume = self.selected_run()
        return True

    def isComplete(self) -> bool:
        return not self.resume_radio.isChecked() or self.selected_run() is not None

    def nextId(self) -> int:
        return TRAIN if self.resume_radio.isChecked() else DATA
