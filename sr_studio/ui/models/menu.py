"""The window's Models menu: Import… (also what dropped weights files go through) and Manage….

The menu owns the importer and the manager dialog, and tells the window what changed, so the window
only has to list the models again (or select the new one) where its pickers are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from sr_studio.core.library import ModelLibrary
from sr_studio.ui.common import make_action
from sr_studio.ui.jobs import workers
from sr_studio.ui.models.importing import IMPORT_FILTER, ModelImporter
from sr_studio.ui.models.manager import ModelManagerDialog


class ModelsMenu(QMenu):
    """Models ▸ Import… and Manage…; `imported`, `removed` and `failed` say what happened."""

    imported = Signal(str)  # a new model's name
    removed = Signal(str)  # a removed model's name
    failed = Signal(str)  # one line: a file that could not be imported, and why

    def __init__(self, library: ModelLibrary, *, pool: workers.Pool | None = None, parent: QWidget) -> None:
        super().__init__("&Models", parent)
        self.library = library
        self.window = parent
        self.manager: ModelManagerDialog | None = None
        self.importer = ModelImporter(library, pool=pool, parent=parent)
        self.importer.imported.connect(self.imported)
        self.importer.imported.connect(self._refresh_manager)
        self.importer.failed.connect(self.failed)
        self.import_action = make_action(parent, "&Import…", self.import_dialog)
        self.manage_action = make_action(parent, "&Manage…", self.open_manager)
        self.addAction(self.import_action)
        self.addAction(self.manage_action)

    def import_dialog(self) -> None:
        """Ask for weights files (several at once) and import each."""
        paths, _ = QFileDialog.getOpenFileNames(
            self.window, "Import model weights", str(Path.home()), IMPORT_FILTER
        )
        self.import_files(paths)

    def import_files(self, paths: Sequence[str | Path]) -> None:
        self.importer.import_files(paths)

    def open_manager(self) -> None:
        """The manager dialog, non-modal; the one already open comes to the front, listed afresh."""
        if self.manager is None:
            self.manager = ModelManagerDialog(self.library, self.window)
            self.manager.removed.connect(self.removed)
        self.manager.refresh()
        self.manager.show()
        self.manager.raise_()

    def _refresh_manager(self) -> None:
        if self.manager is not None and self.manager.isVisible():
            self.manager.refresh()
