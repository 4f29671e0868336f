"""Models ▸ Manage…: every model in the library with what its card says, and Remove for the user's own.

Listing reads only the cards (no torch), so the dialog fills at once. Built-in models cannot be removed;
removing one of the user's asks first. Entries the library had to skip are listed with their reason.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sr_studio.core.errors import ModelError
from sr_studio.core.library import ModelEntry, ModelLibrary
from sr_studio.ui.common import ERROR_STYLE, ask_yes_no

COLUMNS = ("Name", "Task", "Scale", "Architecture", "Kind", "Size", "Quality", "Source", "Description")


def file_size(entry: ModelEntry) -> str:
    """The weights file's size, "?" when it cannot be read (the entry stays listed)."""
    try:
        size = entry.weights_path.stat().st_size
    except OSError:
        return "?"
    if size < 1000:
        return f"{size} bytes"
    return f"{size / 1000:.1f} KB" if size < 1_000_000 else f"{size / 1_000_000:.1f} MB"


def row_texts(entry: ModelEntry) -> tuple[str, ...]:
    """The table's cells for one model, in COLUMNS order."""
    card = entry.card
    return (
        entry.name,
        card.task,
        f"×{card.scale}" if card.scale else "—",
        card.architecture,
        "built in" if entry.builtin else "yours",
        file_size(entry),
        card.quality(),
        card.source or "",
        card.description,
    )


class ModelManagerDialog(QDialog):
    """The library's models in a table; Remove deletes the selected user model after asking."""

    removed = Signal(str)  # the name of a model just removed

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.entries: list[ModelEntry] = []
        self.setWindowTitle("Models")
        self.resize(1000, 420)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setToolTip("Delete the selected model of yours (built-in models stay)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.error_label = QLabel()
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setVisible(False)
        self.problems_label = QLabel("Skipped (broken) entries:")
        self.problems_list = QListWidget()
        self.problems_list.setMaximumHeight(90)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        row = QHBoxLayout()
        row.addWidget(self.remove_button)
        row.addWidget(self.error_label, 1)
        row.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.problems_list)
        layout.addLayout(row)
        self.refresh()

    def refresh(self) -> None:
        """List the library again (after an import or a removal), and what it had to skip."""
        self.entries = self.library.entries()
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            for column, text in enumerate(row_texts(entry)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if column == 0:
                    item.setData(Qt.ItemDataRole.UserRole, entry.name)
                self.table.setItem(row, column, item)
        problems = self.library.problems
        self.problems_list.clear()
        self.problems_list.addItems(problems)
        self.problems_label.setVisible(bool(problems))
        self.problems_list.setVisible(bool(problems))
        self._selection_changed()

    def select(self, name: str) -> None:
        """Select the row of model `name` (the Remove button follows)."""
        names = [entry.name for entry in self.entries]
        self.table.selectRow(names.index(name))

    def selected_entry(self) -> ModelEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows else None

    def ask_remove(self, name: str) -> bool:
        """Whether the user confirms deleting `name` (tests answer it themselves)."""
        confirmed = ask_yes_no(
            self,
            "Remove the model?",
            f"Delete {name} from your model library? Its files are removed; this cannot be undone.",
        )
        return confirmed

    def remove_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or entry.builtin or not self.ask_remove(entry.name):
            return
        try:
            self.library.remove(entry.name)
        except ModelError as error:
            self._show_error(str(error))
            return
        self._show_error("")
        self.refresh()
        self.removed.emit(entry.name)

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def _selection_changed(self) -> None:
        entry = self.selected_entry()
        self.remove_button.setEnabled(entry is not None and not entry.builtin)
        if entry is not None and entry.builtin:
            self.remove_button.setToolTip(f"{entry.name} is built in and cannot be removed")
        else:
            self.remove_button.setToolTip("Delete the selected model of yours (built-in models stay)")
