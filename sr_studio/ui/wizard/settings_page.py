"""The wizard's settings page: the model and the training settings, with a measured time estimate.

Times are measured on this machine, not guessed: a probe child (`sr_studio.train --probe`) times a few
real steps with the settings shown (the recipe training will run, but for its length), and again once
changed settings have settled. Presets are lengths of time: their steps follow from that one rate.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from sr_studio.core.errors import SRStudioError
from sr_studio.core.estimate import duration
from sr_studio.train.fine_tune import base_losses, describe, missing_requirement
from sr_studio.ui.common import ERROR_STYLE
from sr_studio.ui.jobs.devices import DeviceCombo
from sr_studio.ui.wizard.plan import (
    PATCH_MAX,
    PRESETS,
    SETTINGS,
    STEPS_MAX,
    UPSCALE,
    Plan,
    evaluation_seconds,
    write_recipe,
)
from sr_studio.ui.wizard.training_process import TrainingProcess
from sr_studio.ui.wizard.widgets import spin_box, text_label

if TYPE_CHECKING:
    from sr_studio.train.data import ScanSummary
    from sr_studio.ui.wizard.wizard import FineTuneWizard

DEFAULT_PRESET = 0  # Quick: see whether the data helps before spending an hour on it
UPSCALE_LR = 5e-5  # half SRResNet's 1e-4: a small folder should adjust a trained model, not overwrite it
GAN_LR = 2e-4  # DCGAN (Radford et al.), with β1 0.5
PATCH_MIN = 16  # smaller than SRResNet's 96 only where the pictures are
GAN_SIZES = (64, 32)
PROBE_STEPS = 3
REMEASURE_DELAY_MS = 800  # clicking through spin boxes: one probe when the user pauses, not one per click


class SettingsPage(QWizardPage):
    """Model and training settings; a probe child times a few real steps for the estimate."""

    def __init__(self, owner: FineTuneWizard) -> None:
        super().__init__()
        self.owner = owner
        self.setTitle("Model and settings")
        self.setButtonText(QWizard.WizardButton.NextButton, "Start training")
        self.probe = TrainingProcess(self)
        self.seconds_per_step: float | None = None
        self._measured_for: tuple[Any, ...] | None = None
        self._probe_recipe: Path | None = None
        self._measure_again = False
        self._remeasure = QTimer(self)  # settings that change the time per step: measure once they settle
        self._remeasure.setSingleShot(True)
        self._remeasure.setInterval(REMEASURE_DELAY_MS)
        self._initialised_for: tuple[str, ScanSummary | None] | None = None

        self.base_combo = QComboBox()
        self._base_recipes: dict[str, str | None] = {}  # each base's card recipe, read with the list
        self.loss_label = text_label()
        self.loss_label.setToolTip("A GAN-sharpened base trains with its recipe's loss, so it stays sharp")
        self.size_combo = QComboBox()
        for size in GAN_SIZES:
            self.size_combo.addItem(f"{size}×{size}", size)
        self.width_spin = spin_box(4, 256, 64, "network width: fewer channels train faster, draw less detail")
        self.latent_spin = spin_box(2, 512, 100, "size of the random input each sample is drawn from")
        self.preset_radios = [QRadioButton() for _ in PRESETS[UPSCALE]]
        self._presets = QButtonGroup(self)
        preset_row = QVBoxLayout()
        for radio in self.preset_radios:
            self._presets.addButton(radio)
            preset_row.addWidget(radio)
            radio.toggled.connect(self._preset_chosen)
        self.steps_spin = spin_box(1, STEPS_MAX, PRESETS[UPSCALE][DEFAULT_PRESET].floor)
        self.steps_spin.setSingleStep(100)
        self.batch_spin = spin_box(1, 512, 16, "pictures (or patches) per step")
        self.patch_spin = spin_box(PATCH_MIN, 512, PATCH_MAX, "side of the high-resolution training patches")
        self.patch_spin.setSingleStep(8)
        self.patch_note = text_label()
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(6)
        self.lr_spin.setRange(1e-6, 1e-2)
        self.lr_spin.setSingleStep(1e-5)
        self.eval_spin = spin_box(1, 1_000_000, 100, "steps between validation measurements and previews")
        self.device_combo = DeviceCombo()
        self.threads_spin = spin_box(0, os.cpu_count() or 1, 0, "CPU threads for training (0: all)")
        self.threads_spin.setSpecialValueText("all")
        self.estimate_label = text_label()
        self.measure_button = QPushButton("Measure")
        self.measure_button.setToolTip("Time a few real training steps on this machine")

        model_box = QGroupBox("Model")
        model_form = QFormLayout(model_box)
        model_form.addRow("Base model:", self.base_combo)
        model_form.addRow("Loss:", self.loss_label)
        model_form.addRow("Image size:", self.size_combo)
        model_form.addRow("Width:", self.width_spin)
        model_form.addRow("Latent size:", self.latent_spin)
        self._model_form = model_form
        train_box = QGroupBox("Training")
        form = QFormLayout(train_box)
        form.addRow("Preset:", preset_row)
        form.addRow("Steps:", self.steps_spin)
        form.addRow("Batch:", self.batch_spin)
        form.addRow("Patch:", self.patch_spin)
        form.addRow("", self.patch_note)
        form.addRow("Learning rate:", self.lr_spin)
        form.addRow("Evaluate every:", self.eval_spin)
        form.addRow("Device:", self.device_combo)
        form.addRow("CPU threads:", self.threads_spin)
        self._form = form
        estimate_row = QHBoxLayout()
        estimate_row.addWidget(self.estimate_label, 1)
        estimate_row.addWidget(self.measure_button)
        layout = QVBoxLayout(self)
        layout.addWidget(model_box)
        layout.addWidget(train_box)
        layout.addLayout(estimate_row)

        self.measure_button.clicked.connect(self.measure)
        self._remeasure.timeout.connect(self.measure)
        self.probe.event.connect(self._on_probe_event)
        self.probe.failed.connect(self._on_probe_failed)
        self.probe.finished.connect(self._on_probe_finished)
        self.steps_spin.valueChanged.connect(self._steps_changed)
        for widget in (self.batch_spin, self.patch_spin, self.eval_spin, self.width_spin, self.latent_spin):
            widget.valueChanged.connect(self._settings_changed)
        for combo in (self.base_combo, self.size_combo, self.device_combo):
            combo.currentIndexChanged.connect(self._settings_changed)
        self.threads_spin.valueChanged.connect(self._settings_changed)

    # --- the page's life --------------------------------------------------------------------------
    def initializePage(self) -> None:
        task = self.owner.task
        summary = self.owner.state.summary
        previous = self._initialised_for
        if previous is None or previous[0] != task or previous[1] is not summary:
            self._initialised_for = (task, summary)  # coming back to the same task and scan keeps edits
            self._set_defaults(task, summary)
        self.device_combo.probe(self.owner.pool)  # once
        self._settings_changed()
        self.measure()

    def _set_defaults(self, task: str, summary: ScanSummary | None) -> None:
        upscale = task == UPSCALE
        self._model_form.setRowVisible(self.base_combo, upscale)
        self._model_form.setRowVisible(self.loss_label, upscale)
        for widget in (self.size_combo, self.width_spin, self.latent_spin):
            self._model_form.setRowVisible(widget, not upscale)
        self._form.setRowVisible(self.patch_spin, upscale)
        self.base_combo.clear()
        library = self.owner.library
        entries = library.entries(UPSCALE)
        self._base_recipes = {entry.name: entry.card.recipe for entry in entries}
        for entry in entries:
            self.base_combo.addItem(f"{entry.name} — ×{entry.card.scale}", entry.name)
        default = library.default(UPSCALE)  # what the upscale tab picks, not the first name in the list
        if default is not None:
            self.base_combo.setCurrentIndex(self.base_combo.findData(default.name))
        self.batch_spin.setValue(16 if upscale else 64)
        self.lr_spin.setValue(UPSCALE_LR if upscale else GAN_LR)
        sides = [min(w, h) for _, w, h in summary.usable] if summary else []
        fitting = min(sides, default=PATCH_MAX) // 8 * 8  # the largest patch every picture holds
        self.patch_spin.setValue(max(32, min(PATCH_MAX, fitting)))
        self.preset_radios[DEFAULT_PRESET].setChecked(True)
        self._apply_preset()  # its floor until measured

    def cleanupPage(self) -> None:
        self.stop_probe()

    def validatePage(self) -> bool:
        self.stop_probe()
        if not self.isComplete():
            return False
        self.owner.state.plan = self.plan()
        return True

    def isComplete(self) -> bool:
        return self.problem() is None

    def problem(self) -> str | None:
        """Why training cannot start with these settings, or None."""
        if self.owner.task == UPSCALE and self.base_combo.count() == 0:
            return "There is no upscaling model to fine-tune: import one first (sr-studio models import)."
        if self.owner.task == UPSCALE and not self._fitting_images():
            patch = self.patch_spin.value()
            return f"Every picture is smaller than the {patch}-pixel patch: choose a smaller patch."
        if self.owner.task == UPSCALE:
            return missing_requirement(self._base_losses())
        return None

    def _base_losses(self) -> dict[str, Any]:
        """The loss terms the chosen base's recipe trained with beyond L1 (none for a PSNR model)."""
        recipe = self._base_recipes.get(self.base_combo.currentData())
        return base_losses(recipe, self.lr_spin.value())

    def _fitting_images(self) -> int:
        summary = self.owner.state.summary
        return sum(min(w, h) >= self.patch_spin.value() for _, w, h in summary.usable) if summary else 0

    def plan(self) -> Plan:
        state = self.owner.state
        upscale = self.owner.task == UPSCALE
        if state.folder is None:
            raise RuntimeError("the settings page is shown only after a folder was chosen")
        return Plan(
            task=self.owner.task,
            folder=state.folder,
            val_share=state.val_share,
            steps=self.steps_spin.value(),
            batch=self.batch_spin.value(),
            lr=self.lr_spin.value(),
            eval_every=self.eval_spin.value(),
            device=self.device_combo.currentData(),
            threads=self.threads_spin.value(),
            patch=self.patch_spin.value() if upscale else self.size_combo.currentData(),
            base=self.base_combo.currentData() if upscale else None,
            width=self.width_spin.value(),
            latent_dim=self.latent_spin.value(),
            losses=self._base_losses() if upscale else {},
        )

    # --- settings ---------------------------------------------------------------------------------
    def _preset_chosen(self, checked: bool) -> None:
        if checked:
            self._apply_preset()

    def _apply_preset(self) -> None:
        """The checked preset's steps at the rate measured for the settings shown."""
        chosen = next((i for i, radio in enumerate(self.preset_radios) if radio.isChecked()), None)
        if chosen is not None:
            self.steps_spin.setValue(self._preset_steps()[chosen])

    def _preset_steps(self) -> list[int]:
        rate = self.seconds_per_step if self.measured else None
        return [preset.steps(rate) for preset in PRESETS[self.owner.task]]

    def _steps_changed(self, steps: int) -> None:
        presets = self._preset_steps()
        if steps in presets:
            self.preset_radios[presets.index(steps)].setChecked(True)
        else:  # a custom step count: no preset applies
            self._presets.setExclusive(False)
            for radio in self.preset_radios:
                radio.setChecked(False)
            self._presets.setExclusive(True)
        self.eval_spin.setValue(max(1, steps // 10))
        self._settings_changed()

    def _probe_key(self) -> tuple[Any, ...]:
        """What the time per step depends on (not the step count)."""
        plan = self.plan()
        return (
            plan.task,
            plan.base,
            plan.batch,
            plan.patch,
            plan.device,
            plan.threads,
            plan.width,
            plan.latent_dim,
        )

    @property
    def measured(self) -> bool:
        """True when `seconds_per_step` was measured with the settings now shown."""
        return self.seconds_per_step is not None and self._measured_for == self._probe_key()

    def _settings_changed(self) -> None:
        if self.owner.task == UPSCALE:
            losses = self._base_losses()
            kept = f" (from {self.base_combo.currentData()}'s recipe)" if losses else ""
            self.loss_label.setText(describe(losses) + kept)
        fitting = self._fitting_images()
        count = len(self.owner.state.summary.usable) if self.owner.state.summary else 0
        if self.owner.task == UPSCALE and 0 < fitting < count:
            self.patch_note.setText(
                f"{count - fitting} pictures are smaller than the patch and will be skipped."
            )
        else:
            self.patch_note.setText(self.problem() or "")
        self.patch_note.setStyleSheet(ERROR_STYLE if self.problem() else "")
        self._form.setRowVisible(self.patch_note, self.owner.task == UPSCALE and bool(self.patch_note.text()))
        if self._measured_for is not None and self._measured_for != self._probe_key():
            self._remeasure.start()
        self._show_estimate()
        self.completeChanged.emit()

    # --- the estimate -----------------------------------------------------------------------------
    def measure(self) -> None:
        """Time PROBE_STEPS real steps in a child process with the current settings (writes nothing)."""
        self._remeasure.stop()
        if self.problem() is not None or self.owner.currentId() != SETTINGS:
            return
        if self.probe.running:
            self._measure_again = True
            self.probe.kill()
            return
        plan = self.plan()
        self._measure_again = False
        self.seconds_per_step, self._measured_for = None, self._probe_key()
        try:
            recipe = write_recipe(plan, plan.suggested_name(), _temporary_recipe(self.owner.run_root), None)
        except SRStudioError as error:
            self.estimate_label.setText(str(error))
            return
        self._probe_recipe = recipe
        self.estimate_label.setText("Measuring the time per step on this machine…")
        self.probe.start([str(recipe), "--probe", str(PROBE_STEPS)])

    def stop_probe(self) -> None:
        self._measure_again = False
        self._remeasure.stop()
        if self.probe.running:
            self.probe.kill()
            self.probe.wait(5000)

    def _on_probe_event(self, event: dict[str, Any]) -> None:
        if event["event"] == "probe":
            self.seconds_per_step = float(event["seconds_per_step"])
            if self.measured:  # not a probe of settings since changed, ended just before it was killed
                self._apply_preset()
            self._show_estimate()
        elif event["event"] == "error":
            self.estimate_label.setText(f"Could not measure: {event.get('message', '')}")

    def _on_probe_failed(self, message: str) -> None:
        if not self.probe.stop_requested:
            self.estimate_label.setText(f"Could not measure: {message}")

    def _on_probe_finished(self, exit_code: int) -> None:
        if self._probe_recipe is not None:
            self._probe_recipe.unlink(missing_ok=True)
            self._probe_recipe = None
        if self._measure_again:
            self.measure()

    def _show_estimate(self) -> None:
        measured = self._measured_for == self._probe_key()
        rate = self.seconds_per_step if measured else None
        presets = zip(self.preset_radios, PRESETS[self.owner.task], self._preset_steps(), strict=True)
        for radio, preset, steps in presets:
            radio.setText(
                f"{preset.label} — {steps} steps, ≈ {duration(steps * rate)}"
                if rate
                else f"{preset.label} — about {duration(preset.seconds)}"
            )
        if self.problem() is not None:
            self.estimate_label.setText("")
        elif self._measured_for is not None and not measured:
            self.estimate_label.setText("The settings changed: measuring again…")
        elif rate is None:
            if not self.probe.running:
                self.estimate_label.setText("Press Measure to time a few steps on this machine.")
        else:
            plan = self.plan()
            extra, evaluations = evaluation_seconds(plan, rate, self.owner.state.summary)
            text = (
                f"≈ {duration(plan.steps * rate)} for {plan.steps} steps on this machine "
                f"({rate:.3g} s/step, measured for {_measured_what(plan)})"
            )
            if evaluations:
                text += f", plus roughly {duration(extra)} for {evaluations} evaluations (estimated)"
            self.estimate_label.setText(text + ".")


def _measured_what(plan: Plan) -> str:
    """The settings a rate was measured with, in the user's words."""
    if plan.task == UPSCALE:
        loss = f" ({describe(plan.losses)})" if plan.losses else ""  # a GAN base's discriminator costs time
        return f"{plan.base}{loss}, batch {plan.batch}, patch {plan.patch}"
    return f"a {plan.patch}×{plan.patch} GAN of width {plan.width}, batch {plan.batch}"


def _temporary_recipe(root: Path) -> Path:
    """A fresh file for a probe's recipe (two wizards may probe at once); removed when the probe ends."""
    root.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=".probe-", suffix=".toml", dir=root)
    os.close(handle)
    return Path(name)
