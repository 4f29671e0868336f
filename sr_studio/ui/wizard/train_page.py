"""The wizard's training page: the job's progress, loss and quality curves, latest preview and log.

The job is a child process (training_process.py); this page starts it, draws what it reports, and
replays a stopped run's events.jsonl before resuming it, so its curves continue where they left off.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from sr_studio.core.errors import SRStudioError
from sr_studio.core.estimate import duration, eta_text
from sr_studio.train.protocol import CHECKPOINT
from sr_studio.ui.wizard.curves import CurvePlot
from sr_studio.ui.wizard.plan import (
    UPSCALE,
    Plan,
    new_run_dir,
    recipe_path,
    unique_name,
    write_recipe,
)
from sr_studio.ui.wizard.state import RunOutcome
from sr_studio.ui.wizard.training_process import TrainingProcess, UnfinishedRun, read_events
from sr_studio.ui.wizard.widgets import text_label

if TYPE_CHECKING:
    from sr_studio.ui.wizard.wizard import FineTuneWizard

PREVIEW_HEIGHT = 180  # pixels for the before/after strip or the sample grid
STOP_TIMEOUT_MS = 120_000  # a large model's checkpoint on a slow disk


class TrainPage(QWizardPage):
    """The running job: progress, curves, the latest preview, warnings; Cancel checkpoints, Resume goes on."""

    def __init__(self, owner: FineTuneWizard) -> None:
        super().__init__()
        self.owner = owner
        self.setTitle("Training")
        self.setCommitPage(True)  # the finish page cannot go back to a finished job
        self.setButtonText(QWizard.WizardButton.CommitButton, "Next")
        self.process = TrainingProcess(self)
        self.run_dir: Path | None = None
        self.task = UPSCALE
        self.name = ""
        self.done_event: dict[str, Any] | None = None
        self.baseline_metrics: dict[str, Any] = {}  # the step-0 yardsticks
        self.base_name: str | None = None
        self.preview_path: str | None = None
        self.stopped = False
        self._recipe: Path | None = None

        self.status_label = text_label()
        self.progress_bar = QProgressBar()
        self.eta_label = QLabel()
        self.loss_plot = CurvePlot("Training loss", log_y=True)
        self.quality_plot = CurvePlot("Validation PSNR (dB)")
        self.preview_label = QLabel()
        self.preview_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_label.setFixedHeight(PREVIEW_HEIGHT)
        self.preview_caption = QLabel()
        self.preview_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(500)
        self.log_view.setMaximumHeight(80)
        self.error_label = text_label(error=True)
        self.error_label.hide()
        self.cancel_button = QPushButton("Cancel training")
        self.resume_button = QPushButton("Resume")
        self.resume_button.hide()

        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.eta_label)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.quality_plot)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addLayout(progress_row)
        layout.addLayout(plots, 1)
        layout.addWidget(self.preview_label)
        layout.addWidget(self.preview_caption)
        layout.addWidget(self.log_view)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)

        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button.clicked.connect(self.resume)
        self.process.event.connect(self._on_event)
        self.process.message.connect(self._log)
        self.process.failed.connect(self._on_failed)
        self.process.finished.connect(self._on_finished)

    @property
    def running(self) -> bool:
        return self.process.running

    # --- starting ---------------------------------------------------------------------------------
    def initializePage(self) -> None:
        self._reset()
        state = self.owner.state
        if state.resume is not None:
            self._open_run(state.resume)
        elif state.plan is not None:
            self._start_new(state.plan)

    def cleanupPage(self) -> None:
        self.stop_and_wait(STOP_TIMEOUT_MS)

    def _reset(self) -> None:
        self.run_dir, self.done_event, self.preview_path, self.base_name = None, None, None, None
        self.owner.state.outcome = None
        self.baseline_metrics, self.stopped = {}, False
        self.loss_plot.clear()
        self.quality_plot.clear()
        self.preview_label.clear()
        self.preview_caption.clear()
        self.log_view.clear()
        self.error_label.hide()
        self.progress_bar.setRange(0, 0)
        self.eta_label.clear()

    def _set_task(self, task: str) -> None:
        self.task = task
        self.quality_plot.title = (
            "Validation PSNR (dB)" if task == UPSCALE else "Fréchet distance (lower is better)"
        )

    def _start_new(self, plan: Plan) -> None:
        self._set_task(plan.task)
        taken = {entry.name for entry in self.owner.library.entries()}
        self.name = unique_name(plan.suggested_name(), taken)
        self.run_dir = new_run_dir(self.owner.run_root, self.name)
        try:
            self._recipe = write_recipe(plan, self.name, recipe_path(self.run_dir), self.run_dir / "model")
        except (SRStudioError, OSError) as error:
            self._show_error(str(error))
            self._update_buttons()
            return
        self._launch([str(self._recipe), "--run-dir", str(self.run_dir)], "Starting…")

    def _open_run(self, run: UnfinishedRun) -> None:
        """Show what an unfinished run had reached (its curves and last preview), then resume it."""
        self._set_task(run.task)
        self.name, self.run_dir = run.name, run.run_dir
        for event in read_events(run.run_dir):
            if event["event"] in ("start", "step", "eval", "checkpoint"):
                self._show(event)
        self.resume()

    def resume(self) -> None:
        """Continue the run from its last checkpoint (`--resume`), to the same total number of steps."""
        if self.running or self.run_dir is None:
            return
        self.stopped = False
        self.error_label.hide()
        self._launch(["--resume", str(self.run_dir)], "Resuming…")

    def _launch(self, args: list[str], status: str) -> None:
        self.status_label.setText(status + " (loading the training engine takes a few seconds)")
        self.process.start(args, run_dir=self.run_dir)
        self._update_buttons()

    # --- stopping ---------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the job to checkpoint and stop; Resume continues it later (also from page 1 next time)."""
        if self.running and not self.process.stop_requested:
            self.process.stop()
            self.status_label.setText("Stopping (saving a checkpoint)…")
            self._update_buttons()

    def stop_and_wait(self, timeout_ms: int) -> bool:
        """Stop the job and block until it has exited; True if it checkpointed and said `stopped`."""
        if not self.running:
            return True
        self.cancel()
        if not self.process.wait(timeout_ms):
            self.process.kill()
            self.process.wait(10_000)
        return self.stopped

    # --- events -----------------------------------------------------------------------------------
    def _on_event(self, event: dict[str, Any]) -> None:
        self._show(event)
        kind = event["event"]
        if kind == "start":
            self.base_name = event.get("base")
            self._log_start(event)
        elif kind == "checkpoint":
            self.eta_label.setToolTip(f"last checkpoint at step {event.get('step')}")
        elif kind == "done":
            self.done_event = event
            self.owner.state.outcome = RunOutcome(
                self.task, self.name, self.run_dir, event, self.baseline_metrics, self.base_name
            )
            self.progress_bar.setValue(self.progress_bar.maximum())
            self.eta_label.setText("")
            self.status_label.setText(
                f"Done: {event.get('step')} steps in {duration(float(event.get('seconds', 0)))}. "
                "Next shows the results and saves the model."
            )
            self.completeChanged.emit()
        elif kind == "stopped":
            self.stopped = True
            self.status_label.setText(
                f"Stopped at step {event.get('step')}; a checkpoint is saved, Resume continues from there."
            )
        elif kind == "error":
            self._show_error(str(event.get("message", "the training job failed")))

    def _show(self, event: dict[str, Any]) -> None:
        """Update the progress, curves and preview from an event (live, or replayed from events.jsonl)."""
        kind = event["event"]
        if kind == "start":
            steps, step = int(event.get("steps", 1)), int(event.get("step", 0))
            self.progress_bar.setRange(0, steps)
            self.progress_bar.setValue(step)
            for plot in (self.loss_plot, self.quality_plot):
                plot.set_x_range(steps)
                plot.truncate(step)  # a resumed run repeats the steps after its checkpoint
        elif kind == "step":
            step = int(event["step"])
            self.progress_bar.setValue(step)
            self.eta_label.setText(eta_text(event.get("eta_s")))
            if self.task == UPSCALE:
                self._add(self.loss_plot, "loss", step, event.get("loss"))
                self._add(self.loss_plot, "discriminator", step, event.get("discriminator"))  # GAN bases
            else:
                self._add(self.loss_plot, "generator", step, event.get("loss"))
                self._add(self.loss_plot, "discriminator", step, event.get("discriminator"))
            self.status_label.setText(f"Step {step} of {event.get('of')} — loss {event.get('loss', 0):.4g}")
        elif kind == "eval":
            self._show_eval(event)
        elif kind in ("checkpoint", "stopped"):
            self.progress_bar.setValue(int(event["step"]))

    def _show_eval(self, event: dict[str, Any]) -> None:
        metrics, step = event.get("metrics") or {}, int(event.get("step", 0))
        model = metrics.get("model") or {}
        if step == 0:
            self.baseline_metrics = metrics
        if self.task == UPSCALE:
            self._add(self.quality_plot, "fine-tuned", step, model.get("psnr"))
            for key, label in (("bicubic", "bicubic"), ("base", "base model")):
                if "psnr" in metrics.get(key, {}):
                    self.quality_plot.set_reference(label, metrics[key]["psnr"])
        else:
            self._add(self.quality_plot, "Fréchet", step, model.get("frechet"))
            for key, label in (("untrained", "untrained"), ("real_halves", "real vs real")):
                if "frechet" in metrics.get(key, {}):
                    self.quality_plot.set_reference(label, metrics[key]["frechet"])
        preview = event.get("preview")
        if preview and Path(preview).is_file():
            pixmap = QPixmap(preview)
            if not pixmap.isNull():
                self.preview_path = preview
                self.preview_label.setPixmap(_fit(pixmap, self.preview_label))
                caption = "bicubic | model | original" if self.task == UPSCALE else "fixed-seed samples"
                self.preview_caption.setText(f"{caption} — step {step}")

    @staticmethod
    def _add(plot: CurvePlot, series: str, step: int, value: Any) -> None:
        if isinstance(value, int | float):
            plot.add_point(series, step, float(value))

    def _log_start(self, event: dict[str, Any]) -> None:
        verb = f"Resumed at step {event.get('step')}" if event.get("resumed") else "Started"
        self._log(
            f"{verb}: {event.get('train_images')} training and {event.get('val_images')} validation images, "
            f"on {event.get('device')} ({event.get('precision')})."
        )
        for path, reason in event.get("skipped") or []:
            self._log(f"skipped {Path(path).name}: {reason}")
        for warning in event.get("warnings") or []:
            self._log(f"warning: {warning}")

    def _log(self, line: str) -> None:
        self.log_view.appendPlainText(line)

    def _on_failed(self, message: str) -> None:
        if not self.process.stop_requested:  # a job stopped before its handler was set: not an error
            self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()

    def _on_finished(self, exit_code: int) -> None:
        if self._recipe is not None:  # the run folder keeps its own copy, config.toml
            self._recipe.unlink(missing_ok=True)
            self._recipe = None
        if self.process.stop_requested and not self.stopped:
            self.status_label.setText("Stopped before training began.")
        self.eta_label.setText("")
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.running
        resumable = (
            not running
            and self.done_event is None
            and self.run_dir is not None
            and (self.run_dir / CHECKPOINT).is_file()
        )
        self.cancel_button.setEnabled(running and not self.process.stop_requested)
        self.resume_button.setVisible(resumable)
        self.completeChanged.emit()
        self.owner.update_back_button()

    def isComplete(self) -> bool:
        return self.done_event is not None and not self.running


def _fit(pixmap: QPixmap, label: QLabel) -> QPixmap:
    """Small previews are enlarged with nearest neighbour (pixels stay pixels); large ones shrink smoothly."""
    height, width = label.height(), max(label.width(), PREVIEW_HEIGHT)
    if pixmap.width() <= width and pixmap.height() <= height:
        factor = max(1, min(width // pixmap.width(), height // pixmap.height()))
        return pixmap.scaled(pixmap.size() * factor, mode=Qt.TransformationMode.FastTransformation)
    return pixmap.scaled(
        width, height, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
