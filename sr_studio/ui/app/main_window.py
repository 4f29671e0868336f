"""The main window: the Upscale and GAN tabs under one menu bar and status bar, and where pictures come in.

Pictures arrive from the command line, File ▸ Open (and Open Recent), paste, and drag and drop: one file
opens in the Upscale tab, a folder or several files open the batch dialog. The tabs do the work; the window
wires them to its menus and status bar and remembers its geometry. Tools ▸ Train on my images opens the
wizard, whose new model is selected where it belongs, as is one imported (Models ▸ Import…, or dropped
weights). Torch is never imported while the window is being built: the device list is filled from a worker
after the window has been on screen for a moment.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QMimeData, QTimer, Signal
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
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QTabWidget, QWidget

from sr_studio import __version__
from sr_studio.core.images import Picture
from sr_studio.core.library import ModelLibrary
from sr_studio.ui.app.settings import Settings
from sr_studio.ui.batch.dialog import BatchDialog
from sr_studio.ui.common import ask_yes_no, make_action
from sr_studio.ui.gan.tab import GanTab
from sr_studio.ui.jobs import workers
from sr_studio.ui.models.importing import split_weights
from sr_studio.ui.models.menu import ModelsMenu
from sr_studio.ui.upscale.tab import UpscaleTab
from sr_studio.ui.upscale.toolbar import NO_MODEL_HINT
from sr_studio.ui.wizard.wizard import TITLE as WIZARD_TITLE
from sr_studio.ui.wizard.wizard import FineTuneWizard

APP_TITLE = "SR Studio"
PASTE_HINT = "The clipboard holds no picture and no image file: copy one first"
STOP_TRAINING_QUESTION = (
    "A training job is running. Stop it (it can be resumed later from the wizard) and quit?"
)
DEVICE_PROBE_DELAY_MS = 500  # after the window shows: listing devices imports torch (in a worker)
TILE_CHOICES = (
    ("Automatic", "auto"),
    ("Whole image", "none"),
    *((f"{n} px", str(n)) for n in (64, 128, 256, 512)),
)
LARGE_JOB_CHOICES = (*((f"Over {n} MP", float(n)) for n in (25, 100, 400)), ("Never", 0.0))
BACKEND_CHOICES = (("Automatic", "auto"), ("PyTorch", "torch"), ("OpenVINO", "openvino"))


def open_filter() -> str:
    """The open dialog's filter: every readable extension (core.formats' one list), then all files."""
    from sr_studio.core.formats import open_dialog_filter

    return open_dialog_filter()


def local_paths(mime: QMimeData) -> list[Path]:
    """The local files and folders named by dropped or pasted URLs."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


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
        self.batch_dialog: BatchDialog | None = None
        self.about_dialog: QWidget | None = None
        self.wizard: FineTuneWizard | None = None
        self._devices_probed = False
        self.devices: list[str] = []  # what torch found, once the device probe has run

        self.setAcceptDrops(True)
        self.resize(1200, 800)
        self.upscale_tab = UpscaleTab(self.library, self.settings, pool=pool)
        self.gan_tab = GanTab(self.library, pool=pool)
        self.gan_tab.upscaleRequested.connect(self.upscale_picture)
        self.gan_tab.saved.connect(lambda path: self.statusBar().showMessage(f"Saved {path}", 8000))
        self.tabs = QTabWidget()
        self.tabs.addTab(self.upscale_tab, "Upscale")
        self.tabs.addTab(self.gan_tab, "GAN")
        self.tabs.currentChanged.connect(self._tab_changed)
        self._adopt_upscale_tab()
        self.setCentralWidget(self.tabs)
        self.models_menu = ModelsMenu(self.library, pool=pool, parent=self)
        self.models_menu.imported.connect(self.use_model)
        self.models_menu.removed.connect(self.refresh_models)
        self.models_menu.failed.connect(self.upscale_tab.show_error)
        self._build_actions()
        self._build_menus()
        self._build_status_bar()
        self._restore_window()
        self._show_title(self.upscale_tab.title())
        if self.library.problems:
            self.upscale_tab.show_error(
                f"{len(self.library.problems)} model(s) skipped: {self.library.problems[0]}"
            )
        elif not self.upscale_tab.toolbar.model_combo.count():
            self.statusBar().showMessage(NO_MODEL_HINT)
        self.open_paths(paths)

    # ----------------------------------------------------------------------------------------- building

    def _adopt_upscale_tab(self) -> None:
        """Wire the Upscale tab's signals to the window's; callers reach its parts through `upscale_tab`."""
        tab = self.upscale_tab
        tab.imageOpened.connect(self.imageOpened)
        tab.jobProgress.connect(self.jobProgress)
        tab.jobEnded.connect(self.jobEnded)
        tab.statusMessage.connect(self._upscale_message)
        tab.titleChanged.connect(self._show_title)
        tab.toolbar.device_combo.listed.connect(self._devices_found)
        self.addActions(tab.actions())  # their shortcuts work whichever tab has focus

    def _build_actions(self) -> None:
        self.open_action = make_action(self, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.paste_action = make_action(self, "&Paste", self.paste, QKeySequence.StandardKey.Paste)
        self.batch_action = make_action(self, "&Batch…", self.open_batch_dialog, "Ctrl+B")
        self.fine_tune_action = make_action(self, f"&{WIZARD_TITLE}…", self.open_wizard, "Ctrl+T")
        self.quit_action = make_action(self, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.reset_action = make_action(self, "&Reset all settings…", self.reset_settings)
        self.about_action = make_action(self, "&About SR Studio", self.show_about)

    def _build_menus(self) -> None:
        tab = self.upscale_tab
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.recent_menu.triggered.connect(self._recent_chosen)
        file_menu.addAction(self.paste_action)
        file_menu.addSeparator()
        file_menu.addAction(tab.save_action)
        file_menu.addAction(tab.save_as_action)
        file_menu.addSeparator()
        file_menu.addAction(self.batch_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        view_menu = bar.addMenu("&View")
        for action in (tab.fit_action, tab.actual_action, tab.before_only_action):
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(tab.side_by_side_action)
        view_menu.addAction(tab.smooth_action)

        tools_menu = bar.addMenu("&Tools")
        tools_menu.addAction(self.fine_tune_action)
        bar.addMenu(self.models_menu)

        settings_menu = bar.addMenu("&Settings")
        self.tile_group = self._choice_menu(settings_menu.addMenu("&Tile size"), TILE_CHOICES)
        self.tile_group.triggered.connect(self._tile_chosen)
        large = settings_menu.addMenu("&Ask before large outputs")
        self.large_job_group = self._choice_menu(large, LARGE_JOB_CHOICES)
        self.large_job_group.triggered.connect(self._large_job_chosen)
        self.backend_group = self._choice_menu(settings_menu.addMenu("CPU &backend"), BACKEND_CHOICES)
        self.backend_group.triggered.connect(lambda a: setattr(self.settings, "upscale_backend", a.data()))
        settings_menu.addSeparator()
        settings_menu.addAction(self.reset_action)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _choice_menu(self, menu: QMenu, choices: tuple[tuple[str, object], ...]) -> QActionGroup:
        """One checkable entry per (label, setting value), exclusive."""
        group = QActionGroup(self)
        for label, value in choices:
            action = menu.addAction(label)
            action.setData(value)
            action.setCheckable(True)
            group.addAction(action)
        return group

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        status.addPermanentWidget(self.upscale_tab.jobs)
        status.addPermanentWidget(self.upscale_tab.run_label)
        status.addPermanentWidget(self.upscale_tab.size_label)

    def _tab_changed(self) -> None:
        """The status bar speaks of the tab shown: on the GAN tab, nothing about the upscale."""
        tab = self.upscale_tab
        upscaling = self.tabs.currentWidget() is tab
        for widget in (tab.jobs, tab.run_label, tab.size_label):
            widget.setVisible(upscaling)
        self.statusBar().clearMessage()

    def _upscale_message(self, text: str, timeout: int) -> None:
        """The Upscale tab's status line, shown while that tab is (its errors stay in its banner)."""
        if self.tabs.currentWidget() is self.upscale_tab:
            self.statusBar().showMessage(text, timeout)

    # ------------------------------------------------------------------------------------ the Upscale tab

    def upscale_picture(self, picture: Picture) -> None:
        """Show a picture from elsewhere (a GAN sample) in the Upscale tab, and upscale it."""
        self.tabs.setCurrentIndex(0)
        self.upscale_tab.upscale_picture(picture)

    def _show_title(self, title: str) -> None:
        self.setWindowTitle(f"{title} — {APP_TITLE}" if title else f"{APP_TITLE} {__version__}")

    # ----------------------------------------------------------------------------------------- settings

    def _restore_window(self) -> None:
        settings = self.settings
        if settings.window_geometry:
            self.restoreGeometry(settings.window_geometry)
        if settings.window_state:
            self.restoreState(settings.window_state)
        for action in self.tile_group.actions():
            action.setChecked(action.data() == settings.upscale_tile)
        for action in self.large_job_group.actions():
            action.setChecked(action.data() == settings.large_job_mp)
        for action in self.backend_group.actions():
            action.setChecked(action.data() == settings.upscale_backend)

    def reset_settings(self) -> None:
        """Ask, then put every setting back to its default (the window follows at once)."""
        confirmed = ask_yes_no(
            self,
            "Reset settings?",
            "Put every setting back to its default? Recent files and folders are forgotten too.",
        )
        if not confirmed:
            return
        self.settings.reset()
        self.upscale_tab.restore_settings()
        self._restore_window()
        self.statusBar().showMessage("Settings reset to their defaults", 5000)

    def _tile_chosen(self, action: QAction) -> None:
        self.settings.upscale_tile = action.data()

    def _large_job_chosen(self, action: QAction) -> None:
        self.settings.large_job_mp = action.data()

    # ------------------------------------------------------------------------------------------ devices

    def probe_devices(self) -> None:
        """List the GPUs in a worker (it imports torch) and add them to the device choice."""
        if self._devices_probed:
            return
        self._devices_probed = True
        self.upscale_tab.toolbar.device_combo.probe(self.pool)

    def _devices_found(self, devices: list[tuple[str, str]]) -> None:
        self.devices = [name for name, _ in devices]
        # torch is loaded now: its ~180,000 long-lived objects made each full garbage collection pause
        # every thread for 120-190 ms (gui_responsiveness.py --profile); frozen, they are not rescanned.
        gc.freeze()

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
            self.upscale_tab.open_file(paths[0])
        else:
            self.open_batch_dialog(inputs=paths)

    def open_dialog(self) -> None:
        folder = self.settings.last_open_folder or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a picture", folder, open_filter())
        if path:
            self.upscale_tab.open_file(path)

    def paste(self) -> None:
        """Paste a picture, or the files named on the clipboard."""
        clipboard = QGuiApplication.clipboard()
        mime = clipboard.mimeData()
        paths = local_paths(mime) if mime is not None else []
        if paths:
            self.open_paths(paths)
        elif mime is not None and mime.hasImage() and not clipboard.image().isNull():
            self.upscale_tab.open_image(clipboard.image(), "pasted")
        else:  # nothing wrong, nothing to act on: a hint, not the error banner
            self.statusBar().showMessage(PASTE_HINT, 5000)

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
            self.upscale_tab.open_file(path)
        else:
            self.settings.clear_recent_files()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()) or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        weights, paths = split_weights(local_paths(mime))
        self.models_menu.import_files(weights)
        if paths or weights:
            self.open_paths(paths)
        elif mime.hasImage():
            self.upscale_tab.open_image(QImage(mime.imageData()), "dropped")
        else:
            event.ignore()
            return
        event.acceptProposedAction()

    # ------------------------------------------------------------------------------------ other windows

    def open_batch_dialog(self, *, inputs: Sequence[str | Path] = ()) -> None:
        """The batch dialog, filled with `inputs` and the current model and device (non-modal)."""
        if self.batch_dialog is not None and self.batch_dialog.running:
            self.batch_dialog.raise_()
            self.upscale_tab.show_error("a batch is already running; wait for it or cancel it first")
            return
        if self.batch_dialog is not None:
            self.batch_dialog.deleteLater()
        self.batch_dialog = BatchDialog(
            self.library,
            inputs=[Path(path) for path in inputs],
            model=self.upscale_tab.current_model(),
            device=self.upscale_tab.current_device(),
            devices=self.devices or None,
            pool=self.pool,
            parent=self,
            backend=self.settings.upscale_backend,
        )
        self.batch_dialog.show()

    def open_wizard(self) -> None:
        """The fine-tuning wizard, non-modal: the one already open, or training in the background after its
        window was closed, comes to the front."""
        if self.wizard is not None and (self.wizard.isVisible() or self.wizard.running):
            self.wizard.show()
            self.wizard.raise_()
            self.wizard.activateWindow()
            return
        if self.wizard is not None:
            self.wizard.deleteLater()
        self.wizard = FineTuneWizard(self.library, parent=self, pool=self.pool, settings=self.settings)
        self.wizard.modelReady.connect(self.use_model)
        self.wizard.show()

    def use_model(self, name: str) -> None:
        """A model the wizard installed: list it, select it, and show the tab that uses it."""
        card = self.library.find(name).card
        self.gan_tab.refresh_models()
        if card.task == "sample":
            self.gan_tab.model_combo.setCurrentIndex(self.gan_tab.model_combo.findData(name))
            self.tabs.setCurrentWidget(self.gan_tab)
        else:
            self.upscale_tab.toolbar.select_model(name)
            self.tabs.setCurrentWidget(self.upscale_tab)
        self.statusBar().showMessage(f"{name} is in your model library and selected", 8000)

    def refresh_models(self) -> None:
        """List the models again in every picker (after a removal), keeping each choice where it can."""
        self.upscale_tab.toolbar.fill_models()
        self.gan_tab.refresh_models()

    def show_about(self) -> None:
        from sr_studio.ui.app.about import AboutDialog  # about_text imports torch: only when asked for

        self.about_dialog = AboutDialog(
            self.upscale_tab.current_device(), self, backend=self.settings.upscale_backend
        )
        self.about_dialog.show()

    # ----------------------------------------------------------------------------------------- closing

    def closeEvent(self, event: QCloseEvent) -> None:
        """Cancel what runs (a training job or a batch asks first), and remember the window for next time."""
        if self.wizard is not None and self.wizard.running and not self._stop_training_asked():
            event.ignore()
            return
        if self.batch_dialog is not None and self.batch_dialog.isVisible():
            self.batch_dialog.close()
            if self.batch_dialog.isVisible():  # the user chose to let the batch go on
                event.ignore()
                return
        if self.wizard is not None:
            self.wizard.stop_job()  # checkpointed, so the wizard can resume it; ends a timing probe too
        self.upscale_tab.cancel()
        self.gan_tab.jobs.cancel()
        self.settings.window_geometry = bytes(self.saveGeometry())
        self.settings.window_state = bytes(self.saveState())
        self.settings.sync()
        super().closeEvent(event)

    def _stop_training_asked(self) -> bool:
        return ask_yes_no(self, "Stop training?", STOP_TRAINING_QUESTION)
