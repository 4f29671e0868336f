"""The GAN tab: sample a generator from the model library as a grid, or interpolate between two seeds.

Loading the model and rendering run in a worker; the loaded model is cached (by name and weights hash) so
the next Generate starts rendering at once. A newer Generate cancels the one still running, and whatever
the older job still reports is ignored, so the view only ever shows the latest request's pictures.
"""

from __future__ import annotations

import random
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sr_studio.core import sample as sampling
from sr_studio.core.images import Picture, save_image
from sr_studio.core.jobs import CancelToken, Progress
from sr_studio.core.library import ModelCard, ModelLibrary
from sr_studio.ui.common import ModelCache
from sr_studio.ui.gan.sample_grid import SampleGrid
from sr_studio.ui.jobs import workers
from sr_studio.ui.jobs.job_status import JobStatus

GRID = "grid"
INTERPOLATE = "interpolate"
SEED_MAX = 2**31 - 1
GRID_MAX = 8
EMPTY_HINT = "No GAN models yet — train one in the wizard"


@dataclass(frozen=True)
class GenerationRequest:
    """What the user asked for when pressing Generate."""

    model: str
    mode: str  # GRID or INTERPOLATE
    seed: int
    truncation: float | None = None
    rows: int = 4
    columns: int = 4
    seed_b: int = 0
    frames: int = 8

    @property
    def count(self) -> int:
        return self.rows * self.columns if self.mode == GRID else self.frames


@dataclass(frozen=True)
class Generation:
    """The pictures a request produced, with the names the UI gives them."""

    request: GenerationRequest
    pictures: list[Picture]

    @property
    def columns(self) -> int:
        """Grids keep the requested columns; an interpolation is one strip."""
        return self.request.columns if self.request.mode == GRID else len(self.pictures)

    def caption(self, index: int) -> str:
        request = self.request
        if request.mode == GRID:
            return f"seed {request.seed}, #{index}"
        return f"seed {request.seed}→{request.seed_b}, #{index}"

    def file_name(self, index: int | None) -> str:
        """The CLI's names (core.sample.file_name); `index` None names the grid."""
        request = self.request
        return sampling.file_name(request.seed, index, None if request.mode == GRID else request.seed_b)


def generation_job(
    request: GenerationRequest, models: ModelCache, cancel: CancelToken
) -> Generator[Progress, None, Generation]:
    """Load (or reuse) the model and render the request with the core's sampling jobs, so the tab shows
    the same pictures as `sr-studio sample` for the same seed."""
    cancel.raise_if_cancelled()
    model = models.get(request.model)
    truncation = request.truncation
    if request.mode == GRID:
        job = sampling.sample_job(model, request.count, request.seed, truncation=truncation, cancel=cancel)
    else:
        job = sampling.interpolate_job(
            model, request.seed, request.seed_b, request.frames, truncation=truncation, cancel=cancel
        )
    pictures = yield from job
    return Generation(request, pictures)


def save_job(
    path: Path, pictures: Sequence[Picture], columns: int | None, cancel: CancelToken
) -> Generator[Progress, None, Path]:
    """Write one picture, or with `columns` the grid of all of them (a big grid takes longer than a frame)."""
    cancel.raise_if_cancelled()
    yield Progress(0, 1, "files", info={"file": str(path)})
    picture = pictures[0] if columns is None else sampling.grid(pictures, columns)
    return save_image(picture, path, overwrite=True)  # the file dialog has asked before replacing a file


def describe(card: ModelCard, *, full: bool = False) -> str:
    """The model combo's line, "name — 64×64"; `full` adds the description (for its tooltip)."""
    size = card.arguments.get("image_size")
    parts = [card.name, f"{size}×{size}" if size else "size unknown"]
    return " — ".join([*parts, card.description] if full and card.description else parts)


