"""Help ▸ About: versions and the device in use, as plain text a user can paste into a bug report.

Opening it is the one place the GUI thread imports torch on purpose (its version is part of the text).
"""

from __future__ import annotations

import os
import platform

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import sr_studio
from sr_studio.core.errors import SRStudioError
from sr_studio.core.system import cpu_name


def about_text(device: str = "auto", backend: str = "auto") -> str:
    """Version and device information, one `name: value` per line."""
    import torch

    from sr_studio.core.backends import describe

    lines = [
        f"SR Studio {sr_studio.__version__}",
        f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.platform()}",
        f"PyTorch {torch.__version__}",
        f"Qt {qVersion()}, PySide6 {PySide6.__version__}",
        *_device_lines(device),
        f"Backend: {describe(backend)}",
    ]
    return "\n".join(lines) + "\n"


def _device_lines(request: str) -> list[str]:
    import torch

    from sr_studio.core import engine

    try:
        device = engine.resolve_device(request)
    except SRStudioError as error:
        return [f"Device: {error}"]
    lines = [f"Device: {device} (setting: {request})"]
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        lines.append(f"GPU: {properties.name}, {_gib(properties.total_memory)} memory")
        lines.append(f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
    elif device.type == "mps":
        lines.append(f"GPU: Apple (MPS), sharing {_ram()} of memory")
    else:
        lines.append(f"CPU: {cpu_name()}, {os.cpu_count()} threads, {_ram()} RAM")
    return lines


def _ram() -> str:
    try:
        return _gib(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):  # Windows has no sysconf
        return "unknown"


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB"


class AboutDialog(QDialog):
    """The About box: the `about_text` in a read-only box with a Copy button."""

    def __init__(self, device: str = "auto", parent: QWidget | None = None, backend: str = "auto") -> None:
        super().__init__(parent)
        self.setWindowTitle("About SR Studio")
        self.text = QPlainTextEdit(about_text(device, backend))
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setMinimumSize(560, 180)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy this text, e.g. for a bug report")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("SR Studio — super-resolution on your own machine"))
        layout.addWidget(self.text)
        layout.addWidget(buttons)

    def copy(self) -> None:
        """Put the whole text on the clipboard."""
        QGuiApplication.clipboard().setText(self.text.toPlainText())
