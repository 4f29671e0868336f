"""`sr-studio` with no command opens the main window, before anything imports torch; without a display it
says so and exits 2 instead of letting Qt abort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from sr_studio.core.errors import UsageError
from sr_studio.ui.app import launch, main_window
from sr_studio.ui.app.main_window import MainWindow
from sr_studio.ui.app.settings import Settings


def test_run_gui_shows_the_window_and_opens_the_file(qtbot, monkeypatch, tmp_path: Path, photo, data_dir):
    monkeypatch.setattr(main_window, "Settings", lambda: Settings.from_file(tmp_path / "settings.ini"))
    shown: list[MainWindow] = []

    def event_loop(*args) -> int:
        shown.extend(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible())
        return 0

    monkeypatch.setattr(QApplication, "exec", event_loop)
    assert launch.run_gui([str(photo)]) == 0
    assert len(shown) == 1
    window = shown[0]
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.upscale_tab.opened is not None)  # loaded by a real worker thread
    assert "photo.png" in window.windowTitle()
    assert QApplication.instance().applicationName() == "SR Studio"


def test_gui_start_does_not_import_torch(tmp_path: Path):
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
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # the real user's settings stay untouched
        "SR_STUDIO_DATA_DIR": str(tmp_path / "data"),
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def without_display() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}


class QtStarted(Exception):
    """Raised where Qt would have started (and, without a display, aborted the process)."""


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="Windows and macOS always have a screen")
def test_without_a_display_run_gui_refuses_before_qt_can_abort(monkeypatch):
    class NoApplicationYet:
        instance = staticmethod(lambda: None)

        def __init__(self, *args) -> None:
            raise QtStarted

    monkeypatch.setattr(launch, "QApplication", NoApplicationYet)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UsageError, match="no display"):
        launch.run_gui([])
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # a platform the user chose is trusted
    with pytest.raises(QtStarted):
        launch.run_gui([])


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="Windows and macOS always have a screen")
def test_sr_studio_without_a_display_says_so_and_exits_2(tmp_path: Path):
    env = {
        **without_display(),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "SR_STUDIO_DATA_DIR": str(tmp_path / "data"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "sr_studio"], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "no display" in result.stderr
