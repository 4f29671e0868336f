"""Reading pictures: every image file becomes a `Picture` of uint8 or uint16 pixels (saving: `saving`).

Everything a user can get wrong (a missing, truncated, huge or unreadable file, an unknown extension, a file
that is already there) becomes one `ImageError` naming the file. Colour profile, EXIF and DPI travel along.
16-bit-per-channel colour and grey+alpha PNG/TIFF keep their 16 bits through `deep_colour` (Pillow
decodes them at 8 bits); animations are read frame by frame by `animation`, here only their first frame.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from sr_studio.core.deep_colour import DEEP_FORMATS, is_deep_colour, oriented, read_deep
from sr_studio.core.errors import ImageError, first_line
from sr_studio.core.formats import SAVE_FORMATS, format_for_path, readable_formats
from sr_studio.core.metadata import (
    ORIENTATION,
    Metadata,
    copy_exif,
    dpi_of,
    exif_bytes,
    orientation_of,
    profile_fits,
)
from sr_studio.core.picture import Picture
from sr_studio.core.saving import MADE_BY, made_by, picture_to_pil, save_image

__all__ = [
    "ANIMATED_NOTE",
    "CLIPPED_NOTE",
    "DEEP_COLOUR_NOTE",
    "DEFAULT_MAX_PIXELS",
    "MADE_BY",
    "SAVE_FORMATS",
    "Metadata",
    "Picture",
    "format_for_path",
    "load_image",
    "made_by",
    "picture_from_pil",
    "picture_to_pil",
    "save_image",
]

DEFAULT_MAX_PIXELS = 64_000_000

ANIMATED_NOTE = "animated: only the first frame is used"
DEEP_COLOUR_NOTE = "16 bits per channel colour: read at 8 bits"
CLIPPED_NOTE = "pixel values outside 0-65535 were clipped"

# EXIF orientation → the transpose that makes the picture upright (as ImageOps.exif_transpose, which would
# also re-serialise the EXIF and so fail on the broken tags that copy_exif drops).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Modes with a plain counterpart: 1-bit becomes 0/255 grey, premultiplied alpha is undone.
_UNPACKED = {"1": "L", "La": "LA", "RGBa": "RGBA"}
_CORRUPT = (OSError, SyntaxError, EOFError, ValueError, struct.error, zlib.error)
_PILLOW_LIMIT_LOCK = threading.Lock()


# ---------------------------------------------------------------------------------------------- loading


def load_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Read an image file; its size is checked against `max_pixels` before any pixel is decoded.

    Animated files give their first frame, EXIF orientation is applied, and every Pillow mode maps to
    grey, grey+alpha, RGB or RGBA (see `picture_from_pil`).
    """
    path = Path(path)
    with reading(path, max_pixels) as caught, Image.open(path, formats=list(readable_formats())) as image:
        picture = picture_from_pil(image, source=path, max_pixels=max_pixels)
    picture.notes += warning_notes(caught)
    return picture


@contextmanager
def reading(path: Path, max_pixels: int) -> Iterator[list[warnings.WarningMessage]]:
    """Open and decode `path` inside this: whatever goes wrong becomes one `ImageError` naming the file,
    Pillow's own pixel limit is lifted to ours, and library warnings are caught (see `warning_notes`)."""
    if path.is_dir():
        raise ImageError("is a folder, not an image file", path)
    if not path.exists():
        raise ImageError("no such file", path)
    try:
        if path.stat().st_size == 0:
            raise ImageError("file is empty", path)
        with pillow_limit_at_least(max_pixels), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError("no such file", path) from None
    except PermissionError:
        raise ImageError("permission denied", path) from None
    except UnidentifiedImageError:
        raise ImageError("not a picture SR Studio can read (format not recognised)", path) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"image is over the {_mp(max_pixels)} limit", path) from None
    except _CORRUPT as error:  # a header cut short fails while opening, before any pixel is read
        raise ImageError(f"file is truncated or corrupt ({first_line(error, 120)})", path) from None
    except MemoryError:
        raise ImageError("not enough memory to decode it", path) from None
    except NotImplementedError as error:  # e.g. a DDS pixel format Pillow has no decoder for
        problem = f"a variant of its format SR Studio cannot read ({first_line(error, 120)})"
        raise ImageError(problem, path) from None
    except Exception as error:  # a decoder's own bug on odd bytes: the file's failure, traceback logged
        from sr_studio.core.logs import log_exception

        where = log_exception(error)
        problem = f"cannot decode: {error.__class__.__name__}: {first_line(error, 120)} (details in {where})"
        raise ImageError(problem, path) from None


