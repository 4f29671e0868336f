"""The main window: open a picture, preview and run an upscale, compare two models, save the result.

Every pixel operation (loading, converting, upscaling, saving) runs as a worker job, so the GUI thread only
moves finished QImages into the split view. One job at a time drives the Upscale tab; opening another
picture cancels it, and the signals of a job that has been replaced are ignored (`_current`), so a late
result can never land on the wrong picture. Torch is never imported while the window is being built: the
first model load (in a worker) brings it in, and the device list is filled from a worker after the window
has been on screen for a moment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QMimeData, QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sr_studio import __version__
from sr_studio.core.images import Picture, load_image, save_image
from sr_studio.core.jobs import CancelToken, Progress
from sr_studio.core.library import ModelLibrary
from sr_studio.core.upscale import UpscaleResult, parse_tile, upscale_job
from sr_studio.ui import workers
from sr_studio.ui.batch_dialog import BatchDialog, eta_text
from sr_studio.ui.gan_tab import GanTab, ModelCache
from sr_studio.ui.qimage import picture_to_qimage, qimage_to_picture
from sr_studio.ui.settings import Settings
from sr_studio.ui.split_view import SplitView

if TYPE_CHECKING:
    from sr_studio.core.library import LoadedModel, ModelEntry

APP_TITLE = "SR Studio"
PREVIEW_MAX_SIDE = 256  # input pixels a side: a preview answers in a second or two on a CPU
DEVICE_PROBE_DELAY_MS = 500  # after the window shows: listing devices imports torch (in a worker)
SAVE_FILTERS = {
    "png": "PNG image (*.png)",
    "jpg": "JPEG image (*.jpg *.jpeg)",
    "webp": "WebP image (*.webp)",
    "tif": "TIFF image (*.tif *.tiff)",
}
QUALITY_FORMATS = frozenset({"jpg", "webp"})
_EXTENSION_ALIASES = {"jpeg": "jpg", "tiff": "tif"}
TILE_CHOICES = (
    ("Automatic", "auto"),
    ("Whole image", "none"),
    *((f"{n} px", str(n)) for n in (64, 128, 256, 512)),
)
NO_MODEL_HINT = "No upscaling model is installed: import one with `sr-studio models import FILE`"
ERROR_STYLE = "background: #fdecea; color: #b71c1c; padding: 4px 8px; border-radius: 3px;"


# ---------------------------------------------------------------------------------------- pure helpers


@dataclass(frozen=True)
class Opened:
    """A picture ready to show: the pixels, their display copy and what to call it."""

    picture: Picture
    image: QImage
    name: str
    path: Path | None = None


@dataclass(frozen=True)
class Upscaled:
    """A finished upscale and its display copy."""

    result: UpscaleResult
    image: QImage


@dataclass(frozen=True)
class Compared:
    """Two models' results on the same picture: A shown left, B right."""

    a: Upscaled
    b: Upscaled


@dataclass(frozen=True)
class Previewed:
    """An upscaled crop and where it sits in the output."""

    image: QImage
    region: QRect


@dataclass(frozen=True)
class Crop:
    """A preview crop in input pixels: the core the user sees and the padded area given to the network."""

    core: tuple[int, int, int, int]  # x0, y0, x1, y1
    padded: tuple[int, int, int, int]


def preview_crop(
    visible: tuple[float, float, float, float],
    width: int,
    height: int,
    pad: int,
    max_side: int = PREVIEW_MAX_SIDE,
) -> Crop:
    """The input region behind a visible region (x0, y0, x1, y1 in input pixels), at most max_side² pixels
    around its centre, plus `pad` pixels of context on each side (the network's receptive radius)."""
    x0, y0, x1, y1 = visible
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

    def span(low: float, high: float, centre: float, size: int) -> tuple[int, int]:
        start, stop = max(0, math.floor(low)), min(size, math.ceil(high))
        if stop - start > max_side:
            start = min(max(0, round(centre - max_side / 2)), size - max_side)
            stop = start + max_side
        if stop <= start:  # nothing visible: the middle of the picture
            start = max(0, min(size - 1, int(centre)))
            stop = start + 1
        return start, stop

    cx0, cx1 = span(x0, x1, cx, width)
    cy0, cy1 = span(y0, y1, cy, height)
    padded = (max(0, cx0 - pad), max(0, cy0 - pad), min(width, cx1 + pad), min(height, cy1 + pad))
    return Crop((cx0, cy0, cx1, cy1), padded)


def default_save_name(stem: str, scale: int, extension: str) -> str:
    """`{stem}_x{scale}.{ext}`, as the CLI names its outputs."""
    return f"{stem}_x{scale}.{extension}"


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


