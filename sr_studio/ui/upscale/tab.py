"""The Upscale tab: one picture in the split view, previewed, upscaled or compared, and the result saved.

Every pixel operation runs as a worker job (`upscale_jobs`), one at a time (`JobStatus`): opening another
picture cancels the running job, and a replaced job's late result is ignored, so it can never land on the
wrong picture. While a job runs, the result it will replace stays in the view, dimmed. An upscale whose
output is huge is asked about first (`large_job`). Torch is never imported while the tab is built: the
first model load, in a worker, brings it in. The tab's actions (its view's in `view_actions`) carry the
shortcuts; the window adds them to itself and to its menus. Save As asks and writes through `save_flow`.

An animation (GIF, APNG, WebP) opens with all its frames and a frame bar under the view; the view shows the
current frame's original and, once upscaled, its result, so both move together with the slider or while
playing. Upscale does every frame; Preview judges the current one; Compare is for still pictures.
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
from sr_studio.core.estimate import UpscaleEstimate
from sr_studio.core.images import Picture
from sr_studio.core.upscale import UpscaleResult
from sr_studio.ui.common import ENSEMBLE_TIP, ModelCache, make_action
from sr_studio.ui.jobs import workers
from sr_studio.ui.jobs.job_status import JobStatus
from sr_studio.ui.upscale import large_job
from sr_studio.ui.upscale.frame_bar import FrameBar
from sr_studio.ui.upscale.frames_shown import FramesShown
from sr_studio.ui.upscale.jobs import (
    PREVIEW_MAX_SIDE,
    Compared,
    Opened,
    Previewed,
    Upscaled,
    compare_job,
    open_file_job,
    open_image_job,
    preview_job,
    upscale_opened_job,
    upscale_options,
)
from sr_studio.ui.upscale.qimage import picture_to_qimage
from sr_studio.ui.upscale.run_text import run_text, size_text, title_text
from sr_studio.ui.upscale.save_dialog import ask_which_result
from sr_studio.ui.upscale.save_flow import SaveJob, animation_save_job, still_save_job
from sr_studio.ui.upscale.split_view import SplitView
from sr_studio.ui.upscale.toolbar import NO_MODEL_HINT, UpscaleToolbar
from sr_studio.ui.upscale.view_actions import ViewActions

if TYPE_CHECKING:
    from sr_studio.core.library import ModelLibrary
    from sr_studio.ui.app.settings import Settings

BANNER_STYLE = "background: #fdecea; color: #b71c1c; padding: 4px 8px; border-radius: 3px;"
PREVIEW_TIP = (
    f"Upscale the middle of what the view shows (at most {PREVIEW_MAX_SIDE}×{PREVIEW_MAX_SIDE} input pixels,"
    " outlined in the view) to judge the model in seconds; zoom in to preview another part, Upscale for all"
)


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
        # The last full upscale (A of a comparison); of an animation, how it was made and its first frame
        # (`frames.results` holds them all).
        self.result: UpscaleResult | None = None
        self.compared: Compared | None = None  # the last comparison, if it is the last full upscale
        self.previewed: Previewed | None = None  # the preview shown
        self._saved_paths: list[Path] = []
        self.jobs = JobStatus(pool)  # the window puts it, and the two labels, in its status bar
        self.run_label = QLabel()
        self.size_label = QLabel()
        self.view = SplitView()
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
        self.preview_action = action("Preview", self.preview, "Ctrl+P", PREVIEW_TIP)
        self.upscale_action = action("Upscale", self.upscale, "Ctrl+Return", "Upscale the whole picture")
        self.cancel_action = action("Cancel", self.cancel, "Esc", "Stop the running job")
        self.ensemble_action = action("Max quality", self._set_ensemble, tip=ENSEMBLE_TIP)
        self.ensemble_action.setCheckable(True)
        self.view_actions = ViewActions(self, self.view, self.settings)
        view = self.view_actions
        self.fit_action, self.actual_action, self.before_only_action = view.fit, view.actual, view.before_only
        self.smooth_action, self.side_by_side_action = view.smooth, view.side_by_side

    def _build(self) -> None:
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
        self.frame_bar = FrameBar()  # shown for animations only
        self.frame_bar.frameChanged.connect(self._show_frame)
        self.frames = FramesShown(self.view, self.frame_bar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.frame_bar)

    def restore_settings(self) -> None:
        """Show the remembered model, device and view (after a reset too)."""
        self.toolbar.restore()
        self.ensemble_action.setChecked(self.settings.upscale_ensemble)
        self.view_actions.restore()

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
        if self.previewed is not None and self.view.preview is None:  # a model of another scale dropped it
            self.previewed = None
            self.run_label.clear()
            self.statusMessage.emit("", 0)
        self._update_actions()

    def _current(self, opened: Opened) -> tuple[Picture, QImage]:
        """The picture the view shows as the before (an animation's current frame) and its display copy."""
        return self.frames.current() or (opened.picture, opened.image)

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
        self.toolbar.compare_button.setEnabled(can_run and self.frames.frames is None)  # stills only
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
        self.result, self.compared, self.previewed = None, None, None
        self._saved_paths = []
        self.frames.open(opened.frames)
        self.view.show_picture(opened.image)
        self.view.set_labels("Before", "After")
        self._update_output_scale()
        if opened.path is not None:
            self.settings.add_recent_file(opened.path)
        frames = [f"{opened.frames.count} frames"] if opened.frames else []
        notes = "; ".join([*frames, *opened.picture.notes])
        self.run_label.clear()
        self.statusMessage.emit(f"Opened {opened.name}" + (f" ({notes})" if notes else ""), 5000)
        self._update_title()
        self.imageOpened.emit(opened.picture)

    # ---------------------------------------------------------------------------------------- upscaling

    def _show_frame(self, index: int) -> None:
        """Show frame `index` of the animation: its original and, once upscaled, its result."""
        if self.previewed is not None:  # a preview is of the frame it was made on
            self.previewed = None
            self.view.clear_preview()
            self.statusMessage.emit("", 0)
            self.view.set_labels("Before", f"After: {self.result.model}" if self.result else "After")
            if self.result is None:
                self.run_label.clear()
            else:
                self._show_run_info(self.result)
        self.frames.show(index)

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
        """Upscale the whole picture with the current model, in a worker; a huge output is asked about."""
        ready = self._ready()
        if ready is None:
            return
        opened, name = ready
        entry = self.toolbar.current_entry()
        chosen = large_job.confirm_model(
            self.library, entry, self._current(opened)[0], name, self.settings, self.ask_large_job
        )
        if chosen is None:
            self.statusMessage.emit("Not upscaled", 5000)
            return
        if chosen != name:
            self.toolbar.select_model(chosen)
        frames = f"{opened.frames.count} frames " if opened.frames else ""
        job = partial(upscale_opened_job, opened, self.models, chosen, self._options())
        self._start(job, self._upscaled, f"Upscaling {frames}with {chosen}…", dim=True)

    def ask_large_job(self, estimate: UpscaleEstimate, name: str, smaller: str | None) -> str:
        """GO, SMALLER or CANCEL, asked with a message box (tests answer it themselves)."""
        return large_job.ask_large_job(self, estimate, name, smaller)

    def _upscaled(self, upscaled: Upscaled) -> None:
        if self.opened is None or not self.frames.set_results(upscaled.frames):  # another picture now
            return
        result = upscaled.result
        self.result, self.compared, self.previewed = result, None, None
        self._saved_paths = []
        if upscaled.frames is None:  # an animation's current frame is shown by `frames`
            self.view.set_before(self.opened.image)
            self.view.set_after(upscaled.image)
        self.view.set_labels("Before", f"After: {result.model}")
        self._show_run_info(result)
        frames = f"{upscaled.frames.count} frames " if upscaled.frames else ""
        self.statusMessage.emit(
            f"Upscaled {frames}×{result.scale} with {result.model} in {result.seconds:.1f} s", 8000
        )

    def compare(self, name_b: str) -> None:
        """Upscale with the current model (A, left) and with `name_b` (B, right), side by side in the view."""
        ready = self._ready()
        if ready is None:
            return
        opened, name_a = ready
        if opened.frames is not None:
            self.show_error("Compare works on still pictures: upscale the animation, or preview its frames")
            return
        job = partial(compare_job, opened.picture, self.models, (name_a, name_b), self._options())
        self._start(job, self._compared, f"Comparing {name_a} with {name_b}…", dim=True)

    def _compared(self, compared: Compared) -> None:
        a, b = compared.a.result, compared.b.result
        self.result, self.compared, self.previewed = a, compared, None
        self._saved_paths = []
        self.view.set_before(compared.a.image)
        self.view.set_after(compared.b.image)
        self.view.set_labels(f"A: {a.model}", f"B: {b.model}")
        self._show_run_info(a, f"A: {a.model}, B: {b.model}", a.seconds + b.seconds)
        self.statusMessage.emit(
            f"Compared ×{a.scale}: A {a.model} in {a.seconds:.1f} s, B {b.model} in {b.seconds:.1f} s "
            "(Save asks which to keep)",
            8000,
        )

    def preview(self) -> None:
        """Upscale the middle of what the view shows (at most 256² input pixels) to judge the model."""
        ready = self._ready()
        if ready is None:
            return
        opened, name = ready
        # The view may show a result in its own output pixels: the job is told input pixels.
        region, factor = self.view.visible_region(), opened.picture.width / self.view.output_size().width()
        visible = (region.left(), region.top(), region.right(), region.bottom())
        visible = tuple(v * factor for v in visible)
        job = partial(preview_job, self._current(opened)[0], self.models, name, visible, self._options())
        self._start(job, self._previewed, f"Previewing {name}…", dim=True)

    def _previewed(self, previewed: Previewed) -> None:
        """Show the preview over the plain picture, where the view was, and say what it covers."""
        if self.opened is None:
            return
        result = previewed.result
        self.previewed = previewed
        self.view.set_before(self._current(self.opened)[1])
        self.view.set_after(None)
        self.view.set_output_scale(result.scale)
        self.view.set_preview(previewed.image, previewed.region)
        self.view.set_labels("Before", f"Preview: {result.model}")
        self._show_run_info(result)
        self.statusMessage.emit(previewed.describe(), 0)

    def cancel(self) -> None:
        """Stop the running job at its next tile (within a second)."""
        if self.busy:
            self.jobs.cancel()
            self.cancel_action.setEnabled(False)

    def _show_run_info(self, result: UpscaleResult, models: str = "", seconds: float | None = None) -> None:
        """The permanent status label: how what the view shows was made (models, device, precision, time)."""
        self.run_label.setText(run_text(result, models, seconds))
        self.run_label.setToolTip("\n".join(result.notes))  # e.g. why OpenVINO was not used
        self._update_title()

    # ------------------------------------------------------------------------------------------- saving

    def save(self) -> None:
        """Save the result; once saved, saving again only says where it went."""
        if self._saved_paths and self.result is not None:
            self.statusMessage.emit(f"Already saved as {', '.join(map(str, self._saved_paths))}", 5000)
            return
        self.save_as()

    def save_as(self) -> None:
        """Ask which result (after a comparison), where, and for JPEG/WebP how well, then save it in a worker.

        Two results are two files, each named after its model; replacing a file is asked first. An
        animation saves whole, as an animated GIF, PNG or WebP.
        """
        if self.result is None or self.opened is None:
            self.show_error("nothing to save yet: upscale a picture first")
            return
        if self.busy:
            return
        try:
            job = self._ask_save_job(self.opened, self.result)
        except SRStudioError as error:
            self.show_error(str(error))
            return
        if job is None:
            self.statusMessage.emit("Not saved", 5000)
            return
        self._start(job[0], self._saved, job[1])

    def _ask_save_job(self, opened: Opened, result: UpscaleResult) -> SaveJob | None:
        if self.frames.results is not None:
            return animation_save_job(self, opened, self.frames.results, result.scale, self.settings)
        return still_save_job(self, opened, result, self.compared, self.settings, self.ask_which_result)

    def ask_which_result(self, model_a: str, model_b: str) -> str | None:
        """ "A", "B", "both" or None, asked with a message box (tests answer it themselves)."""
        return ask_which_result(self, model_a, model_b)

    def _saved(self, paths: list[Path]) -> None:
        self._saved_paths = paths
        self.statusMessage.emit(f"Saved {', '.join(map(str, paths))}", 8000)

    # --------------------------------------------------------------------------------------------- jobs

    def _start(
        self, factory: workers.JobFactory, on_result: Callable[[Any], None], text: str, *, dim: bool = False
    ) -> None:
        """Run `factory` as the tab's job, replacing (and cancelling) any job still running; `dim` the
        result it will replace until it ends."""
        self.show_error("")
        self.view.set_dimmed(dim)
        self.jobs.start(factory, on_result, text)

    def _on_cancelled(self) -> None:
        self.statusMessage.emit("Cancelled", 5000)

    def _on_ended(self, outcome: str) -> None:
        self.view.set_dimmed(False)
        self._update_actions()
        self.jobEnded.emit(outcome)

    def show_error(self, message: str) -> None:
        """One line the user can act on, in the banner and the status bar; "" clears it."""
        self.banner.setText(message)
        self.banner.setVisible(bool(message))
        self.statusMessage.emit(message, 0)

    def title(self) -> str:
        """What the window's title calls the picture shown: "name (W×H)", "" when none."""
        return title_text(self.opened.name, self.opened.picture) if self.opened else ""

    def _options(self) -> dict[str, Any]:
        return upscale_options(self.settings, self.current_device())

    def _update_title(self) -> None:
        self.size_label.setText(size_text(self.opened.picture, self.view.after) if self.opened else "")
        self.titleChanged.emit(self.title())

    def _set_ensemble(self, ensemble: bool) -> None:
        self.settings.upscale_ensemble = ensemble
