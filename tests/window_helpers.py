"""Driving the main window in tests: choosing in a combo, opening a picture, running a job, drag and drop."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from sr_studio.ui.app.main_window import MainWindow
from tests.pictures import textured


def choose(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, f"{data!r} is not in the combo"
    combo.setCurrentIndex(index)


def shown(qtbot, window: MainWindow) -> MainWindow:
    """The window at 900×700 on screen: tests of what the view shows need real geometry."""
    window.resize(900, 700)
    window.show()
    qtbot.waitExposed(window)
    return window


def open_picture(qtbot, window: MainWindow, path: Path) -> None:
    with qtbot.waitSignal(window.jobEnded) as ended:
        window.upscale_tab.open_file(path)
    assert ended.args == ["finished"]


def run(qtbot, window: MainWindow, action, *args, timeout: int = 5000) -> str:
    """Start a job through `action` and wait for it to end; the outcome."""
    with qtbot.waitSignal(window.jobEnded, timeout=timeout) as ended:
        action(*args)
    return ended.args[0]


def drop(window: MainWindow, mime: QMimeData) -> QDropEvent:
    """Drag `mime` over the window and drop it, as Qt delivers a real drag and drop."""
    enter = QDragEnterEvent(
        QPointF(40, 40),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(
        QPointF(40, 40),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, event)
    return event


def file_mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    return mime


def big_photo(tmp_path: Path, side: int = 320) -> Path:
    path = tmp_path / "big.png"
    Image.fromarray(textured(side, side, seed=3)).save(path)
    return path
