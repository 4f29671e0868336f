"""The Upscale tab: one picture in the split view, previewed, upscaled or compared, and the result saved.

Every pixel operation runs as a worker job (`upscale_jobs`), one at a time (`JobStatus`): opening another
picture cancels the running job, and a replaced job's late result is ignored, so it can never land on the
wrong picture. Torch is never imported while the tab is built: the first model load, in a worker, brings
it in. The tab's actions carry the shortcuts; the window adds them to itself and to its menus.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QImage, QKeySequence
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from sr_studio.core.errors import SRStudioError
from sr_studio.core.images import Picture
from sr_studio.core.upscale import UpscaleResult, parse_tile
from sr_studio.ui import workers
from sr_studio.ui.common import ENSEMBLE_TIP, ModelCache, make_action
from sr_studio.ui.job_status import JobStatus
from sr_studio.ui.qimage import picture_to_qimage
from sr_studio.ui.save_dialog import (
    QUALITY_FORMATS,
    ask_quality,
    ask_save_path,
    confirm_replace,
    default_save_name,
    normalised_extension,
)
from sr_studio.ui.split_view import SplitView
from sr_studio.ui.upscale_jobs import (
    Compared,
    Opened,
    Previewed,
    Upscaled,
    compare_job,
    open_file_job,
    open_image_job,
    preview_job,
    save_job,
    upscale_picture_job,
)
from sr_studio.ui.upscale_toolbar import NO_MODEL_HINT, UpscaleToolbar

if TYPE_CHECKING:
    from sr_studio.core.library import ModelLibrary
    from sr_studio.ui.settings import Settings

BANNER_STYLE = "background: #fdecea; color: #b71c1c; padding: 4px 8px; border-radius: 3px;"


class UpscaleTab(QWidget):
    """The split view under its toolbar, the picture shown, the last result, and the job working on them."""

    imageOpened = Signal(object)  # the Picture now shown as the before
    jobProgress = Signal(object)  # each Progress of the tab's job, once shown
    jobEnded = Signal(str)  # "finished", "failed" or "cancelled", once the tab is usable again
    statusMessage = Signal(str, int)  # a line for the status bar and its timeout in ms ("": clear it)
    titleChanged = Signal(str)  # "name (W×H)" of the picture shown, "" when none

    def __init__(
        self,
        library: ModelLibrary,
        settings: Settings,
        *,
        pool: workers.Pool | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.library = library
        self.settings = settings
        self.models = ModelCache(library)
        self.opened: Opened | None = None
        self.result: UpscaleResult | None = None  # the last full upscale, what Save writes
        self.previewed: Previewed | None = None  # the last preview shown
        self._saved_path: Path | None = None
        self.jobs = JobStatus(pool)  # the window puts it, and the two labels, in its status bar
        self.run_label = QLabel()
        self.size_label = QLabel()
        self._build_actions()
        self._build()
        self.jobs.started.connect(self._update_actions)
        self.jobs.progress.connect(self.jobProgress)
        self.jobs.failed.connect(self.show_error)
        self.jobs.cancelled.connect(self._on_cancelled)
        self.jobs.ended.connect(self._on_ended)
        self.restore_settings()
        self._update_title()

    def _build_actions(self) -> None:
        action = partial(make_action, self)
        self.save_action = action("&Save", self.save, QKeySequence.StandardKey.Save)
        self.save_as_action = action("Save &As…", self.save_as, "Ctrl+Shift+S")
        self.preview_action = action(
            "Preview", self.preview, "Ctrl+P", "Upscale only what the view shows, to judge the model quickly"
        )
        self.upscale_action = action("Upscale", self.upscale, "Ctrl+Return", "Upscale the whole picture")
        self.cancel_action = action("Cancel", self.cancel, "Esc", "Stop the running job")
        self.ensemble_action = action("Max quality", self._set_ensemble, tip=ENSEMBLE_TIP)
        self.ensemble_action.setCheckable(True)
        self.fit_action = action("Fit", self._fit, "Ctrl+0", "Show the whole picture")
        self.actual_action = action("1:1", self._actual_size, "Ctrl+1", "One output pixel per screen pixel")
        self.before_only_action = action(
            "Before only", self._toggle_before_after, tip="Show only the before, or the comparison (Space)"
        )
        self.smooth_action = action("Smooth before", self._set_smooth, tip="Draw the before bilinear")
        self.smooth_action.setCheckable(True)
        self.side_by_side_action = action("Side by side", self._set_side_by_side, tip="Two linked panes")
        self.side_by_side_action.setCheckable(True)

    def _build(self) -> None:
        self.view = SplitView()
        self.toolbar = UpscaleToolbar(
            self.library,
            self.settings,
            run_actions=(self.preview_action, self.upscale_action, self.ensemble_action, self.cancel_action),
            view_actions=(self.smooth_action, self.side_by_side_action, self.fit_action, self.actual_action),
        )
        self.toolbar.modelChanged.connect(self._model_changed)
        self.toolbar.compareRequested.connect(self.compare)
        self.banner = QLabel()  # errors the user can act on, inline and non-modal
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.setWordWrap(True)
        self.banner.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)

    def restore_settings(self) -> None:
        """Show the remembered model, device and view (after a reset too)."""
        settings = self.settings
        self.toolbar.restore()
        self.smooth_action.setChecked(settings.smooth_before)
        self.ensemble_action.setChecked(settings.upscale_ensemble)
        self.view.set_smooth_before(settings.smooth_before)
        self.side_by_side_action.setChecked(settings.view_mode == "side_by_side")
        self.view.set_mode(settings.view_mode)

    # ----------------------------------------------------------------------------------- model, state

    def current_model(self) -> str | None:
        return self.toolbar.current_model()

    def current_device(self) -> str:
        return self.toolbar.current_device()

    @property
    def busy(self) -> bool:
        """Whether the tab's job has not ended yet (as far as the GUI thread has heard)."""
        return self.jobs.busy

    def _model_changed(self) -> None:
        self._update_output_scale()
        self._update_actions()

    def _update_output_scale(self) -> None:
        """Tell the view the coming result's scale, so previews line up before the result exists."""
        entry = self.toolbar.current_entry()
        if entry is not None and self.view.after is None:
            self.view.set_output_scale(entry.card.scale or 1)

    def _update_actions(self) -> None:
        busy = self.busy
        can_run = self.opened is not None and bool(self.current_model()) and not busy
        for action in (self.preview_action, self.upscale_action):
            action.setEnabled(can_run)
        self.toolbar.compare_button.setEnabled(can_run)
        self.cancel_action.setEnabled(busy)
        for action in (self.save_action, self.save_as_action):
            action.setEnabled(self.result is not None and not busy)

    # ------------------------------------------------------------------------------------------ opening

    def open_file(self, path: str | Path) -> None:
        """Load `path` in a worker and show it; a file that cannot be read becomes one status line."""
        path = Path(path)
        self.settings.last_open_folder = str(path.parent.absolute())
        self._start(partial(open_file_job, path), self._opened, f"Opening {path.name}…")

    def open_image(self, image: QImage, name: str = "pasted") -> None:
        """Show a QImage (pasted, dropped from another app) as a new picture without a file."""
        job = partial(open_image_job, QImage(image), name)
        self._start(job, self._opened, f"Reading the {name} picture…")

    def upscale_picture(self, picture: Picture) -> None:
        """Show a picture from elsewhere (a GAN sample) as the before, and upscale it."""
        self._opened(Opened(picture, picture_to_qimage(picture), "sample"))
        self.upscale()

    def _opened(self, opened: Opened) -> None:
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
        self.statusMessage.emit(f"Opened {opened.name}" + (f" ({notes})" if notes else ""), 5000)
        self._update_title()
        self.imageOpened.emit(opened.picture)

    # ---------------------------------------------------------------------------------------- upscaling

    def _options(self) -> dict[str, Any]:
        return {
            "device": self.current_device(),
            "tile": parse_tile(self.settings.upscale_tile),
            "ensemble": self.settings.upscale_ensemble,
        }

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
        job = partial(upscale_picture_job, opened.picture, self.models, name, self._options())
        self._start(job, self._upscaled, f"Upscaling with {name}…")

    def _upscaled(self, upscaled: Upscaled) -> None:
        if self.opened is None:
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
        job = partial(compare_job, opened.picture, self.models, (name_a, name_b), self._options())
        self._start(job, self._compared, f"Comparing {name_a} with {name_b}…")

    def _compared(self, compared: Compared) -> None:
        a, b = compared.a.result, compared.b.result
        self.result = a
        self._saved_path = None
        self.view.set_before(compared.a.image)
        self.view.set_after(compared.b.image)
        self.view.set_labels(f"A: {a.model}", f"B: {b.model}")
        self._show_result_info(a, f"A {a.seconds:.1f} s, B {b.seconds:.1f} s — Save keeps A")

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
        job = partial(preview_job, opened.picture, self.models, name, visible, self._options())
        self._start(job, self._previewed, f"Previewing {name}…")

    def _previewed(self, previewed: Previewed) -> None:
        self.previewed = previewed
        self.view.set_preview(previewed.image, previewed.region)

    def cancel(self) -> None:
        """Stop the running job at its next tile (within a second)."""
        if self.busy:
            self.jobs.cancel()
            self.cancel_action.setEnabled(False)

    def _show_result_info(self, result: UpscaleResult, extra: str = "") -> None:
        self.run_label.setText(
            f"{result.model}{' (max quality)' if result.ensemble else ''} · {result.device} · "
            f"{result.precision} · {result.seconds:.1f} s"
        )
        message = f"Upscaled ×{result.scale} with {result.model} in {result.seconds:.1f} s"
        self.statusMessage.emit(f"{message} ({extra})" if extra else message, 8000)
        self._update_title()

    # ------------------------------------------------------------------------------------------- saving

    def save(self) -> None:
        """Save the result; once saved, saving again only says where it went."""
        if self._saved_path is not None and self.result is not None:
            self.statusMessage.emit(f"Already saved as {self._saved_path}", 5000)
            return
        self.save_as()

    def save_as(self) -> None:
        """Ask where (and for JPEG/WebP, how well) to save the result; replacing a file is asked first."""
        if self.result is None or self.opened is None:
            self.show_error("nothing to save yet: upscale a picture first")
            return
        if self.busy:
            return
        try:
            default = self._default_save_path(self.opened, self.result.scale)
            path = ask_save_path(self, default, self.settings.output_format)
        except SRStudioError as error:
            self.show_error(str(error))
            return
        if path is None:
            return
        overwrite = path.exists()
        if overwrite and not confirm_replace(self, path):
            self.statusMessage.emit("Not saved", 5000)
            return
        extension = normalised_extension(path)
        quality = None
        if extension in QUALITY_FORMATS:
            quality = ask_quality(self, extension, self.settings.output_quality)
            if quality is None:
                return
            self.settings.output_quality = quality
        self.settings.output_format = extension
        self.settings.last_save_folder = str(path.parent)
        job = partial(save_job, self.result.picture, path, quality, overwrite)
        self._start(job, self._saved, f"Saving {path.name}…")

    def _default_save_path(self, opened: Opened, scale: int) -> Path:
        """`{stem}_x{scale}.{format}` in the last save folder, else beside the picture (or where the last
        one came from, for a pasted picture)."""
        settings = self.settings
        stem = opened.path.stem if opened.path is not None else opened.name
        folder = settings.last_save_folder or (
            str(opened.path.parent) if opened.path is not None else settings.last_open_folder
        )
        return Path(folder or Path.home()) / default_save_name(stem, scale, settings.output_format)

    def _saved(self, path: Path) -> None:
        self._saved_path = path
        self.statusMessage.emit(f"Saved {path}", 8000)

    # --------------------------------------------------------------------------------------------- jobs

    def _start(self, factory: workers.JobFactory, on_result: Callable[[Any], None], text: str) -> None:
        """Run `factory` as the tab's job, replacing (and cancelling) any job still running."""
        self.show_error("")
        self.jobs.start(factory, on_result, text)

    def _on_cancelled(self) -> None:
        self.statusMessage.emit("Cancelled", 5000)

    def _on_ended(self, outcome: str) -> None:
        self._update_actions()
        self.jobEnded.emit(outcome)

    def show_error(self, message: str) -> None:
        """One line the user can act on, in the banner and the status bar; "" clears it."""
        self.banner.setText(message)
        self.banner.setVisible(bool(message))
        self.statusMessage.emit(message, 0)

    def title(self) -> str:
        """What the window's title calls the picture shown: "name (W×H)", "" when none."""
        if self.opened is None:
            return ""
        picture = self.opened.picture
        return f"{self.opened.name} ({picture.width}×{picture.height})"

    def _update_title(self) -> None:
        size = ""
        if self.opened is not None:
            size = f"{self.opened.picture.width}×{self.opened.picture.height}"
            if self.result is not None:
                size += f" → {self.result.picture.width}×{self.result.picture.height}"
        self.size_label.setText(size)
        self.titleChanged.emit(self.title())

    # -------------------------------------------------------------------------------------- view toggles

    def _fit(self) -> None:
        self.view.fit()

    def _actual_size(self) -> None:
        self.view.actual_size()

    def _toggle_before_after(self) -> None:
        self.view.toggle_before_after()

    def _set_ensemble(self, ensemble: bool) -> None:
        self.settings.upscale_ensemble = ensemble

    def _set_smooth(self, smooth: bool) -> None:
        self.view.set_smooth_before(smooth)
        self.settings.smooth_before = smooth

    def _set_side_by_side(self, side_by_side: bool) -> None:
        mode = "side_by_side" if side_by_side else "split"
        self.view.set_mode(mode)
        self.settings.view_mode = mode
