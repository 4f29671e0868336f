"""The app window opens (a placeholder until the GUI issue lands) without importing torch first."""

from __future__ import annotations

import os
import subprocess
import sys

from sr_studio.ui.launch import MainWindow


def test_main_window_shows_the_files_it_was_given(qtbot):
    window = MainWindow(["photo.jpg"])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.isVisible()
    assert "photo.jpg" in window.centralWidget().text()


def test_gui_start_does_not_import_torch():
    probe = (
        "import sys\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "QTimer.singleShot(0, app.quit)\n"
        "from sr_studio.cli import main\n"
        "main([])\n"
        "print('torch' in sys.modules)\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
