"""Which files are pictures, and what each result is written as: the one list every face uses.

Readable: every extension Pillow registers for a format it can decode (plus HEIC/HEIF when the optional
`pillow-heif` is installed), less formats that only identify a file or are unsafe to open. The batch scan,
the open dialog, drag and drop, the wizard's data scan and the CLI all ask `readable_extensions()`.

Written: PNG, JPEG, WebP, AVIF, TIFF, BMP, TGA, QOI and GIF. "Keep the input's format" keeps it only where
writing it back loses nothing the upscale made; anything else (PSD, DDS, ICO, JPEG 2000, a still GIF…) is
written as PNG, with a note saying why.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from PIL import Image, features

from sr_studio.core.errors import ImageError

SAVE_FORMATS: dict[str, str] = {
    "png": "PNG",
    "apng": "PNG",
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "webp": "WEBP",
    "avif": "AVIF",
    "tif": "TIFF",
    "tiff": "TIFF",
    "bmp": "BMP",
    "tga": "TGA",
    "qoi": "QOI",
    "gif": "GIF",
}
# What "keep the input's format" keeps: writable without losing what the upscale made. GIF holds 256
# colours, so only an animated GIF stays GIF (see `output_extension`).
KEPT_FORMATS = frozenset(SAVE_FORMATS) - {"gif"}
ANIMATED_FORMATS = frozenset({"GIF", "PNG", "WEBP"})  # read and written frame by frame
TIFF_COMPRESSIONS = ("deflate", "lzw", "none")
FALLBACK = "png"
# Never offered: EPS runs Ghostscript on the file; the others only identify a file (MPEG) or need a
# handler installed by the application (BUFR, GRIB, HDF5, WMF/EMF outside Windows), and IPTC is metadata.
UNREADABLE_FORMATS = frozenset({"EPS", "MPEG", "BUFR", "GRIB", "HDF5", "WMF", "IPTC"})
_WHY_NOT_KEPT = {
    "GIF": "GIF holds only 256 colours",
    "PSD": "PSD cannot be written",
    "DDS": "DDS textures need their own compression and mipmaps",
    "ICO": "icons hold only small sizes",
    "CUR": "cursors hold only small sizes",
    "ICNS": "icons hold only small sizes",
    "JPEG2000": "JPEG 2000 is not written by SR Studio",
    "MPO": "its extra camera frames cannot be kept",
    "HEIF": "HEIC/HEIF is not written by SR Studio",
}


@cache
def register_plugins() -> tuple[str, ...]:
    """Register the optional decoders that are installed (once); the names of those that are.

    pillow-heif adds HEIC/HEIF (iPhone photos). It is optional: without it those files are simply not
    picture files to SR Studio.
    """
    found = []
    try:
        import pillow_heif
    except ImportError:
        pass
    else:
        pillow_heif.register_heif_opener()
        found.append("pillow-heif")
    return tuple(found)


@cache
def readable_formats() -> tuple[str, ...]:
    """The Pillow format names `Image.open` may try on a user's file."""
    register_plugins()
    Image.init()
    return tuple(name for name in Image.OPEN if name not in UNREADABLE_FORMATS)


@cache
def readable_extensions() -> frozenset[str]:
    """Lower-case extensions with their dot (".png") of every picture file SR Studio reads."""
    formats = set(readable_formats()) | {"MPO"}  # a camera MPO is opened by the JPEG decoder
    return frozenset(ext for ext, name in Image.registered_extensions().items() if name in formats)


def is_readable(path: str | os.PathLike[str]) -> bool:
    """Whether `path`'s extension names a picture format SR Studio reads."""
    return Path(path).suffix.lower() in readable_extensions()


def open_dialog_filter() -> str:
    """A Qt file dialog filter: every readable extension, then all files."""
    patterns = " ".join(f"*{ext}" for ext in sorted(readable_extensions()))
    return f"Images ({patterns});;All files (*)"


def writable_extensions() -> tuple[str, ...]:
    """Output extensions, without AVIF when this Pillow was built without its encoder."""
    return tuple(ext for ext in SAVE_FORMATS if ext != "avif" or features.check("avif"))


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The Pillow format name for `path`'s extension, e.g. "JPEG" for photo.jpg."""
    suffix = Path(path).suffix
    extension = suffix.lower().lstrip(".")
    if extension not in writable_extensions():
        raise ImageError(f"unknown image extension '{suffix}' (use {supported_extensions()})", path)
    return SAVE_FORMATS[extension]


def format_name(name: str, path: str | os.PathLike[str]) -> str:
    """Accept a Pillow format name ("JPEG") or an extension ("jpg")."""
    writable = {SAVE_FORMATS[ext]: ext for ext in writable_extensions()}
    if name.upper() in writable:
        return name.upper()
    extension = name.lower().lstrip(".")
    if extension in writable_extensions():
        return SAVE_FORMATS[extension]
    raise ImageError(f"cannot save as {name} (use {supported_extensions()})", path)


def supported_extensions() -> str:
    return ", ".join(f".{extension}" for extension in writable_extensions())


def source_format(path: str | os.PathLike[str]) -> str | None:
    """The Pillow format `path`'s extension names (None when no reader registers it)."""
    register_plugins()
    Image.init()
    return Image.registered_extensions().get(Path(path).suffix.lower())


def is_animated_file(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is an animation SR Studio upscales frame by frame (header only; any doubt: no)."""
    try:
        with Image.open(path, formats=list(ANIMATED_FORMATS)) as image:
            return bool(getattr(image, "is_animated", False)) and image.format in ANIMATED_FORMATS
    except Exception:  # unreadable files fail later, when loaded, with their own message
        return False


def output_extension(source: Path, *, first_frame: bool = False) -> tuple[str, str | None]:
    """The extension that keeps `source`'s format, and a note when it cannot be kept (then PNG).

    An animated GIF stays GIF (frame by frame) unless only its `first_frame` is wanted.
    """
    extension = source.suffix.lower().lstrip(".")
    if extension in KEPT_FORMATS and extension in writable_extensions():
        return extension, None
    if extension == "gif" and not first_frame and is_animated_file(source):
        return "gif", None
    name = source_format(source) or extension.upper()
    kept = {SAVE_FORMATS[ext]: ext for ext in reversed(writable_extensions()) if ext in KEPT_FORMATS}
    if name in kept:  # another spelling of a kept format: photo.jfif → photo_x4.jpg
        return kept[name], None
    why = _WHY_NOT_KEPT.get(name, f"{name} is not among the formats SR Studio writes")
    return FALLBACK, f"{why}: saved as PNG"