class GanTab(QWidget):
    """Sample a GAN generator: seed, grid size, truncation, interpolation; save or upscale a sample."""

    upscaleRequested = Signal(object)  # Picture: the selected sample
    samplesReady = Signal()  # new results are on screen
    saved = Signal(str)  # the path a save wrote

    def __init__(
        self, library: ModelLibrary, *, pool: workers.Pool | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.library = library
        self.pool = pool
        self.models = ModelCache(library)
        self.generation: Generation | None = None
        self.samples: list[Picture] = []
        self.selected_index: int | None = None
        self.jobs = JobStatus(pool)  # one generation at a time: a newer one cancels and replaces it
        self.jobs.failed.connect(self._show_error)
        self._save_dir = Path(
            QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation) or Path.home()
        )
        self._build()
        self.refresh_models()

    # ------------------------------------------------------------------------------------------ layout

    def _build(self) -> None:
        self.hint_label = QLabel(EMPTY_HINT)
        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(20)

        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, SEED_MAX)
        self.randomize_button = QPushButton("Randomize")
        self.randomize_button.clicked.connect(self.randomize_seed)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_spin, 1)
        seed_row.addWidget(self.randomize_button)

        self.mode_combo = QComboBox()
        self.mode_combo.addItem("Grid", GRID)
        self.mode_combo.addItem("Interpolate", INTERPOLATE)
        self.mode_combo.currentIndexChanged.connect(self._show_mode_options)

        self.rows_spin, self.columns_spin = (self._spin(1, GRID_MAX, 4) for _ in range(2))
        grid_row = QHBoxLayout()
        grid_row.addWidget(self.rows_spin)
        grid_row.addWidget(QLabel("×"))
        grid_row.addWidget(self.columns_spin)
        self.grid_options = QWidget()
        self.grid_options.setLayout(grid_row)
        grid_row.setContentsMargins(0, 0, 0, 0)

        self.seed_b_spin = self._spin(0, SEED_MAX, 1)
        self.frames_spin = self._spin(2, 32, 8)

        self.truncation_check = QCheckBox("Truncation")
        self.truncation_spin = QDoubleSpinBox()
        self.truncation_spin.setRange(0.5, 3.0)
        self.truncation_spin.setSingleStep(0.1)
        self.truncation_spin.setValue(1.0)
        self.truncation_spin.setEnabled(False)
        self.truncation_check.toggled.connect(self.truncation_spin.setEnabled)

        self.form = QFormLayout()
        self.form.addRow("Model", self.model_combo)
        self.form.addRow("Seed", seed_row)
        self.form.addRow("Mode", self.mode_combo)
        self.form.addRow("Rows × columns", self.grid_options)
        self.form.addRow("Seed B", self.seed_b_spin)
        self.form.addRow("Frames", self.frames_spin)
        self.form.addRow(self.truncation_check, self.truncation_spin)

        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.generate)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b00020")
        self.error_label.setVisible(False)
        self.status_label = QLabel()

        controls = QVBoxLayout()
        controls.addWidget(self.hint_label)
        controls.addLayout(self.form)
        controls.addWidget(self.generate_button)
        controls.addWidget(self.jobs)
        controls.addWidget(self.error_label)
        controls.addWidget(self.status_label)
        controls.addStretch(1)

        self.view = SampleGrid()
        self.view.itemSelectionChanged.connect(self._on_selection_changed)

        self.selection_label = QLabel("Nothing selected")
        self.save_selected_button = QPushButton("Save selected…")
        self.save_selected_button.clicked.connect(self.save_selected)
        self.save_grid_button = QPushButton("Save grid…")
        self.save_grid_button.clicked.connect(self.save_grid)
        self.upscale_button = QPushButton("Upscale selected")
        self.upscale_button.clicked.connect(self.upscale_selected)
        actions = QHBoxLayout()
        actions.addWidget(self.selection_label, 1)
        for button in (self.save_selected_button, self.save_grid_button, self.upscale_button):
            actions.addWidget(button)

        results = QVBoxLayout()
        results.addWidget(self.view, 1)
        results.addLayout(actions)

        layout = QHBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(results, 1)
        self._show_mode_options()
        self._update_actions()

    @staticmethod
    def _spin(low: int, high: int, value: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setValue(value)
        return spin

    def _show_mode_options(self) -> None:
        grid = self.mode == GRID
        self.form.setRowVisible(self.grid_options, grid)
        self.form.setRowVisible(self.seed_b_spin, not grid)
        self.form.setRowVisible(self.frames_spin, not grid)

    # ------------------------------------------------------------------------------------------ models

    def refresh_models(self) -> None:
        """List the library's samplers again (after a training run or an import), keeping the choice."""
        current = self.model_combo.currentData()
        if current is None and (default := self.library.default("sample")) is not None:
            current = default.name
        self.model_combo.clear()
        for entry in self.library.entries("sample"):
            self.model_combo.addItem(describe(entry.card), entry.name)
            self.model_combo.setItemData(
                self.model_combo.count() - 1, describe(entry.card, full=True), Qt.ItemDataRole.ToolTipRole
            )
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(current)))
        empty = self.model_combo.count() == 0
        self.hint_label.setVisible(empty)
        self.model_combo.setEnabled(not empty)
        self.generate_button.setEnabled(not empty)

    @property
    def mode(self) -> str:
        return self.mode_combo.currentData()

    def request(self) -> GenerationRequest:
        """The request the controls describe now."""
        return GenerationRequest(
            model=self.model_combo.currentData(),
            mode=self.mode,
            seed=self.seed_spin.value(),
            truncation=self.truncation_spin.value() if self.truncation_check.isChecked() else None,
            rows=self.rows_spin.value(),
            columns=self.columns_spin.value(),
            seed_b=self.seed_b_spin.value(),
            frames=self.frames_spin.value(),
        )

    def randomize_seed(self) -> None:
        self.seed_spin.setValue(random.randint(0, SEED_MAX))

    # -------------------------------------------------------------------------------------- generation

    def generate(self) -> None:
        """Start rendering the current request in a worker, cancelling one still running."""
        if self.model_combo.currentData() is None:
            return
        self._show_error("")
        self.status_label.clear()
        job = partial(generation_job, self.request(), self.models)
        self.jobs.start(job, self._on_generated, "loading the model…")

    @property
    def job(self) -> workers.JobHandle | None:
        """The generation running now, None when idle."""
        return self.jobs.job

    def _on_generated(self, generation: Generation) -> None:
        """The latest generation's pictures (JobStatus drops a replaced one's)."""
        self.generation = generation
        self.samples = list(generation.pictures)
        self.selected_index = None
        wrap = generation.request.mode == INTERPOLATE  # a long strip wraps to fit the window
        self.view.show_pictures(self.samples, generation.columns, generation.caption, wrap=wrap)
        self._update_actions()
        self.samplesReady.emit()

    # --------------------------------------------------------------------------------------- selection

    def _on_selection_changed(self) -> None:
        self.selected_index = self.view.selected_index()
        self._update_actions()

    def select(self, index: int | None) -> None:
        """Select sample `index` (None clears), as a click on its thumbnail does."""
        self.view.select(index)

    @property
    def selected_picture(self) -> Picture | None:
        return None if self.selected_index is None else self.samples[self.selected_index]

    def _update_actions(self) -> None:
        chosen = self.selected_index is not None and self.generation is not None
        self.selection_label.setText(
            self.generation.caption(self.selected_index) if chosen else "Nothing selected"
        )
        self.save_selected_button.setEnabled(chosen)
        self.upscale_button.setEnabled(chosen)
        self.save_grid_button.setEnabled(bool(self.samples))

    def upscale_selected(self) -> None:
        """Hand the selected sample to whoever upscales pictures (the main window)."""
        if self.selected_picture is not None:
            self.upscaleRequested.emit(self.selected_picture)

    # ------------------------------------------------------------------------------------------ saving

    def save_selected(self) -> None:
        if self.generation is not None and self.selected_picture is not None:
            name = self.generation.file_name(self.selected_index)
            self._save("Save sample", name, [self.selected_picture], None)

    def save_grid(self) -> None:
        if self.generation is not None and self.samples:
            name = self.generation.file_name(None)
            self._save("Save grid", name, self.samples, self.generation.columns)

    def _save(self, title: str, name: str, pictures: Sequence[Picture], columns: int | None) -> None:
        chosen, _ = QFileDialog.getSaveFileName(self, title, str(self._save_dir / name), "PNG image (*.png)")
        if not chosen:
            return
        path = Path(chosen)
        if not path.suffix:
            path = path.with_suffix(".png")
        self._save_dir = path.parent
        self._show_error("")
        job = partial(save_job, path, list(pictures), columns)
        workers.start_job(job, self.pool, finished=self._on_saved, failed=self._show_error)

    def _on_saved(self, path: Path) -> None:
        self.status_label.setText(f"Saved {path.name}")
        self.saved.emit(str(path))

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
