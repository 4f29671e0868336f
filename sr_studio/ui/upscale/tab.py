"""The Upscale tab: one picture in the split view, previewed, upscaled or compared, and the result saved.

Every pixel operation runs as a worker job (`upscale_jobs`), one at a time (`JobStatus`): opening another
picture cancels the running job, and a replaced job's late result is ignored, so it can never land on the
wrong picture. While a job runs, the result it will replace stays in the view, dimmed. An upscale whose
output is huge is asked about first (`large_job`). Torch is never imported while the tab is built: the
first model load, in a worker, brings it in. The tab's actions carry the shortcuts; the window adds them to
itself and to its menus.
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
from sr_studio.core.upscale import UpscaleResult, parse_tile
from sr_studio.ui.common import ENSEMBLE_TIP, ModelCache, make_action
from sr_studio.ui.jobs import workers
from sr_studio.ui.jobs.job_status import JobStatus
from sr_studio.ui.upscale import large_job
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
    save_job,
    upscale_picture_job,
)
from sr_studio.ui.upscale.qimage import picture_to_qimage
from sr_studio.ui.upscale.save_dialog import ask_save_files, ask_which_result, default_save_path
from sr_studio.ui.upscale.split_view import SplitView
from sr_studio.ui.upscale.toolbar import NO_MODEL_HINT, UpscaleToolbar

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
        self.result: UpscaleResult | None = None  # the last full upscale (A of a comparison)
        self.compared: Compared | None = None  # the last comparison, if it is the last full upscale
        self.previewed: Previewed | None = None  # the preview shown
        self._saved_paths: list[Path] = []
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
        self.preview_action = action("Preview", self.preview, "Ctrl+P", PREVIEW_TIP)
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
        if self.previewed is not None and self.view.preview is None:  # a model of another scale dropped it
            self.previewed = None
            self.run_label.clear()
            self.statusMessage.emit("", 0)
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
        self.result, self.compared, self.previewed = None, None, None
        self._saved_paths = []
        self.view.show_picture(opened.image)
        self.view.set_labels("Before", "After")
        self._update_output_scale()
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
            "backend": self.settings.upscale_backend,
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
        """Upscale the whole picture with the current model, in a worker; a huge output is asked about."""
        ready = self._ready()
        if ready is None:
            return
        opened, name = ready
        chosen = self._confirm_size(opened.picture, name)
        if chosen is None:
            self.statusMessage.emit("Not upscaled", 5000)
            return
        job = partial(upscale_picture_job, opened.picture, self.models, chosen, self._options())
        self._start(job, self._upscaled, f"Upscaling with {chosen}…", dim=True)

    def _confirm_size(self, picture: Picture, name: str) -> str | None:
        """The model to upscale with: `name`, or the ×2 one chosen over a huge output; None: cancelled."""
        entry = self.toolbar.current_entry()  # None: gone from the library, which the job will say
        if entry is None:
            return name
        estimate = large_job.estimate_for_picture(entry.card, picture, self.settings.upscale_ensemble)
        threshold = self.settings.large_job_mp
        if not threshold or estimate.megapixels <= threshold:
            return name
        smaller = large_job.smaller_model(self.library, entry)
        answer = self.ask_large_job(estimate, name, smaller)
        if answer == large_job.SMALLER and smaller is not None:
            self.toolbar.select_model(smaller)
            return smaller
        return name if answer == large_job.GO else None

    def ask_large_job(self, estimate: UpscaleEstimate, name: str, smaller: str | None) -> str:
        """GO, SMALLER or CANCEL, asked with a message box (tests answer it themselves)."""
        return large_job.ask_large_job(self, estimate, name, smaller)

    def _upscaled(self, upscaled: Upscaled) -> None:
        if self.opened is None:
            return
        result = upscaled.result
        self.result, self.compared, self.previewed = result, None, None
        self._saved_paths = []
        self.view.set_before(self.opened.image)
        self.view.set_after(upscaled.image)
        self.view.set_labels("Before", f"After: {result.model}")
        self._show_run_info(result)
        self.statusMessage.emit(
            f"Upscaled ×{result.scale} with {result.model} in {result.seconds:.1f} s", 8000
        )

    def compare(self, name_b: str) -> None:
        """Upscale with the current model (A, left) and with `name_b` (B, right), side by side in the view."""
        ready = self._ready()
        if ready is None:
            return
        opened, name_a = ready
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
        job = partial(preview_job, opened.picture, self.models, name, visible, self._options())
        self._start(job, self._previewed, f"Previewing {name}…", dim=True)

    def _previewed(self, previewed: Previewed) -> None:
        """Show the preview over the plain picture, where the view was, and say what it covers."""
        if self.opened is None:
            return
        result = previewed.result
        self.previewed = previewed
        self.view.set_before(self.opened.image)
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
        seconds = result.seconds if seconds is None else seconds
        self.run_label.setText(
            f"{models or result.model}{' (max quality)' if result.ensemble else ''} · {result.device} · "
            f"{result.precision}{' · OpenVINO' if result.backend == 'openvino' else ''} · {seconds:.1f} s"
        )
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

        Two results are two files, each named after its model; replacing a file is asked first.
        """
        if self.result is None or self.opened is None:
            self.show_error("nothing to save yet: upscale a picture first")
            return
        if self.busy:
            return
        results = self._results_to_save()
        try:
            opened, scale = self.opened, results[0].scale if results else 1
            default = default_save_path(opened.path, opened.name, scale, self.settings)
            files = ask_save_files(self, results, default, self.settings, named=self.compared is not None)
        except SRStudioError as error:
            self.show_error(str(error))
            return
        if files is None:
            self.statusMessage.emit("Not saved", 5000)
            return
        job = partial(save_job, files.files, files.quality)
        self._start(job, self._saved, f"Saving {', '.join(path.name for _, path, _ in files.files)}…")

    def _results_to_save(self) -> list[UpscaleResult]:
        """The last result; after a comparison, A, B or both as the user says (none: cancelled)."""
        if self.compared is None:
            return [self.result] if self.result is not None else []
        a, b = self.compared.a.result, self.compared.b.result
        answer = self.ask_which_result(a.model, b.model)
        return {"A": [a], "B": [b], "both": [a, b]}.get(answer or "", [])

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
        if self.opened is None:
            return ""
        picture = self.opened.picture
        return f"{self.opened.name} ({picture.width}×{picture.height})"

    def _update_title(self) -> None:
        size = ""
        if self.opened is not None:
            size = f"{self.opened.picture.width}×{self.opened.picture.height}"
            if (after := self.view.after) is not None:  # what the view shows, not what Save would write
                size += f" → {after.width()}×{after.height()}"
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
