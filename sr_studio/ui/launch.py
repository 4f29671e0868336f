"""Starting the desktop app. A placeholder window until the real GUI lands (its own issue)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

from sr_studio import __version__


class MainWindow(QMainWindow):
    """The main window; for now it names the app and the files it was asked to open."""

    def __init__(self, paths: Sequence[str] = ()) -> None:
        super().__init__()
        self.setWindowTitle(f"SR Studio {__version__}")
        text = "SR Studio\n\n" + ("\n".join(paths) if paths else "Use sr-studio upscale FILE for now.")
        label = QLabel(text)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(label)
        self.resize(900, 600)


def run_gui(paths: Sequence[str]) -> int:
    """Open the main window (with `paths` if given) and run the event loop until it closes."""
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("SR Studio")
    window = MainWindow(paths)
    window.show()
    return app.exec()
