"""Reading and writing pictures: every image file becomes a `Picture` of uint8 or uint16 pixels, and back.

Everything a user can get wrong (a missing, truncated, huge or unreadable file, an unknown extension, a file
that is already there) becomes one `ImageError` naming the file. Colour profile, EXIF and DPI travel along.

Known Pillow limits, stated once here: 16-bit-per-channel colour (and 16-bit grey+alpha) is decoded at 8 bits
per channel, since Pillow has no 16-bit RGB or LA mode; only single-channel grey keeps 16 bits, in and out.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError

from sr_studio.core.atomic import atomic_write
from sr_studio.core.errors import ImageError, first_line
from sr_studio.core.metadata import (
    ORIENTATION,
    Metadata,
    copy_exif,
    dpi_of,
    exif_bytes,
    metadata_options,
    orientation_of,
    profile_fits,
    tiff_compression,
)

DEFAULT_MAX_PIXELS = 64_000_000

SAVE_FORMATS: dict[str, str] = {
    "png": "PNG",
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "webp": "WEBP",
    "tif": "TIFF",
    "tiff": "TIFF",
}

ANIMATED_NOTE = "animated: only the first frame is used"
DEEP_COLOUR_NOTE = "16 bits per channel colour: read at 8 bits (only grey keeps 16 bits)"
CLIPPED_NOTE = "pixel values outside 0-65535 were clipped"
MADE_BY = "SR Studio, model "  # a batch output's EXIF Software tag: this, then the name of its model

# EPS is rendered by running Ghostscript on the file: not something to do with whatever lands in a drop zone.
_UNSAFE_FORMATS = frozenset({"EPS"})
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
_MAX_SIDE = {"JPEG": 65_500, "WEBP": 16_383}
_DEFAULT_QUALITY = {"JPEG": 95, "WEBP": 90}
_CORRUPT = (OSError, SyntaxError, EOFError, ValueError, struct.error, zlib.error)
_PILLOW_LIMIT_LOCK = threading.Lock()


@dataclass
class Picture:
    """H×W×C pixels, uint8 or uint16; C is 1 grey, 2 grey+alpha, 3 RGB or 4 RGBA."""

    pixels: np.ndarray
    metadata: Metadata = field(default_factory=Metadata)
    source: Path | None = None
    format: str | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        shape, dtype = self.pixels.shape, self.pixels.dtype
        if len(shape) != 3 or shape[2] not in (1, 2, 3, 4) or dtype not in (np.uint8, np.uint16):
            raise ValueError(f"pixels must be H×W×C (C 1-4) uint8 or uint16, not {shape} {dtype}")

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def channels(self) -> int:
        return self.pixels.shape[2]

    @property
    def has_alpha(self) -> bool:
        return self.channels in (2, 4)

    @property
    def is_grey(self) -> bool:
        return self.channels in (1, 2)

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


# ---------------------------------------------------------------------------------------------- loading


def load_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Read an image file; its size is checked against `max_pixels` before any pixel is decoded.

    Animated files give their first frame, EXIF orientation is applied, and every Pillow mode maps to
    grey, grey+alpha, RGB or RGBA (see `picture_from_pil`).
    """
    path = Path(path)
    if path.is_dir():
        raise ImageError("is a folder, not an image file", path)
    if not path.exists():
        raise ImageError("no such file", path)
    try:
        if path.stat().st_size == 0:
            raise ImageError("file is empty", path)
        with _pillow_limit_at_least(max_pixels), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with Image.open(path, formats=_readable_formats()) as image:
                picture = picture_from_pil(image, source=path, max_pixels=max_pixels)
        picture.notes += _warning_notes(caught)
        return picture
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