def normalised_extension(path: Path) -> str:
    """The save format of a path's extension in the settings' spelling ("jpeg" → "jpg"), "" if none."""
    extension = path.suffix.lower().lstrip(".")
    return _EXTENSION_ALIASES.get(extension, extension)


def local_paths(mime: QMimeData) -> list[Path]:
    """The local files and folders named by dropped or pasted URLs."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


# ---------------------------------------------------------------------------------- worker-side jobs


def _open_file(path: Path, cancel: CancelToken) -> Generator[Progress, None, Opened]:
    yield Progress(0, 1, "loading", info={"text": f"opening {path.name}…"})
    picture = load_image(path)
    cancel.raise_if_cancelled()
    return Opened(picture, picture_to_qimage(picture), path.name, path)


def _open_image(image: QImage, name: str, cancel: CancelToken) -> Generator[Progress, None, Opened]:
    yield Progress(0, 1, "loading", info={"text": f"reading the {name} picture…"})
    picture = qimage_to_picture(image)
    return Opened(picture, picture_to_qimage(picture), name)


def _labelled(job: Generator[Progress, None, Any], label: str) -> Generator[Progress, None, Any]:
    """`job`'s events tagged with `label` (A or B in a comparison)."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        yield replace(event, info={**event.info, "label": label})


def _load_model(models: ModelCache, name: str) -> Generator[Progress, None, LoadedModel]:
    yield Progress(0, 1, "model", info={"text": f"loading {name}…"})
    return models.get(name)


def _upscale(
    picture: Picture, models: ModelCache, name: str, options: dict[str, Any], cancel: CancelToken
) -> Generator[Progress, None, Upscaled]:
    model = yield from _load_model(models, name)
    result = yield from upscale_job(picture, model, cancel=cancel, **options)
    return Upscaled(result, picture_to_qimage(result.picture))


def _compare(
    picture: Picture, models: ModelCache, names: tuple[str, str], options: dict[str, Any], cancel: CancelToken
) -> Generator[Progress, None, Compared]:
    a = yield from _labelled(_upscale(picture, models, names[0], options, cancel), "A")
    b = yield from _labelled(_upscale(picture, models, names[1], options, cancel), "B")
    return Compared(a, b)


def _preview(
    picture: Picture,
    models: ModelCache,
    name: str,
    visible: tuple[float, float, float, float],
    options: dict[str, Any],
    cancel: CancelToken,
) -> Generator[Progress, None, Previewed]:
    """Upscale the crop behind the view, with context around it, and keep only the core."""
    model = yield from _load_model(models, name)
    scale, pad = int(model.scale or 1), int(model.receptive_radius or 0)
    x0, y0, x1, y1 = (v / scale for v in visible)
    crop = preview_crop((x0, y0, x1, y1), picture.width, picture.height, pad)
    px0, py0, px1, py1 = crop.padded
    x0, y0, x1, y1 = crop.core
    piece = replace(picture, pixels=np.ascontiguousarray(picture.pixels[py0:py1, px0:px1]))
    result = yield from upscale_job(piece, model, cancel=cancel, **options)
    top, left = (y0 - py0) * scale, (x0 - px0) * scale
    core = result.picture.pixels[top : top + (y1 - y0) * scale, left : left + (x1 - x0) * scale]
    image = picture_to_qimage(replace(result.picture, pixels=np.ascontiguousarray(core)))
    return Previewed(image, QRect(x0 * scale, y0 * scale, (x1 - x0) * scale, (y1 - y0) * scale))


def _save(
    picture: Picture, path: Path, quality: int | None, overwrite: bool, cancel: CancelToken
) -> Generator[Progress, None, Path]:
    yield Progress(0, 1, "saving", info={"text": f"saving {path.name}…"})
    return save_image(picture, path, quality=quality, overwrite=overwrite)


def _list_devices(cancel: CancelToken) -> Generator[Progress, None, list[tuple[str, str]]]:
    """(device, label) for every device torch sees; a job because the first torch import takes seconds."""
    yield Progress(0, 1, "devices")
    import torch

    from sr_studio.core.engine import available_devices

    devices = []
    for name in available_devices():
        if name.startswith("cuda"):
            label = f"{name} — {torch.cuda.get_device_name(torch.device(name))}"
        else:
            label = {"cpu": "CPU", "mps": "Apple GPU (MPS)"}.get(name, name)
        devices.append((name, label))
    return devices


# ------------------------------------------------------------------------------------------- window


