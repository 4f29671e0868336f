"""Starting the desktop app: the window is on screen before anything imports torch.

Building the window only scans the model library's cards (cheap); torch arrives with the first model load
or the device list, both in workers once the window shows.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtWidgets import QApplication

from sr_studio.ui.main_window import MainWindow
from sr_studio.ui.settings import APPLICATION, ORGANISATION


def run_gui(paths: Sequence[str]) -> int:
    """Open the main window (with `paths`: one picture opens it, a folder or several open the batch dialog)
    and run the event loop until the window closes; the loop's exit status is returned."""
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    window = MainWindow(paths)
    window.show()
    return app.exec()
