"""The questions Save As asks: which file (and so which format), whether to replace it, how well to compress.

The answers only name the file; writing it is a worker job, so a slow disk never freezes the window.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from sr_studio.core.errors import UsageError

SAVE_FILTERS = {
    "png": "PNG image (*.png)",
    "jpg": "JPEG image (*.jpg *.jpeg)",
    "webp": "WebP image (*.webp)",
    "tif": "TIFF image (*.tif *.tiff)",
}
QUALITY_FORMATS = frozenset({"jpg", "webp"})
_EXTENSION_ALIASES = {"jpeg": "jpg", "tiff": "tif"}


def default_save_name(stem: str, scale: int, extension: str) -> str:
    """`{stem}_x{scale}.{ext}`, as the CLI names its outputs."""
    return f"{stem}_x{scale}.{extension}"


def normalised_extension(path: Path) -> str:
    """The save format of a path's extension in the settings' spelling ("jpeg" → "jpg"), "" if none."""
    extension = path.suffix.lower().lstrip(".")
    return _EXTENSION_ALIASES.get(extension, extension)


def ask_save_path(parent: QWidget, default: Path, extension: str) -> Path | None:
    """The file the user chose (None: cancelled), given the format's extension if they typed none.

    Replacing a file is not confirmed here: the caller asks, so that its overwrite=True is a real answer.
    A format we cannot write is a `UsageError` naming the file.
    """
    chosen, chosen_filter = QFileDialog.getSaveFileName(
        parent,
        "Save the upscaled picture",
        str(default),
        ";;".join(SAVE_FILTERS.values()),
        SAVE_FILTERS[extension],
        QFileDialog.Option.DontConfirmOverwrite,
    )
    if not chosen:
        return None
    path = Path(chosen)
    if not normalised_extension(path):
        wanted = next((ext for ext, text in SAVE_FILTERS.items() if text == chosen_filter), extension)
        path = path.with_name(f"{path.name}.{wanted}")
    extension = normalised_extension(path)
    if extension not in SAVE_FILTERS:
        raise UsageError(f"cannot save as .{extension} (use .png, .jpg, .webp or .tif)", path)
    return path


def confirm_replace(parent: QWidget, path: Path) -> bool:
    answer = QMessageBox.question(
        parent,
        "Replace the file?",
        f"{path.name} already exists in {path.parent}. Replace it?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


def ask_quality(parent: QWidget, extension: str, current: int) -> int | None:
    """The JPEG/WebP quality to save with (None: cancelled)."""
    best = "lossless" if extension == "webp" else "best"
    quality, ok = QInputDialog.getInt(
        parent, "Quality", f"{extension.upper()} quality (1–100, 100: {best})", current, 1, 100
    )
    return quality if ok else None
