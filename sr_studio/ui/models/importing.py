"""Importing weights files into the model library from the GUI: one worker job per file, one at a time.

Importing reads and verifies the weights (torch comes in), so it runs in a worker; asking for another
name when a file's name is taken happens on the GUI thread between jobs. Each failure is one line.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from sr_studio.core.jobs import CancelToken, Progress
from sr_studio.core.library import ModelEntry, ModelLibrary, check_name, sanitise_name
from sr_studio.ui.jobs import workers

WEIGHTS_SUFFIXES = (".safetensors", ".pth", ".pt")
IMPORT_FILTER = "Model weights (*.safetensors *.pth *.pt);;All files (*)"


def split_weights(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """(weights files, everything else): a drop may hold both, and each goes its own way."""
    weights = [path for path in paths if path.suffix.lower() in WEIGHTS_SUFFIXES and not path.is_dir()]
    return weights, [path for path in paths if path not in weights]


def taken_names(library: ModelLibrary) -> set[str]:
    """Names an import would clash with: listed models, and any card or weights file, broken ones too."""
    names = {entry.name for entry in library.entries()}
    for folder in (library.builtin_dir, library.user_dir):
        if folder.is_dir():
            names |= {path.stem for path in folder.iterdir() if path.suffix in (".json", ".safetensors")}
    return names


def free_name(base: str, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3`… : the first that is free, as the name the user is offered."""
    number = 2
    name = base
    while name in taken:
        name = f"{base}-{number}"
        number += 1
    return name


def name_problem(name: str, taken: set[str]) -> str:
    """Why `name` cannot be used for a new model, "" when it can."""
    try:
        check_name(name)
    except ValueError as error:
        return str(error)
    return f"a model named {name} already exists" if name in taken else ""


def import_job(
    library: ModelLibrary, path: Path, name: str, cancel: CancelToken
) -> Generator[Progress, None, ModelEntry]:
    """Import one file under `name` (read, detect, verify, save: seconds for a big model)."""
    cancel.raise_if_cancelled()
    yield Progress(0, 1, "files", info={"file": str(path)})
    return library.import_file(path, name=name)


class ModelImporter(QObject):
    """Imports files in turn; `imported` names each new model, `failed` gives one line per failure."""

    imported = Signal(str)  # the new model's name
    failed = Signal(str)  # one line naming the file and the problem

    def __init__(self, library: ModelLibrary, *, pool: workers.Pool | None = None, parent: QWidget) -> None:
        super().__init__(parent)
        self.library = library
        self.pool = pool
        self.window = parent
        self.queue: list[Path] = []
        self.job: workers.JobHandle | None = None

    def import_files(self, paths: Sequence[str | Path]) -> None:
        """Queue `paths` for import; they start at once unless an import is running."""
        self.queue.extend(Path(path) for path in paths)
        if self.job is None:
            self._next()

    def ask_name(self, path: Path, suggestion: str, problem: str) -> str | None:
        """Another name for `path`'s model, or None to skip the file (tests answer it themselves)."""
        name, ok = QInputDialog.getText(
            self.window,
            "Name the imported model",
            f"{problem}.\nName for the model in {path.name}:",
            QLineEdit.EchoMode.Normal,
            suggestion,
        )
        return name.strip() if ok else None

    def _next(self) -> None:
        while self.queue:
            path = self.queue.pop(0)
            name = self._choose_name(path)
            if name is None:
                continue
            handle = workers.prepare_job(
                finished=lambda entry: self.imported.emit(entry.name),
                failed=lambda message, path=path: self.failed.emit(_failure(path, message)),
                ended=self._ended,
            )
            self.job = handle
            workers.launch(handle, partial(import_job, self.library, path, name), self.pool)
            return

    def _ended(self) -> None:
        self.job = None
        self._next()

    def _choose_name(self, path: Path) -> str | None:
        """The file's own name when free; else what the user types, asked again until it can be used."""
        taken = taken_names(self.library)
        name = sanitise_name(path.stem)
        problem = name_problem(name, taken)
        while problem:
            answer = self.ask_name(path, free_name(sanitise_name(name), taken), problem)
            if answer is None:
                return None
            name, problem = answer, name_problem(answer, taken)
        return name


def _failure(path: Path, message: str) -> str:
    """One line naming the file ("Cannot import PATH: problem"), whether or not the core's message does."""
    return f"Cannot import {message}" if str(path) in message else f"Cannot import {path.name}: {message}"
