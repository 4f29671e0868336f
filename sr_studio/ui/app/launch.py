"""Starting the desktop app: the window is on screen before anything imports torch.

Building the window only scans the model library's cards (cheap); torch arrives with the first model load
or the device list, both in workers once the window shows.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from sr_studio.core import paths
from sr_studio.core.errors import UsageError
from sr_studio.ui.app.main_window import MainWindow
from sr_studio.ui.app.settings import APPLICATION, ORGANISATION
from sr_studio.ui.jobs import workers

_DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")


def _check_display() -> None:
    """Refuse to start without a display: Qt would abort the whole process, with no exception to catch.

    Only X11/Wayland systems are checked (Windows and macOS always have a screen); a QT_QPA_PLATFORM the user
    set (offscreen, vnc, ...) is trusted.
    """
    if sys.platform in ("win32", "darwin") or any(os.environ.get(name) for name in _DISPLAY_VARIABLES):
        return
    raise UsageError(
        "no display to open the app on (DISPLAY and WAYLAND_DISPLAY are not set); "
        "the commands work without one: sr-studio --help"
    )


def app_icon() -> QIcon:
    """The app's icon at every packaged size (the window manager picks one)."""
    icon = QIcon()
    for file in sorted((paths.resources_dir() / "icons").glob("sr-studio-*.png")):
        icon.addFile(str(file))
    return icon


def run_gui(paths: Sequence[str]) -> int:
    """Open the main window (with `paths`: one picture opens it, a folder or several open the batch dialog)
    and run the event loop until the window closes; the loop's exit status is returned."""
    app = QApplication.instance()
    if app is None:
        _check_display()
        app = QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setDesktopFileName("sr-studio")  # Wayland matches the window to the desktop entry by this name
    app.setWindowIcon(app_icon())
    window = MainWindow(paths)
    window.show()
    code = app.exec()
    workers.await_workers()  # no worker still writes a file or emits once the app is torn down
    return code
