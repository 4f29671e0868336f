"""Small pieces the window, the tabs and the dialogs share: the model cache, actions, questions, wording.

Nothing here imports torch (the device list, which does in a worker, is `ui.jobs.devices`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox, QWidget

if TYPE_CHECKING:
    from sr_studio.core.library import LoadedModel, ModelLibrary

ERROR_STYLE = "color: #c62828;"  # a one-line problem shown inline, next to what caused it
ENSEMBLE_TIP = (
    "Self-ensemble: upscale the 8 flips and rotations of the picture and average them "
    "(about 8× the time; a little more faithful, fewer artefacts)"
)


class ModelCache:
    """Loaded models shared by worker jobs; a model replaced under the same name is loaded afresh."""

    def __init__(self, library: ModelLibrary) -> None:
        self.library = library
        self._models: dict[tuple[str, str], LoadedModel] = {}
        self._lock = threading.Lock()  # jobs run on pool threads; one load per model, not one per job

    def get(self, name: str) -> LoadedModel:
        entry = self.library.find(name)
        key = (name, entry.card.sha256)
        with self._lock:
            if key not in self._models:
                self._models = {k: v for k, v in self._models.items() if k[0] != name}
                self._models[key] = self.library.load(entry)
            return self._models[key]


def make_action(
    owner: QWidget,
    text: str,
    slot: Callable[..., Any],
    shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
    tip: str = "",
) -> QAction:
    """An action added to `owner`, so its shortcut works wherever `owner` (a window) has focus."""
    action = QAction(text, owner)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setToolTip(tip)
        action.setStatusTip(tip)
    action.triggered.connect(slot)
    owner.addAction(action)
    return action


def ask_yes_no(parent: QWidget | None, title: str, text: str) -> bool:
    """A Yes/No question whose default is No: the app's one way to ask before something it cannot undo."""
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    answer = QMessageBox.question(parent, title, text, buttons, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
