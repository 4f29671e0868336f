"""The questions Save As asks: which result (after a comparison), which file (and so which format), whether
to replace it, how well to compress.

The answers only name the files; writing them is a worker job, so a slow disk never freezes the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from sr_studio.core.errors import UsageError
from sr_studio.ui.common import ask_yes_no

if TYPE_CHECKING:
    from sr_studio.core.images import Picture
    from sr_studio.core.upscale import UpscaleResult
    from sr_studio.ui.app.settings import Settings

SAVE_FILTERS = {
    "png": "PNG image (*.png)",
    "jpg": "JPEG image (*.jpg *.jpeg)",
    "webp": "WebP image (*.webp)",
    "avif": "AVIF image (*.avif)",
    "tif": "TIFF image (*.tif *.tiff)",
}
# An animation saves only as a format that animates: a user saving an upscaled GIF expects it to move, and
# keeping one frame of forty without a word would look like a bug.
ANIMATION_FILTERS = {
    "gif": "Animated GIF (*.gif)",
    "png": "Animated PNG (*.png)",
    "webp": "Animated WebP (*.webp)",
}
QUALITY_FORMATS = frozenset({"jpg", "webp", "avif"})
_EXTENSION_ALIASES = {"jpeg": "jpg", "tiff": "tif"}


def default_save_name(stem: str, scale: int, extension: str) -> str:
    """`{stem}_x{scale}.{ext}`, as the CLI names its outputs."""
    return f"{stem}_x{scale}.{extension}"


@dataclass(frozen=True)
class SaveFiles:
    """What the user chose to write: (picture, path, replace it) for each file, and the JPEG/WebP quality."""

    files: list[tuple[Picture, Path, bool]]
    quality: int | None


@dataclass(frozen=True)
class AnimationFile:
    """Where to write an animation, whether to replace the file there, and the WebP quality."""

    path: Path
    overwrite: bool
    quality: int | None


def default_save_path(
    source: Path | None, name: str, scale: int, settings: Settings, extension: str | None = None
) -> Path:
    """`{stem}_x{scale}.{format}` in the last save folder, else beside the picture `source` (or where the
    last one came from, for a pasted picture called `name`); the format is `extension`, else the last one
    saved."""
    stem = source.stem if source is not None else name
    folder = settings.last_save_folder or (
        str(source.parent) if source is not None else settings.last_open_folder
    )
    return Path(folder or Path.home()) / default_save_name(stem, scale, extension or settings.output_format)


def animation_extension(format: str) -> str:
    """The extension an animation read as Pillow format `format` saves as by default (APNG: png)."""
    return {"PNG": "png", "WEBP": "webp"}.get(format, "gif")


def ask_save_files(
    parent: QWidget, results: Sequence[UpscaleResult], default: Path, settings: Settings, *, named: bool
) -> SaveFiles | None:
    """Ask where to save `results`, whether to replace existing files, and for JPEG/WebP how well; None
    when nothing is to be saved. Each file is named after its model when there are several, or when
    `named` (one result of a comparison); the format, quality and folder chosen are remembered."""
    if not results:
        return None
    offered = with_model(default, results[0].model) if named and len(results) == 1 else default
    path = ask_save_path(parent, offered, settings.output_format)
    if path is None:
        return None
    paths = [with_model(path, result.model) for result in results] if len(results) > 1 else [path]
    existing = [target for target in paths if target.exists()]
    if existing and not confirm_replace(parent, existing):
        return None
    extension = normalised_extension(path)
    quality = None
    if extension in QUALITY_FORMATS:
        quality = ask_quality(parent, extension, settings.output_quality)
        if quality is None:
            return None
        settings.output_quality = quality
    settings.output_format = extension
    settings.last_save_folder = str(path.parent)
    files = [(r.picture, target, target in existing) for r, target in zip(results, paths, strict=True)]
    return SaveFiles(files, quality)


def ask_animation_file(parent: QWidget, default: Path, settings: Settings) -> AnimationFile | None:
    """Ask where to save an upscaled animation (GIF, APNG or WebP only), whether to replace the file, and
    for WebP how well; None when not to be saved. The still pictures' remembered format is left alone."""
    path = ask_save_path(parent, default, normalised_extension(default), ANIMATION_FILTERS)
    if path is None:
        return None
    overwrite = path.exists()
    if overwrite and not confirm_replace(parent, [path]):
        return None
    quality = None
    if normalised_extension(path) == "webp":
        quality = ask_quality(parent, "webp", settings.output_quality)
        if quality is None:
            return None
        settings.output_quality = quality
    settings.last_save_folder = str(path.parent)
    return AnimationFile(path, overwrite, quality)