class MainWindow(QMainWindow):
    """SR Studio's window: the Upscale tab (split view and toolbar), the GAN tab, menus and status bar."""

    imageOpened = Signal(object)  # the Picture now shown as the before
    jobProgress = Signal(object)  # each Progress of the Upscale tab's job, once shown
    jobEnded = Signal(str)  # "finished", "failed" or "cancelled", once the UI is usable again

    def __init__(
        self,
        paths: Sequence[str | Path] = (),
        *,
        library: ModelLibrary | None = None,
        settings: Settings | None = None,
        pool: workers.Pool | None = None,
    ) -> None:
        super().__init__()
        self.library = library if library is not None else ModelLibrary()
        self.settings = settings if settings is not None else Settings()
        self.pool = pool
        self.models = ModelCache(self.library)
        self.opened: Opened | None = None
        self.result: UpscaleResult | None = None  # the last full upscale, what Save writes
        self.previewed: Previewed | None = None  # the last preview shown
        self.job: workers.JobHandle | None = None
        self.batch_dialog: BatchDialog | None = None
        self.about_dialog: QWidget | None = None
        self._job_outcome = "finished"
        self._saved_path: Path | None = None
        self._devices_probed = False
        self.devices: list[str] = []  # what torch found, once the device probe has run

        self.setAcceptDrops(True)
        self.resize(1200, 800)
        self._build_actions()
        self._build_central()
        self._build_menus()
        self._build_status_bar()
        self._restore_settings()
        self._update_title()
        self._update_actions()
        if self.library.problems:
            self.show_error(f"{len(self.library.problems)} model(s) skipped: {self.library.problems[0]}")
        elif not self.model_combo.count():
            self.statusBar().showMessage(NO_MODEL_HINT)
        self.open_paths(paths)

    # ----------------------------------------------------------------------------------------- building

    def _action(
        self, text: str, slot: Callable[..., Any], shortcut: QKeySequence | str | None = None, tip: str = ""
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work whichever tab has focus
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.paste_action = self._action("&Paste", self.paste, QKeySequence.StandardKey.Paste)
        self.save_action = self._action("&Save", self.save, QKeySequence.StandardKey.Save)
        self.save_as_action = self._action("Save &As…", self.save_as, "Ctrl+Shift+S")
        self.batch_action = self._action("&Batch…", self.open_batch_dialog, "Ctrl+B")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.preview_action = self._action(
            "Preview", self.preview, "Ctrl+P", "Upscale only what the view shows, to judge the model quickly"
        )
        self.upscale_action = self._action(
            "Upscale", self.upscale, "Ctrl+Return", "Upscale the whole picture"
        )
        self.cancel_action = self._action("Cancel", self.cancel, "Esc", "Stop the running job")
        self.fit_action = self._action("Fit", self._fit, "Ctrl+0", "Show the whole picture")
        self.actual_action = self._action(
            "1:1", self._actual_size, "Ctrl+1", "One output pixel per screen pixel"
        )
        self.before_only_action = self._action(
            "Before only", self._toggle_before_after, tip="Show only the before, or the comparison (Space)"
        )
        self.smooth_action = self._action("Smooth before", self._set_smooth, tip="Draw the before bilinear")
        self.smooth_action.setCheckable(True)
        self.side_by_side_action = self._action(
            "Side by side", self._set_side_by_side, tip="Two linked panes"
        )
        self.side_by_side_action.setCheckable(True)
        self.reset_action = self._action("&Reset all settings…", self.reset_settings)
        self.about_action = self._action("&About SR Studio", self.show_about)

    def _build_central(self) -> None:
        self.view = SplitView()
        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(18)
        self.scale_combo = QComboBox()
        self.scale_combo.setToolTip("Show only the models of this scale")
        self.scale_combo.addItem("All scales", 0)
        for scale in sorted({entry.card.scale or 1 for entry in self.library.entries("upscale")}):
            self.scale_combo.addItem(f"×{scale}", scale)
        self.device_combo = QComboBox()
        self.device_combo.setToolTip("Where the network runs")
        self.device_combo.addItem("Auto (best available)", "auto")
        self.device_combo.addItem("CPU", "cpu")
        self.compare_menu = QMenu("Compare with", self)
        self.compare_menu.aboutToShow.connect(self._fill_compare_menu)
        self.compare_menu.triggered.connect(self._compare_chosen)
        self.compare_button = QToolButton()
        self.compare_button.setText("Compare")
        self.compare_button.setToolTip("Run a second model B: A on the left, B on the right")
        self.compare_button.setMenu(self.compare_menu)
        self.compare_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)

        self.toolbar = QToolBar("Upscale")
        self.toolbar.setObjectName("upscale-toolbar")
        self.toolbar.addWidget(QLabel("Model "))
        self.toolbar.addWidget(self.model_combo)
        self.toolbar.addWidget(self.scale_combo)
        self.toolbar.addWidget(QLabel(" Device "))
        self.toolbar.addWidget(self.device_combo)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.preview_action)
        self.toolbar.addAction(self.upscale_action)
        self.toolbar.addAction(self.cancel_action)
        self.toolbar.addWidget(self.compare_button)
        self.toolbar.addSeparator()
        for action in (self.smooth_action, self.side_by_side_action, self.fit_action, self.actual_action):
            self.toolbar.addAction(action)

        self.banner = QLabel()  # errors the user can act on, inline and non-modal
        self.banner.setStyleSheet(ERROR_STYLE)
        self.banner.setWordWrap(True)
        self.banner.hide()
        upscale_tab = QWidget()
        layout = QVBoxLayout(upscale_tab)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)

        self.gan_tab = GanTab(self.library, pool=self.pool)
        self.gan_tab.upscaleRequested.connect(self.upscale_picture)
        self.tabs = QTabWidget()
        self.tabs.addTab(upscale_tab, "Upscale")
        self.tabs.addTab(self.gan_tab, "GAN")
        self.setCentralWidget(self.tabs)

        self.model_combo.currentIndexChanged.connect(self._model_changed)
        self.scale_combo.currentIndexChanged.connect(self._scale_filter_changed)
        self.device_combo.currentIndexChanged.connect(self._device_changed)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.recent_menu.triggered.connect(self._recent_chosen)
        file_menu.addAction(self.paste_action)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        file_menu.addAction(self.batch_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        view_menu = bar.addMenu("&View")
        for action in (self.fit_action, self.actual_action, self.before_only_action):
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.side_by_side_action)
        view_menu.addAction(self.smooth_action)

        settings_menu = bar.addMenu("&Settings")
        tile_menu = settings_menu.addMenu("&Tile size")
        self.tile_group = QActionGroup(self)
        for label, value in TILE_CHOICES:
            action = tile_menu.addAction(label)
            action.setData(value)
            action.setCheckable(True)
            self.tile_group.addAction(action)
        self.tile_group.triggered.connect(self._tile_chosen)
        settings_menu.addSeparator()
        settings_menu.addAction(self.reset_action)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _build_status_bar(self) -> None:
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.hide()
        self.progress_label = QLabel()
        self.size_label = QLabel()
        self.run_label = QLabel()
        status = self.statusBar()
        status.addPermanentWidget(self.progress_label)
        status.addPermanentWidget(self.progress_bar)
        status.addPermanentWidget(self.run_label)
        status.addPermanentWidget(self.size_label)

    # ----------------------------------------------------------------------------------------- settings

    def _restore_settings(self) -> None:
        settings = self.settings
        if settings.window_geometry:
            self.restoreGeometry(settings.window_geometry)
        if settings.window_state:
            self.restoreState(settings.window_state)
        with _signals_blocked(self.scale_combo, self.device_combo):
            self.scale_combo.setCurrentIndex(max(0, self.scale_combo.findData(settings.scale_filter)))
            self._add_device(settings.device, settings.device)
            self.device_combo.setCurrentIndex(self.device_combo.findData(settings.device))
        default = self.library.default("upscale")
        self._fill_models(settings.model or (default.name if default is not None else None))
        self.smooth_action.setChecked(settings.smooth_before)
        self.view.set_smooth_before(settings.smooth_before)
        self.side_by_side_action.setChecked(settings.view_mode == "side_by_side")
        self.view.set_mode(settings.view_mode)
        self._check_tile(settings.upscale_tile)

    def _check_tile(self, tile: str) -> None:
        for action in self.tile_group.actions():
            action.setChecked(action.data() == tile)

    def reset_settings(self) -> None:
        """Ask, then put every setting back to its default (the window follows at once)."""
        answer = QMessageBox.question(
            self,
            "Reset settings?",
            "Put every setting back to its default? Recent files and folders are forgotten too.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.settings.reset()
        self._restore_settings()
        self._update_output_scale()
        self._update_actions()
        self.statusBar().showMessage("Settings reset to their defaults", 5000)

    # ----------------------------------------------------------------------------------- models, devices

    def _fill_models(self, wanted: str | None = None) -> None:
        """List the upscalers of the chosen scale, keeping `wanted` (else the current) selected."""
        if wanted is None:
            wanted = self.model_combo.currentData()
        scale = self.scale_combo.currentData() or 0
        entries = [e for e in self.library.entries("upscale") if not scale or e.card.scale == scale]
        with _signals_blocked(self.model_combo):
            self.model_combo.clear()
            for entry in entries:
                card = entry.card
                text = f"{entry.name} ×{card.scale}" + (f" — {card.description}" if card.description else "")
                self.model_combo.addItem(text, entry.name)
                self.model_combo.setItemData(
                    self.model_combo.count() - 1, card.description or entry.name, Qt.ItemDataRole.ToolTipRole
                )
            index = self.model_combo.findData(wanted)
            if index < 0 and (default := self.library.default("upscale")) is not None:
                index = self.model_combo.findData(default.name)
            self.model_combo.setCurrentIndex(max(0, index) if entries else -1)
        self.model_combo.setEnabled(bool(entries))
        self.model_combo.setToolTip("The upscaling model" if entries else NO_MODEL_HINT)
        self._model_changed()

    def current_model(self) -> str | None:
        return self.model_combo.currentData()

    def current_entry(self) -> ModelEntry | None:
        name = self.current_model()
        return next((e for e in self.library.entries("upscale") if e.name == name), None)

    def current_device(self) -> str:
        return self.device_combo.currentData() or "auto"

    def _model_changed(self) -> None:
        name = self.current_model()
        if name:
            self.settings.model = name
        self._update_output_scale()
        self._update_actions()

    def _scale_filter_changed(self) -> None:
        self.settings.scale_filter = int(self.scale_combo.currentData() or 0)
        self._fill_models()

    def _device_changed(self) -> None:
        self.settings.device = self.current_device()

    def _add_device(self, name: str, label: str) -> None:
        if self.device_combo.findData(name) < 0:
            self.device_combo.addItem(label, name)

    def _update_output_scale(self) -> None:
        """Tell the view the coming result's scale, so previews line up before the result exists."""
        entry = self.current_entry()
        if entry is not None and self.view.after is None:
            self.view.set_output_scale(entry.card.scale or 1)

    def probe_devices(self) -> None:
        """List the GPUs in a worker (it imports torch) and add them to the device choice."""
        if self._devices_probed:
            return
        self._devices_probed = True
        handle = workers.prepare_job()
        handle.finished.connect(self._devices_found)
        workers.launch(handle, _list_devices, self.pool)

    def _devices_found(self, devices: list[tuple[str, str]]) -> None:
        self.devices = [name for name, _ in devices]
        with _signals_blocked(self.device_combo):
            for name, label in devices:
                self._add_device(name, label)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._devices_probed:
            QTimer.singleShot(DEVICE_PROBE_DELAY_MS, self, self.probe_devices)

    # ------------------------------------------------------------------------------------------ opening

    def open_paths(self, paths: Sequence[str | Path]) -> None:
        """One file opens in the view; a folder or several files go to the batch dialog."""
        paths = [Path(path) for path in paths]
        if not paths:
            return
        if len(paths) == 1 and not paths[0].is_dir():
            self.open_file(paths[0])
        else:
            self.open_batch_dialog(inputs=paths)

    def open_file(self, path: str | Path) -> None:
        """Load `path` in a worker and show it; a file that cannot be read becomes one status line."""
        path = Path(path)
        self.settings.last_open_folder = str(path.parent.absolute())
        self._start(partial(_open_file, path), self._opened, f"Opening {path.name}…")

    def open_image(self, image: QImage, name: str = "pasted") -> None:
        """Show a QImage (pasted, dropped from another app) as a new picture without a file."""
        self._start(partial(_open_image, QImage(image), name), self._opened, f"Reading the {name} picture…")

    def open_dialog(self) -> None:
        folder = self.settings.last_open_folder or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a picture",
            folder,
            "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp *.gif *.tga *.ppm *.pgm);;All files (*)",
        )
        if path:
            self.open_file(path)

    def paste(self) -> None:
        """Paste a picture, or the files named on the clipboard."""
        clipboard = QGuiApplication.clipboard()
        mime = clipboard.mimeData()
        paths = local_paths(mime) if mime is not None else []
        if paths:
            self.open_paths(paths)
        elif mime is not None and mime.hasImage() and not clipboard.image().isNull():
            self.open_image(clipboard.image(), "pasted")
        else:
            self.show_error("the clipboard holds no picture and no image file")

    def upscale_picture(self, picture: Picture) -> None:
        """Show a picture from elsewhere (a GAN sample) as the before, and upscale it."""
        self.tabs.setCurrentIndex(0)
        self._opened(Opened(picture, picture_to_qimage(picture), "sample"))
        self.upscale()

    def _opened(self, opened: Opened) -> None:
        if not self._current():
            return
        self.opened = opened
        self.result = None
        self.previewed = None
        self._saved_path = None
        self.view.set_after(None)
        self.view.clear_preview()
        self.view.set_before(opened.image)
        self.view.set_labels("Before", "After")
        self._update_output_scale()
        self.view.fit()
        if opened.path is not None:
            self.settings.add_recent_file(opened.path)
        notes = "; ".join(opened.picture.notes)
        self.run_label.clear()
        self.statusBar().showMessage(f"Opened {opened.name}" + (f" ({notes})" if notes else ""), 5000)
        self._update_title()
        self.imageOpened.emit(opened.picture)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files
        for number, path in enumerate(recent, start=1):
            action = self.recent_menu.addAction(f"&{number % 10} {Path(path).name}")
            action.setData(path)
            action.setToolTip(path)
        if recent:
            self.recent_menu.addSeparator()
        clear = self.recent_menu.addAction("Clear the list")
        clear.setEnabled(bool(recent))

    def _recent_chosen(self, action: QAction) -> None:
        path = action.data()
        if path:
            self.open_file(path)
        else:
            self.settings.clear_recent_files()

    # --------------------------------------------------------------------------------------- drag & drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()) or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        paths = local_paths(mime)
        if paths:
            self.open_paths(paths)
        elif mime.hasImage():
            self.open_image(QImage(mime.imageData()), "dropped")
        else:
            event.ignore()
            return
        event.acceptProposedAction()

    # ---------------------------------------------------------------------------------------- upscaling

    def _options(self) -> dict[str, Any]:
        return {"device": self.current_device(), "tile": parse_tile(self.settings.upscale_tile)}

    def _ready(self) -> tuple[Opened, str] | None:
        """The picture and model an upscale would use, or None (with a message) if one is missing."""
        name = self.current_model()
        if self.opened is None:
            self.show_error("open a picture first (drop one here, or press Ctrl+O)")
        elif not name:
            self.show_error(NO_MODEL_HINT)
        else:
            return self.opened, name
        return None

    def upscale(self) -> None:
        """Upscale the whole picture with the current model, in a worker."""
        ready = self._ready()
        if ready is None:
            return
        opened, name = ready
        job = partial(_upscale, opened.picture, self.models, name, self._options())
        self._start(job, self._upscaled, f"Upscaling with {name}…")

    def _upscaled(self, upscaled: Upscaled) -> None:
        if not self._current() or self.opened is None:
            return
        result = upscaled.result
        self.result = result
        self._saved_path = None
        self.view.set_before(self.opened.image)
        self.view.set_after(upscaled.image)
        self.view.set_labels("Before", f"After: {result.model}")
        self._show_result_info(result)

    def compare(self, name_b: str) -> None:
        """Upscale with the current model (A, left) and with `name_b` (B, right), side by side in the view."""
        ready = self._ready()
        if ready is None:
            return
        opened, name_a = ready
        job = partial(_compare, opened.picture, self.models, (name_a, name_b), self._options())
        self._start(job, self._compared, f"Comparing {name_a} with {name_b}…")

    def _compared(self, compared: Compared) -> None:
        if not self._current():
            return
        a, b = compared.a.result, compared.b.result
        self.result = a
        self._saved_path = None
        self.view.set_before(compared.a.image)
        self.view.set_after(compared.b.image)
        self.view.set_labels(f"A: {a.model}", f"B: {b.model}")
        self._show_result_info(a, f"A {a.seconds:.1f} s, B {b.seconds:.1f} s — Save keeps A")

    def _fill_compare_menu(self) -> None:
        self.compare_menu.clear()
        current = self.current_model()
        for entry in self.library.entries("upscale"):
            if entry.name != current:
                action = self.compare_menu.addAction(f"{entry.name} ×{entry.card.scale}")
                action.setData(entry.name)
        if self.compare_menu.isEmpty():
            self.compare_menu.addAction("(no other upscaling model)").setEnabled(False)

    def _compare_chosen(self, action: QAction) -> None:
        if action.data():
            self.compare(action.data())

    def preview(self) -> None:
        """Upscale only what the view shows (at most ~256² input pixels) to judge the model quickly."""
        ready = self._ready()
        if ready is None:
            return
        opened, name = ready
        # A preview is drawn over the before, so the view goes back to the plain picture first.
        self.view.set_before(opened.image)
        self.view.set_after(None)
        self.view.set_labels("Before", f"Preview: {name}")
        self._update_output_scale()
        region = self.view.visible_region()
        visible = (region.left(), region.top(), region.right(), region.bottom())
        job = partial(_preview, opened.picture, self.models, name, visible, self._options())
        self._start(job, self._previewed, f"Previewing {name}…")

    def _previewed(self, previewed: Previewed) -> None:
        if self._current():
            self.previewed = previewed
            self.view.set_preview(previewed.image, previewed.region)

    def cancel(self) -> None:
        """Stop the running job at its next tile (within a second)."""
        if self.job is not None:
            self.job.cancel()
            self.cancel_action.setEnabled(False)
            self.progress_label.setText("cancelling…")

    def _show_result_info(self, result: UpscaleResult, extra: str = "") -> None:
        self.run_label.setText(
            f"{result.model} · {result.device} · {result.precision} · {result.seconds:.1f} s"
        )
        message = f"Upscaled ×{result.scale} with {result.model} in {result.seconds:.1f} s"
        self.statusBar().showMessage(f"{message} ({extra})" if extra else message, 8000)
        self._update_title()

    # ------------------------------------------------------------------------------------------- saving

    def save(self) -> None:
        """Save the result; once saved, saving again only says where it went."""
        if self._saved_path is not None and self.result is not None:
            self.statusBar().showMessage(f"Already saved as {self._saved_path}", 5000)
            return
        self.save_as()

    def save_as(self) -> None:
        """Ask where (and for JPEG/WebP, how well) to save the result; replacing a file is asked first."""
        if self.result is None or self.opened is None:
            self.show_error("nothing to save yet: upscale a picture first")
            return
        if self.busy:
            return
        extension = self.settings.output_format
        stem = self.opened.path.stem if self.opened.path is not None else self.opened.name
        folder = self.settings.last_save_folder or (
            str(self.opened.path.parent) if self.opened.path is not None else self.settings.last_open_folder
        )
        default = Path(folder or Path.home()) / default_save_name(stem, self.result.scale, extension)
        chosen, chosen_filter = QFileDialog.getSaveFileName(
            self,
            "Save the upscaled picture",
            str(default),
            ";;".join(SAVE_FILTERS.values()),
            SAVE_FILTERS[extension],
            QFileDialog.Option.DontConfirmOverwrite,  # asked below, so that overwrite=True is a real answer
        )
        if not chosen:
            return
        path = Path(chosen)
        if not normalised_extension(path):
            wanted = next((ext for ext, text in SAVE_FILTERS.items() if text == chosen_filter), extension)
            path = path.with_name(f"{path.name}.{wanted}")
        extension = normalised_extension(path)
        if extension not in SAVE_FILTERS:
            self.show_error(f"{path}: cannot save as .{extension} (use .png, .jpg, .webp or .tif)")
            return
        overwrite = path.exists()
        if overwrite and not self._confirm_overwrite(path):
            self.statusBar().showMessage("Not saved", 5000)
            return
        quality = None
        if extension in QUALITY_FORMATS:
            quality, ok = QInputDialog.getInt(
                self,
                "Quality",
                f"{extension.upper()} quality (1–100, 100: {'lossless' if extension == 'webp' else 'best'})",
                self.settings.output_quality,
                1,
                100,
            )
            if not ok:
                return
            self.settings.output_quality = quality
        self.settings.output_format = extension
        self.settings.last_save_folder = str(path.parent)
        job = partial(_save, self.result.picture, path, quality, overwrite)
        self._start(job, self._saved, f"Saving {path.name}…")

    def _confirm_overwrite(self, path: Path) -> bool:
        answer = QMessageBox.question(
            self,
            "Replace the file?",
            f"{path.name} already exists in {path.parent}. Replace it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _saved(self, path: Path) -> None:
        self._saved_path = path
        self.statusBar().showMessage(f"Saved {path}", 8000)

    # --------------------------------------------------------------------------------------------- jobs

    @property
    def busy(self) -> bool:
        """Whether the tab's job has not ended yet (as far as the GUI thread has heard)."""
        return self.job is not None

    def _start(self, factory: workers.JobFactory, on_finished: Callable[[Any], None], text: str) -> None:
        """Run `factory` as the tab's job, replacing (and cancelling) any job still running."""
        if self.job is not None:
            self.job.cancel()
        self.show_error("")
        handle = workers.prepare_job()
        handle.progress.connect(self._on_progress)
        handle.finished.connect(on_finished)
        handle.finished.connect(self._on_finished)
        handle.failed.connect(self._on_failed)
        handle.cancelled.connect(self._on_cancelled)
        handle.ended.connect(self._on_ended)
        self.job = handle
        self.progress_bar.setRange(0, 0)  # busy until the first event
        self.progress_bar.show()
        self.progress_label.setText(text)
        self._update_actions()
        workers.launch(handle, factory, self.pool)

    def _current(self) -> bool:
        """Whether the signal being handled comes from the tab's current job (or from no job at all)."""
        sender = self.sender()
        return not isinstance(sender, workers.JobHandle) or sender is self.job

    def _on_progress(self, event: Progress) -> None:
        if not self._current():
            return
        if "text" not in event.info:  # a unit of work (tile); otherwise a step of unknown length
            self.progress_bar.setRange(0, event.total)
            self.progress_bar.setValue(event.done)
        if self.job is not None and not self.job.token.cancelled:  # keep saying "cancelling…"
            self.progress_label.setText(progress_text(event))
        self.jobProgress.emit(event)

    def _on_finished(self, _result: object) -> None:
        if self._current():
            self._job_outcome = "finished"

    def _on_failed(self, message: str) -> None:
        if self._current():
            self._job_outcome = "failed"
            self.show_error(message)

    def _on_cancelled(self) -> None:
        if self._current():
            self._job_outcome = "cancelled"
            self.statusBar().showMessage("Cancelled", 5000)

    def _on_ended(self) -> None:
        if not self._current():
            return
        self.job = None
        self.progress_bar.hide()
        self.progress_label.clear()
        self._update_actions()
        self.jobEnded.emit(self._job_outcome)

    def _update_actions(self) -> None:
        busy = self.busy
        can_run = self.opened is not None and bool(self.current_model()) and not busy
        for action in (self.preview_action, self.upscale_action):
            action.setEnabled(can_run)
        self.compare_button.setEnabled(can_run)
        self.cancel_action.setEnabled(busy)
        for action in (self.save_action, self.save_as_action):
            action.setEnabled(self.result is not None and not busy)

    # ---------------------------------------------------------------------------------------- messages

    def show_error(self, message: str) -> None:
        """One line the user can act on, in the banner and the status bar; "" clears it."""
        self.banner.setText(message)
        self.banner.setVisible(bool(message))
        if message:
            self.statusBar().showMessage(message)
        else:
            self.statusBar().clearMessage()

    def _update_title(self) -> None:
        if self.opened is None:
            self.setWindowTitle(f"{APP_TITLE} {__version__}")
            self.size_label.setText("")
            return
        picture = self.opened.picture
        size = f"{picture.width}×{picture.height}"
        self.setWindowTitle(f"{self.opened.name} ({size}) — {APP_TITLE}")
        if self.result is not None:
            out = self.result.picture
            size += f" → {out.width}×{out.height}"
        self.size_label.setText(size)

    # ------------------------------------------------------------------------------------ other windows

    def open_batch_dialog(self, *, inputs: Sequence[str | Path] = ()) -> None:
        """The batch dialog, filled with `inputs` and the current model and device (non-modal)."""
        if self.batch_dialog is not None and self.batch_dialog.running:
            self.batch_dialog.raise_()
            self.show_error("a batch is already running; wait for it or cancel it first")
            return
        if self.batch_dialog is not None:
            self.batch_dialog.deleteLater()
        self.batch_dialog = BatchDialog(
            self.library,
            inputs=[Path(path) for path in inputs],
            model=self.current_model(),
            device=self.current_device(),
            devices=self.devices or None,
            pool=self.pool,
            parent=self,
        )
        self.batch_dialog.show()

    def show_about(self) -> None:
        from sr_studio.ui.about import AboutDialog  # about_text imports torch: only when asked for

        self.about_dialog = AboutDialog(self.current_device(), self)
        self.about_dialog.show()

    # -------------------------------------------------------------------------------------- view toggles

    def _fit(self) -> None:
        self.view.fit()

    def _actual_size(self) -> None:
        self.view.actual_size()

    def _toggle_before_after(self) -> None:
        self.view.toggle_before_after()

    def _set_smooth(self, smooth: bool) -> None:
        self.view.set_smooth_before(smooth)
        self.settings.smooth_before = smooth

    def _set_side_by_side(self, side_by_side: bool) -> None:
        mode = "side_by_side" if side_by_side else "split"
        self.view.set_mode(mode)
        self.settings.view_mode = mode

    def _tile_chosen(self, action: QAction) -> None:
        self.settings.upscale_tile = action.data()

    # ----------------------------------------------------------------------------------------- closing

    def closeEvent(self, event: QCloseEvent) -> None:
        """Cancel what runs (a batch asks first), and remember the window for next time."""
        if self.batch_dialog is not None and self.batch_dialog.isVisible():
            self.batch_dialog.close()
            if self.batch_dialog.isVisible():  # the user chose to let the batch go on
                event.ignore()
                return
        if self.job is not None:
            self.job.cancel()
        if self.gan_tab.job is not None:
            self.gan_tab.job.cancel()
        self.settings.window_geometry = bytes(self.saveGeometry())
        self.settings.window_state = bytes(self.saveState())
        self.settings.sync()
        super().closeEvent(event)


@contextmanager
def _signals_blocked(*widgets: QWidget) -> Iterator[None]:
    """Block the widgets' signals for a `with` block: filling a combo is not the user choosing."""
    saved = [widget.blockSignals(True) for widget in widgets]
    try:
        yield
    finally:
        for widget, blocked in zip(widgets, saved, strict=True):
            widget.blockSignals(blocked)
