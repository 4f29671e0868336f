"""The Upscale tab's toolbar: which model runs (filtered by scale), on which device, and Compare with another.

The choices are the user's settings: each is remembered as it is made and put back by `restore`. The run
and view actions belong to the tab; the toolbar only places them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QToolBar, QToolButton, QWidget

from sr_studio.ui.jobs.devices import DeviceCombo
from sr_studio.ui.models.purpose import model_label, model_tooltip

if TYPE_CHECKING:
    from sr_studio.core.library import ModelEntry, ModelLibrary
    from sr_studio.ui.app.settings import Settings

NO_MODEL_HINT = (
    "No upscaling model is installed: import one with Models ▸ Import… or `sr-studio models import FILE`"
)


class UpscaleToolbar(QToolBar):
    """Model, scale filter and device choices, the tab's run actions, Compare, and the view actions."""

    modelChanged = Signal()  # the chosen model changed, or the list was filled again
    compareRequested = Signal(str)  # the name of model B, chosen from the Compare menu

    def __init__(
        self,
        library: ModelLibrary,
        settings: Settings,
        *,
        run_actions: Sequence[QAction],
        view_actions: Sequence[QAction],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Upscale", parent)
        self.setObjectName("upscale-toolbar")
        self.library = library
        self.settings = settings

        self.model_combo = QComboBox()
        # As wide as its longest line: a clipped name is a guess which model runs.
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.scale_combo = QComboBox()
        self.scale_combo.setToolTip("Show only the models of this scale")
        self.scale_combo.addItem("All scales", 0)
        self._offer_scales()
        self.device_combo = DeviceCombo(["cpu"], auto_label="Auto (best available)")
        self.device_combo.setToolTip("Where the network runs")
        self.compare_menu = QMenu("Compare with", self)
        self.compare_menu.setToolTipsVisible(True)
        self.compare_menu.aboutToShow.connect(self._fill_compare_menu)
        self.compare_menu.triggered.connect(self._compare_chosen)
        self.compare_button = QToolButton()
        self.compare_button.setText("Compare")
        self.compare_button.setToolTip("Run a second model B: A on the left, B on the right")
        self.compare_button.setMenu(self.compare_menu)
        self.compare_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)

        self.addWidget(QLabel("Model "))
        self.addWidget(self.model_combo)
        self.addWidget(self.scale_combo)
        self.addWidget(QLabel(" Device "))
        self.addWidget(self.device_combo)
        self.addSeparator()
        self.addActions(list(run_actions))
        self.addWidget(self.compare_button)
        self.addSeparator()
        self.addActions(list(view_actions))

        self.model_combo.currentIndexChanged.connect(self._model_changed)
        self.scale_combo.currentIndexChanged.connect(self._scale_filter_changed)
        self.device_combo.currentIndexChanged.connect(self._device_changed)

    def restore(self) -> None:
        """Show the remembered scale filter, device and model (the library's default if none)."""
        settings = self.settings
        with _signals_blocked(self.scale_combo, self.device_combo):
            self.scale_combo.setCurrentIndex(max(0, self.scale_combo.findData(settings.scale_filter)))
            self.device_combo.select(settings.device)
        default = self.library.default("upscale")
        self.fill_models(settings.model or (default.name if default is not None else None))

    def fill_models(self, wanted: str | None = None) -> None:
        """List the upscalers of the chosen scale, keeping `wanted` (else the current) selected."""
        if wanted is None:
            wanted = self.model_combo.currentData()
        scale = self.scale_combo.currentData() or 0
        self._offer_scales()
        entries = [e for e in self.library.entries("upscale") if not scale or e.card.scale == scale]
        with _signals_blocked(self.model_combo):
            self.model_combo.clear()
            for entry in entries:
                self.model_combo.addItem(model_label(entry), entry.name)
                self.model_combo.setItemData(
                    self.model_combo.count() - 1, model_tooltip(entry), Qt.ItemDataRole.ToolTipRole
                )
            index = self.model_combo.findData(wanted)
            if index < 0 and (default := self.library.default("upscale")) is not None:
                index = self.model_combo.findData(default.name)
            self.model_combo.setCurrentIndex(max(0, index) if entries else -1)
        self.model_combo.setEnabled(bool(entries))
        self._model_changed()

    def _offer_scales(self) -> None:
        """A scale filter for each scale the upscalers have, an imported model's new one included."""
        offered = {self.scale_combo.itemData(index) for index in range(self.scale_combo.count())}
        scales = {entry.card.scale or 1 for entry in self.library.entries("upscale")}
        with _signals_blocked(self.scale_combo):
            for scale in sorted(scales - offered):
                count = self.scale_combo.count()
                index = next((i for i in range(1, count) if self.scale_combo.itemData(i) > scale), count)
                self.scale_combo.insertItem(index, f"×{scale}", scale)

    def select_model(self, name: str) -> None:
        """Select model `name`, showing all scales first if the scale filter would hide it."""
        scale = self.library.find(name).card.scale
        if self.scale_combo.currentData() not in (0, scale):
            self.scale_combo.setCurrentIndex(0)
        self.fill_models(name)

    def current_model(self) -> str | None:
        return self.model_combo.currentData()

    def current_entry(self) -> ModelEntry | None:
        name = self.current_model()
        return next((e for e in self.library.entries("upscale") if e.name == name), None)

    def current_device(self) -> str:
        return self.device_combo.current_device()

    def _model_changed(self) -> None:
        name = self.current_model()
        if name:
            self.settings.model = name
        tip = self.model_combo.itemData(self.model_combo.currentIndex(), Qt.ItemDataRole.ToolTipRole)
        self.model_combo.setToolTip(tip or NO_MODEL_HINT)
        self.modelChanged.emit()

    def _scale_filter_changed(self) -> None:
        self.settings.scale_filter = int(self.scale_combo.currentData() or 0)
        self.fill_models()

    def _device_changed(self) -> None:
        self.settings.device = self.current_device()

    def _fill_compare_menu(self) -> None:
        self.compare_menu.clear()
        current = self.current_model()
        for entry in self.library.entries("upscale"):
            if entry.name != current:
                action = self.compare_menu.addAction(model_label(entry))
                action.setData(entry.name)
                action.setToolTip(model_tooltip(entry))
        if self.compare_menu.isEmpty():
            self.compare_menu.addAction("(no other upscaling model)").setEnabled(False)

    def _compare_chosen(self, action: QAction) -> None:
        if action.data():
            self.compareRequested.emit(action.data())


@contextmanager
def _signals_blocked(*widgets: QWidget) -> Iterator[None]:
    """Block the widgets' signals for a `with` block: filling a combo is not the user choosing."""
    saved = [widget.blockSignals(True) for widget in widgets]
    try:
        yield
    finally:
        for widget, blocked in zip(widgets, saved, strict=True):
            widget.blockSignals(blocked)