def with_model(path: Path, model: str) -> Path:
    """`photo_x2.png` → `photo_x2_{model}.png`: the file of one model's result among several."""
    return path.with_name(f"{path.stem}_{model}{path.suffix}")


def ask_which_result(parent: QWidget, model_a: str, model_b: str) -> str | None:
    """After a comparison: "A", "B" or "both" (one file each, named after its model); None: cancelled."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Save which result?",
        f"The view compares two results. Save A ({model_a}), B ({model_b}), or both as two files "
        "named after their models?",
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    choices = [
        (box.addButton(text, QMessageBox.ButtonRole.AcceptRole), answer)
        for text, answer in ((f"A: {model_a}", "A"), (f"B: {model_b}", "B"), ("Both", "both"))
    ]
    box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
    box.exec()
    clicked = box.clickedButton()
    box.deleteLater()
    return next((answer for button, answer in choices if button is clicked), None)


def normalised_extension(path: Path) -> str:
    """The save format of a path's extension in the settings' spelling ("jpeg" → "jpg"), "" if none."""
    extension = path.suffix.lower().lstrip(".")
    return _EXTENSION_ALIASES.get(extension, extension)


def ask_save_path(
    parent: QWidget, default: Path, extension: str, filters: dict[str, str] = SAVE_FILTERS
) -> Path | None:
    """The file the user chose (None: cancelled), given the format's extension if they typed none.

    Replacing a file is not confirmed here: the caller asks, so that its overwrite=True is a real answer.
    A format not among `filters` is a `UsageError` naming the file.
    """
    chosen, chosen_filter = QFileDialog.getSaveFileName(
        parent,
        "Save the upscaled picture",
        str(default),
        ";;".join(filters.values()),
        filters.get(extension, next(iter(filters.values()))),
        QFileDialog.Option.DontConfirmOverwrite,
    )
    if not chosen:
        return None
    path = Path(chosen)
    if not normalised_extension(path):
        wanted = next((ext for ext, text in filters.items() if text == chosen_filter), extension)
        path = path.with_name(f"{path.name}.{wanted}")
    extension = normalised_extension(path)
    if extension not in filters:
        *others, last = (f".{ext}" for ext in filters)
        what = " an animation" if filters is ANIMATION_FILTERS else ""
        raise UsageError(f"cannot save{what} as .{extension} (use {', '.join(others)} or {last})", path)
    return path


def confirm_replace(parent: QWidget, paths: Sequence[Path]) -> bool:
    """Whether to replace the existing files `paths` (all in one folder), asked once."""
    names = " and ".join(path.name for path in paths)
    exist, it = ("exists", "it") if len(paths) == 1 else ("exist", "them")
    confirmed = ask_yes_no(
        parent,
        "Replace the file?",
        f"{names} already {exist} in {paths[0].parent}. Replace {it}?",
    )
    return confirmed


def ask_quality(parent: QWidget, extension: str, current: int) -> int | None:
    """The JPEG/WebP/AVIF quality to save with (None: cancelled)."""
    best = "lossless" if extension == "webp" else "best"
    quality, ok = QInputDialog.getInt(
        parent, "Quality", f"{extension.upper()} quality (1–100, 100: {best})", current, 1, 100
    )
    return quality if ok else None