def warning_notes(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    """Library warnings raised while reading, as the file's notes (never printed raw); our own pixel
    limit already decided about decompression bombs."""
    notes = dict.fromkeys(
        f"decoder warning: {first_line(warning.message, 120)}"
        for warning in caught
        if not issubclass(warning.category, Image.DecompressionBombWarning)
    )
    return tuple(notes)


def picture_from_pil(
    image: Image.Image, *, source: str | os.PathLike[str] | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Picture:
    """Turn a Pillow image (opened, pasted or generated) into a Picture; `image` itself is left as it was.

    Modes: "1", "L" → grey uint8; "LA"/"La" → grey+alpha (premultiplied alpha undone); "P"/"PA" → RGBA when
    they carry transparency, else RGB; "RGBa" → RGBA; "CMYK" → RGB through its ICC profile when it has one;
    "YCbCr", "LAB", "HSV" → RGB; "I;16*" → grey uint16; "I" (32-bit) → grey uint16 clipped to 0..65535;
    "F" (float) → grey uint16, values in [0, 1] scaled by 65535, any other range clipped to 0..65535.
    """
    path = None if source is None else Path(source)
    source_format = image.format  # a transposed copy has none
    pixel_count = image.width * image.height
    if pixel_count > max_pixels:
        raise ImageError(f"image is {_mp(pixel_count)}, over the {_mp(max_pixels)} limit", path)
    notes = []
    animated = bool(getattr(image, "is_animated", False))
    if animated:
        image.seek(0)
        if image.format != "MPO":  # a camera JPEG whose extra frames are previews, not an animation
            notes.append(ANIMATED_NOTE)
    deep = is_deep_colour(image)
    if deep and (path is None or animated or source_format not in DEEP_FORMATS):
        deep = False  # only a file's own pixels can be read again at 16 bits
        notes.append(DEEP_COLOUR_NOTE)
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"image is over the {_mp(max_pixels)} limit", path) from None
    except _CORRUPT as error:
        raise ImageError(f"file is truncated or corrupt ({first_line(error, 120)})", path) from None
    exif, exif_notes = copy_exif(image)
    notes += exif_notes
    orientation = orientation_of(exif)
    if orientation != 1:
        image = image.transpose(_TRANSPOSE[orientation])  # keeps .info (profile, DPI)
    if ORIENTATION in exif:
        exif[ORIENTATION] = 1
    exif_data, exif_notes = exif_bytes(exif)
    notes += exif_notes
    pixels, clipped = _pixels(image, path)
    if clipped:
        notes.append(CLIPPED_NOTE)
    if deep:
        assert path is not None and source_format is not None
        pixels, deep_notes = _deep_pixels(path, source_format, pixels, orientation)
        notes += deep_notes
    # A CMYK profile no longer applies once the pixels are RGB.
    icc = image.info.get("icc_profile") if image.mode != "CMYK" else None
    metadata = Metadata(
        icc_profile=icc if profile_fits(icc, pixels.shape[2]) else None,
        exif=exif_data,
        dpi=dpi_of(image.info.get("dpi")),
    )
    return Picture(pixels, metadata, path, source_format, tuple(notes))


def _deep_pixels(
    path: Path, source_format: str, pixels: np.ndarray, orientation: int
) -> tuple[np.ndarray, list[str]]:
    """The file's 16-bit pixels, upright; the 8-bit `pixels` with a note when they cannot be read."""
    try:
        deep = oriented(read_deep(path, source_format), orientation)
        if deep.shape[:2] != pixels.shape[:2]:
            raise ValueError(f"{deep.shape[:2]} pixels, not {pixels.shape[:2]}")
    except MemoryError:
        raise ImageError("not enough memory to decode it", path) from None
    except Exception as error:  # any decoder's failure costs the extra bits, never the picture
        return pixels, [f"{DEEP_COLOUR_NOTE} (the 16-bit data cannot be decoded: {first_line(error, 100)})"]
    return deep, []


@contextmanager
def pillow_limit_at_least(max_pixels: int) -> Iterator[None]:
    """Pillow checks a global pixel limit of its own while opening and decoding; lift it to at least ours
    for this read, so that our check (and our message) decides. The global is shared, so loads take turns."""
    with _PILLOW_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        if saved is not None:
            Image.MAX_IMAGE_PIXELS = max(saved, max_pixels)
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _pixels(image: Image.Image, path: Path | None) -> tuple[np.ndarray, bool]:
    """The pixels as H×W×C uint8/uint16, and whether values had to be clipped to fit 16 bits."""
    mode, clipped = image.mode, False
    if mode in ("L", "LA", "RGB", "RGBA"):
        pixels = np.array(image)
    elif mode in _UNPACKED:
        pixels = np.array(image.convert(_UNPACKED[mode]))
    elif mode in ("P", "PA"):
        pixels = np.array(image.convert("RGBA" if _has_transparency(image) else "RGB"))
    elif mode.startswith("I;16"):
        pixels = np.array(image).astype(np.uint16, copy=False)  # "I;16B" arrives big-endian
    elif mode in ("I", "F"):
        values = np.nan_to_num(np.array(image, dtype=np.float64), nan=0.0, posinf=65535.0, neginf=0.0)
        if mode == "F" and values.size and values.min() >= 0.0 and values.max() <= 1.0:
            values *= 65535.0
        clipped = bool(values.size) and (values.min() < 0.0 or values.max() > 65535.0)
        pixels = np.rint(np.clip(values, 0.0, 65535.0)).astype(np.uint16)
    elif mode == "CMYK":
        pixels = np.array(_cmyk_to_rgb(image))
    else:  # "YCbCr", "LAB", "HSV", "RGBX", ...
        try:
            pixels = np.array(image.convert("RGB"))
        except ValueError:
            raise ImageError(f"colour mode {mode} is not supported", path) from None
    return (pixels[:, :, None] if pixels.ndim == 2 else pixels), clipped


def _has_transparency(image: Image.Image) -> bool:
    palette = image.palette
    return (
        image.mode == "PA"
        or "transparency" in image.info
        or (palette is not None and palette.mode.endswith("A"))
    )


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """Convert through the file's own CMYK profile when it has one (Pillow's plain formula is crude)."""
    icc = image.info.get("icc_profile")
    if icc:
        try:
            cmyk = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(image, cmyk, srgb, outputMode="RGB")
            if converted is not None:  # None only for a conversion in place, which this is not
                return converted
        except (ImportError, OSError, ValueError, ImageCms.PyCMSError):  # no LittleCMS, or a bad profile
            pass
    return image.convert("RGB")


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP"
