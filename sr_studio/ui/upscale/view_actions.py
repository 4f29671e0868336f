"""The Upscale tab's view actions — Fit, 1:1, Before only, Smooth before, Side by side — and the settings
they remember.

They only change how the split view draws what it has, never the pictures or the job, so they live apart
from the tab's work; the window puts them in its View menu and the toolbar shows some of them.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from sr_studio.ui.common import make_action

if TYPE_CHECKING:
    from sr_studio.ui.app.settings import Settings
    from sr_studio.ui.upscale.split_view import SplitView


class ViewActions:
    """The view's actions, added to `owner` (so their shortcuts work there), acting on `view`."""

    def __init__(self, owner: QWidget, view: SplitView, settings: Settings) -> None:
        self.view = view
        self.settings = settings
        action = partial(make_action, owner)
        self.fit = action("Fit", view.fit, "Ctrl+0", "Show the whole picture")
        self.actual = action("1:1", view.actual_size, "Ctrl+1", "One output pixel per screen pixel")
        self.before_only = action(
            "Before only", view.toggle_before_after, tip="Show only the before, or the comparison (Space)"
        )
        self.smooth = action("Smooth before", self._set_smooth, tip="Draw the before bilinear")
        self.smooth.setCheckable(True)
        self.side_by_side = action("Side by side", self._set_side_by_side, tip="Two linked panes")
        self.side_by_side.setCheckable(True)

    def restore(self) -> None:
        """Show the remembered smoothing and mode (after a reset too)."""
        settings = self.settings
        self.smooth.setChecked(settings.smooth_before)
        self.view.set_smooth_before(settings.smooth_before)
        self.side_by_side.setChecked(settings.view_mode == "side_by_side")
        self.view.set_mode(settings.view_mode)

    def _set_smooth(self, smooth: bool) -> None:
        self.view.set_smooth_before(smooth)
        self.settings.smooth_before = smooth

    def _set_side_by_side(self, side_by_side: bool) -> None:
        mode = "side_by_side" if side_by_side else "split"
        self.view.set_mode(mode)
        self.settings.view_mode = mode
