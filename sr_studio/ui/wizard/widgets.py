"""Widget helpers the wizard's pages share."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSpinBox

from sr_studio.ui.common import ERROR_STYLE


def text_label(text: str = "", *, error: bool = False) -> QLabel:
    """A wrapping, selectable label (a path or an error can be copied); red for a problem."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if error:
        label.setStyleSheet(ERROR_STYLE)
    return label


def spin_box(low: int, high: int, value: int, tip: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin
