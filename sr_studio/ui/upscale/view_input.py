"""How the mouse, the wheel and the keys drive the split view: a press near the divider drags it, any other
press drags (pans) the picture, the wheel zooms around the pointer, and F, 1 and Space fit, show 1:1 and
toggle before only. The cursor says which a press would do.

`ViewInput` is the base class of `split_view.SplitView`, kept apart so that the view's state and layout read
on their own; it only calls the view's methods (`output_size`, `divider_x`, `set_divider`, `pan_by`,
`set_zoom`, `fit`, `actual_size`, `toggle_before_after`, and `_comparing` and `_panes` for the divider).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QWidget

WHEEL_STEP = 1.25  # zoom factor per wheel notch (120 eighths of a degree); touchpads give fractions
GRAB_DISTANCE = 8.0  # how close (widget pixels) a press must be to the divider to drag it


class ViewInput(QWidget):
    """The split view's mouse, wheel and key handling, and the state of a drag."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)  # to show the split cursor when hovering over the divider
        self._drag: str | None = None  # "divider" or "pan" while a button is held
        self._drag_last = QPointF()
        self._grab_offset = 0.0

    def _near_divider(self, x: float) -> bool:
        return self._comparing() and self._panes() == 1 and abs(x - self.divider_x()) <= GRAB_DISTANCE

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.output_size().isEmpty():
            super().mousePressEvent(event)
            return
        pos = event.position()
        self._drag = "divider" if self._near_divider(pos.x()) else "pan"
        self._drag_last = pos
        self._grab_offset = pos.x() - self.divider_x()  # so the divider does not jump to the pointer
        if self._drag == "pan":
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._drag == "divider":
            self.set_divider((pos.x() - self._grab_offset) / max(1, self.width()))
        elif self._drag == "pan":
            delta = pos - self._drag_last
            self._drag_last = pos
            self.pan_by(delta.x(), delta.y())
        else:
            self._update_cursor(pos.x())
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._drag is not None:
            self._drag = None
            self._update_cursor(event.position().x())
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def _update_cursor(self, x: float) -> None:
        if self._near_divider(x):
            self.setCursor(Qt.CursorShape.SplitHCursor)
        elif self.output_size().isEmpty():
            self.unsetCursor()
        else:
            self.setCursor(Qt.CursorShape.OpenHandCursor)

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120
        if not notches or self.output_size().isEmpty():
            event.ignore()
            return
        self.set_zoom(self.zoom * WHEEL_STEP**notches, event.position())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        actions = {
            Qt.Key.Key_F: self.fit,
            Qt.Key.Key_1: self.actual_size,
            Qt.Key.Key_Space: self.toggle_before_after,
        }
        action = actions.get(event.key())
        if action is None or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            super().keyPressEvent(event)
            return
        action()
        event.accept()
