"""The wizard's last page: before/after numbers, a name, and "Save to library and use it now"."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLineEdit, QWizard, QWizardPage

from sr_studio.core.errors import SRStudioError
from sr_studio.core.library import check_name
from sr_studio.train.fine_tune import trains_texture
from sr_studio.ui.wizard.plan import SAMPLE, unique_name
from sr_studio.ui.wizard.widgets import text_label

if TYPE_CHECKING:
    from sr_studio.ui.wizard.wizard import FineTuneWizard


class FinishPage(QWizardPage):
    """Finish installs the model; a name problem keeps the page open and says why, inline."""

    def __init__(self, owner: FineTuneWizard) -> None:
        super().__init__()
        self.owner = owner
        self.setTitle("Results")
        self.setButtonText(QWizard.WizardButton.FinishButton, "Save to library and use it now")
        self.metrics_label = text_label()
        self.metrics_label.setTextFormat(Qt.TextFormat.RichText)
        self.name_edit = QLineEdit()
        self.name_error = text_label(error=True)
        self.name_error.hide()
        self.run_label = text_label()
        self._taken: set[str] = set()  # the library's names, read once when the page shows
        form = QFormLayout(self)
        form.addRow(self.metrics_label)
        form.addRow(self.run_label)
        form.addRow("Model name:", self.name_edit)
        form.addRow("", self.name_error)
        self.name_edit.textChanged.connect(self._check_name)

    def initializePage(self) -> None:
        outcome = self.owner.state.outcome
        if outcome is None:  # the train page lets the user on only after `done`
            return
        metrics = outcome.done.get("metrics") or {}
        texture = outcome.run_dir is not None and trains_texture(_read(outcome.run_dir / "config.toml"))
        self.metrics_label.setText(
            metrics_html(outcome.task, metrics, outcome.baseline, outcome.base_name, texture=texture)
        )
        self.run_label.setText(f"The run's recipe, checkpoints, previews and log stay in {outcome.run_dir}.")
        self._taken = {entry.name for entry in self.owner.library.entries()}
        self.name_edit.setText(unique_name(outcome.name, self._taken))

    def name_problem(self) -> str | None:
        name = self.name_edit.text().strip()
        try:
            check_name(name)
        except ValueError as error:
            return str(error)
        if name in self._taken:
            return f"a model named {name} already exists; choose another name"
        return None

    def _check_name(self) -> None:
        problem = self.name_problem()
        self.name_error.setText(problem or "")
        self.name_error.setVisible(problem is not None)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.name_problem() is None

    def validatePage(self) -> bool:
        """Install the run's model under the chosen name; a problem shows inline and keeps the page."""
        outcome = self.owner.state.outcome
        card = outcome.done.get("card") if outcome is not None else None
        name = self.name_edit.text().strip()
        try:
            if not card:
                raise SRStudioError("the run produced no model")
            self.owner.library.install(Path(card), name=name)
        except SRStudioError as error:
            self.name_error.setText(str(error))
            self.name_error.show()
            return False
        self.owner.modelReady.emit(name)
        return True


def _images(count: Any) -> str:
    return "1 image" if count == 1 else f"{count} images"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def metrics_html(
    task: str,
    metrics: dict[str, Any],
    baseline: dict[str, Any],
    base: str | None = None,
    *,
    texture: bool = False,
) -> str:
    """The finish page's before/after numbers; `baseline` is the step-0 evaluation (a GAN's yardsticks).
    A `texture` run (a perceptual or GAN loss) trades PSNR for detail, so its PSNR is not called a gain and
    its periodic artefact index stands beside the originals'."""
    if task == SAMPLE:
        final = (metrics.get("model") or {}).get("frechet")
        if final is None:
            return "No Fréchet distance was measured."
        lines = [f"Fréchet distance to your pictures (lower is better): <b>{final:.2f}</b>"]
        if "frechet" in baseline.get("untrained", {}):
            lines.append(f"untrained generator: {baseline['untrained']['frechet']:.2f}")
        if "frechet" in baseline.get("real_halves", {}):
            lines.append(
                f"one half of your pictures against the other: {baseline['real_halves']['frechet']:.2f}"
            )
        lines.append(
            f"measured on {_images(metrics.get('images'))}, in the features of a fixed random network: "
            "comparable within this app, not with published FIDs"
        )
        return "<br>".join(lines)
    if "model" not in metrics:
        return "No validation images, so nothing was measured; the model is saved all the same."
    rows = [
        ("Bicubic", metrics.get("bicubic")),
        (f"Base model ({base})" if base else "Base model", metrics.get("base")),
        ("Fine-tuned", metrics["model"]),
    ]
    cells = "".join(
        f"<tr><td>{label}</td><td align=right>{m['psnr']:.2f} dB</td>"
        f"<td align=right>{m['ssim']:.4f}</td></tr>"
        for label, m in rows
        if m
    )
    model = metrics["model"]["psnr"]
    gains = [
        f"{model - metrics[key]['psnr']:+.2f} dB over {label}"
        for key, label in (("base", "the base model"), ("bicubic", "bicubic"))
        if key in metrics
    ]
    table = f"<table cellspacing=6><tr><th></th><th>PSNR (Y)</th><th>SSIM (Y)</th></tr>{cells}</table>"
    measured = f"measured on {_images(metrics.get('images'))} held back from training"
    if not texture:
        return f"{table}Gain: <b>{', '.join(gains)}</b><br>{measured}"
    lines = [f"{table}PSNR: {', '.join(gains)}, {measured}"]
    artefact = metrics["model"].get("artefact_index")
    original = (metrics.get("original") or baseline.get("original") or {}).get("artefact_index")
    if artefact is not None and original is not None:
        lines.append(
            f"Periodic artefact index: <b>{artefact:.2f}</b> (the originals: {original:.2f}; "
            "well above twice theirs, a regular grid shows)"
        )
    lines.append(
        "A GAN-sharpened model trades PSNR for texture: compare its pictures with the base model's "
        "before you keep it."
    )
    return "<br>".join(lines)