def _warning_notes(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
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
    if getattr(image, "is_animated", False):
        image.seek(0)
        if image.format != "MPO":  # a camera JPEG whose extra frames are previews, not an animation
            notes.append(ANIMATED_NOTE)
    if image.mode in ("RGB", "RGBA", "LA") and any(";16" in str(tile[3]) for tile in image.tile):
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
    # A CMYK profile no longer applies once the pixels are RGB.
    icc = image.info.get("icc_profile") if image.mode != "CMYK" else None
    metadata = Metadata(
        icc_profile=icc if profile_fits(icc, pixels.shape[2]) else None,
        exif=exif_data,
        dpi=dpi_of(image.info.get("dpi")),
    )
    return Picture(pixels, metadata, path, source_format, tuple(notes))


def _readable_formats() -> list[str]:
    Image.init()
    return [name for name in Image.OPEN if name not in _UNSAFE_FORMATS]


@contextmanager
def _pillow_limit_at_least(max_pixels: int) -> Iterator[None]:
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
            return ImageCms.profileToProfile(image, cmyk, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImportError, OSError, ValueError, ImageCms.PyCMSError):  # no LittleCMS, or a bad profile
            pass
    return image.convert("RGB")


# ---------------------------------------------------------------------------------------------- saving


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The Pillow format name for `path`'s extension, e.g. "JPEG" for photo.jpg."""
    suffix = Path(path).suffix
    if suffix.lower().lstrip(".") not in SAVE_FORMATS:
        raise ImageError(f"unknown image extension '{suffix}' (use {_supported_extensions()})", path)
    return SAVE_FORMATS[suffix.lower().lstrip(".")]


def picture_to_pil(picture: Picture) -> Image.Image:
    """A Pillow image of `picture` with its metadata in `.info`: L, I;16, LA, RGB or RGBA.

    Pillow has no 16-bit mode for grey+alpha or colour, so those become 8-bit.
    """
    image = _pil_image(picture.pixels if picture.channels == 1 else _to_8bit(picture.pixels))
    image.info.update(metadata_options(picture.metadata, image.mode))
    return image


def save_image(
    picture: Picture,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    quality: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write `picture` atomically as PNG, JPEG, WebP or TIFF (from the extension unless `format` is given).

    Grey stays grey, 16-bit grey stays 16-bit in PNG and TIFF; 16-bit colour and grey+alpha are written at
    8 bits (Pillow cannot write more). JPEG has no alpha and no 16 bits: alpha is composited onto white and
    the pixels reduced to 8 bits. WebP is always 8-bit RGB(A); quality 100 means lossless. `quality` (1-100)
    applies to JPEG (default 95) and WebP (default 90). ICC profile, EXIF and DPI are kept where the format
    can hold them. An existing file (the source included) is only replaced with overwrite=True.
    """
    path = Path(path)
    kind = _format_name(format, path) if format else format_for_path(path)
    if quality is not None and not 1 <= quality <= 100:
        raise ImageError(f"quality must be between 1 and 100, not {quality}", path)
    if path.is_dir():
        raise ImageError("is a folder", path)
    if not path.parent.is_dir():
        raise ImageError("the folder does not exist", path)
    if os.path.lexists(path) and not overwrite:
        same = _same_file(picture.source, path)
        what = "is the file this picture was loaded from" if same else "already exists"
        raise ImageError(f"{what} (use --overwrite)", path)
    side = _MAX_SIDE.get(kind)
    if side is not None and max(picture.width, picture.height) > side:
        raise ImageError(
            f"{picture.width}×{picture.height} is too large for {kind} (at most {side} pixels a side); "
            "save as PNG or TIFF",
            path,
        )
    image = _pil_image_for(picture, kind)
    options = metadata_options(picture.metadata, image.mode)
    if kind == "WEBP":
        options.pop("dpi", None)  # WebP has nowhere to keep it
    options.update(_encoder_options(kind, quality, picture.metadata.exif))
    try:
        with atomic_write(path, overwrite=overwrite) as temp:
            image.save(temp, format=kind, **options)
    except FileExistsError:
        raise ImageError("already exists (use --overwrite)", path) from None
    except PermissionError:
        raise ImageError("permission denied", path) from None
    except (OSError, ValueError) as error:
        raise ImageError(f"could not write {kind}: {error}", path) from None
    return path


def made_by(path: str | os.PathLike[str]) -> str | None:
    """The model named in a batch output's EXIF (see core.batch); None for any other file. Only the header is
    read, and only as the format the extension names (never, say, EPS behind a .png name)."""
    try:
        with _pillow_limit_at_least(sys.maxsize), Image.open(path, formats=[format_for_path(path)]) as image:
            if image.format == "PNG" and "exif" not in image.info:
                return None  # Pillow would decode every pixel, looking for EXIF after them
            software = image.getexif().get(ExifTags.Base.Software)
    except Exception:  # whatever the file is, it is not one of our outputs
        return None
    ours = isinstance(software, str) and software.startswith(MADE_BY)
    return software.removeprefix(MADE_BY) if ours else None


def _same_file(source: Path | None, path: Path) -> bool:
    try:
        return source is not None and os.path.samefile(source, path)
    except OSError:
        return False


def _format_name(name: str, path: Path) -> str:
    """Accept a Pillow format name ("JPEG") or an extension ("jpg")."""
    if name.upper() in SAVE_FORMATS.values():
        return name.upper()
    if name.lower().lstrip(".") in SAVE_FORMATS:
        return SAVE_FORMATS[name.lower().lstrip(".")]
    raise ImageError(f"cannot save as {name} (use {_supported_extensions()})", path)


def _supported_extensions() -> str:
    return ", ".join(f".{extension}" for extension in SAVE_FORMATS)


def _pil_image_for(picture: Picture, kind: str) -> Image.Image:
    pixels = picture.pixels
    if kind in ("JPEG", "WEBP") or picture.channels > 1:
        pixels = _to_8bit(pixels)
    if kind == "JPEG" and picture.has_alpha:
        pixels = _on_white(pixels)
    image = _pil_image(pixels)
    if kind == "WEBP" and picture.is_grey:
        image = image.convert("RGBA" if picture.has_alpha else "RGB")
    return image


def _pil_image(pixels: np.ndarray) -> Image.Image:
    """L, I;16, LA, RGB or RGBA from H×W×C pixels (uint16 only for C = 1)."""
    return Image.fromarray(np.ascontiguousarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels))


def _to_8bit(pixels: np.ndarray) -> np.ndarray:
    """Round 16-bit values to 8 bits, the exact inverse of the usual 8 → 16 bit scaling (×257)."""
    if pixels.dtype == np.uint8:
        return pixels
    return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _on_white(pixels: np.ndarray) -> np.ndarray:
    """Composite 8-bit grey+alpha or RGBA onto white, dropping the alpha channel (uint16 maths cannot
    overflow: 255·a + 255·(255 − a) + 127 < 65536)."""
    colour = pixels[:, :, :-1].astype(np.uint16)
    alpha = pixels[:, :, -1:].astype(np.uint16)
    return ((colour * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def _encoder_options(kind: str, quality: int | None, exif: bytes | None) -> dict[str, object]:
    if kind == "JPEG":
        quality = quality or _DEFAULT_QUALITY[kind]
        # Full-resolution colour (4:4:4) at high quality: halving the chroma would undo part of the upscale.
        return {"quality": quality, "subsampling": 0 if quality >= 90 else 2}
    if kind == "WEBP":
        quality = quality or _DEFAULT_QUALITY[kind]
        return {"quality": quality, "lossless": quality == 100}
    if kind == "TIFF":
        return {"compression": tiff_compression(exif)}
    return {}


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP"
