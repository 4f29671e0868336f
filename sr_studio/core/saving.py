"""Writing pictures: atomically, in the format asked for, keeping what the format can hold.

16-bit grey stays 16-bit in PNG and TIFF through Pillow; 16-bit colour and grey+alpha go through
`deep_colour` (Pillow cannot write them). Every other format is written at 8 bits.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image

from sr_studio.core.atomic import atomic_write
from sr_studio.core.deep_colour import DEEP_FORMATS, write_deep
from sr_studio.core.errors import ImageError
from sr_studio.core.formats import TIFF_COMPRESSIONS, format_for_path, format_name
from sr_studio.core.metadata import metadata_options, tiff_compression
from sr_studio.core.picture import Picture

MADE_BY = "SR Studio, model "  # a batch output's EXIF Software tag: this, then the name of its model
QUALITY_KINDS = frozenset({"JPEG", "WEBP", "AVIF"})
_MAX_SIDE = {"JPEG": 65_500, "WEBP": 16_383, "GIF": 65_535, "TGA": 65_535}
_DEFAULT_QUALITY = {"JPEG": 95, "WEBP": 90, "AVIF": 90}
_NO_GREY = frozenset({"WEBP", "AVIF", "QOI"})  # formats written as RGB(A) only
_NO_GREY_ALPHA = frozenset({"BMP"})  # grey+alpha becomes RGBA there


def picture_to_pil(picture: Picture) -> Image.Image:
    """A Pillow image of `picture` with its metadata in `.info`: L, I;16, LA, RGB or RGBA.

    Pillow has no 16-bit mode for grey+alpha or colour, so those become 8-bit.
    """
    image = _pil_image(picture.pixels if picture.channels == 1 else to_8bit(picture.pixels))
    image.info.update(metadata_options(picture.metadata, image.mode))
    return image


def save_image(
    picture: Picture,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    quality: int | None = None,
    compression: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write `picture` atomically in the format of the extension (or `format`): PNG, JPEG, WebP, AVIF,
    TIFF, BMP, TGA, QOI or GIF.

    16 bits stay 16 bits in PNG and TIFF (colour and grey+alpha too); every other format is 8-bit. JPEG has
    no alpha: it is composited onto white. GIF is reduced to a 256-colour palette. `quality` (1-100)
    applies to JPEG (default 95), WebP and AVIF (default 90; WebP 100 is lossless); `compression`
    ("deflate", the default, "lzw" or "none") to TIFF (16-bit colour TIFF: deflate or none). ICC profile,
    EXIF and DPI are kept where the format can hold them. An existing file (the source included) is only
    replaced with overwrite=True.
    """
    path = Path(path)
    kind = format_name(format, path) if format else format_for_path(path)
    if quality is not None and not 1 <= quality <= 100:
        raise ImageError(f"quality must be between 1 and 100, not {quality}", path)
    if compression is not None and compression not in TIFF_COMPRESSIONS:
        choices = ", ".join(TIFF_COMPRESSIONS)
        raise ImageError(f"unknown TIFF compression {compression!r} (choose from {choices})", path)
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
    with writing(path, kind, overwrite=overwrite) as temp:
        if picture.bit_depth == 16 and picture.channels > 1 and kind in DEEP_FORMATS:
            with open(temp, "wb") as file:
                write_deep(picture.pixels, picture.metadata, kind, file, compression != "none")
        else:
            image = pil_image_for(picture, kind)
            options = metadata_options(picture.metadata, image.mode)
            if kind in ("WEBP", "AVIF"):
                options.pop("dpi", None)  # nowhere to keep it
            options.update(encoder_options(kind, quality, compression, picture.metadata.exif))
            image.save(temp, format=kind, **options)
    return path


@contextmanager
def writing(path: Path, kind: str, *, overwrite: bool) -> Iterator[Path]:
    """A temporary file that becomes `path` atomically; whatever the writer raises becomes one ImageError
    naming the file (a still picture and an animation are written the same way)."""
    try:
        with atomic_write(path, overwrite=overwrite) as temp:
            yield temp
    except FileExistsError:
        raise ImageError("already exists (use --overwrite)", path) from None
    except PermissionError:
        raise ImageError("permission denied", path) from None
    except (OSError, ValueError) as error:
        raise ImageError(f"could not write {kind}: {error}", path) from None


def made_by(path: str | os.PathLike[str]) -> str | None:
    """The model named in a batch output's EXIF (see core.batch); None for any other file. Only the header is
    read, and only as the format the extension names (never, say, EPS behind a .png name)."""
    from sr_studio.core.images import pillow_limit_at_least

    try:
        with pillow_limit_at_least(sys.maxsize), Image.open(path, formats=[format_for_path(path)]) as image:
            if image.format == "PNG" and "exif" not in image.info:
                return None  # Pillow would decode every pixel, looking for EXIF after them
            software = image.getexif().get(ExifTags.Base.Software)
    except Exception:  # whatever the file is, it is not one of our outputs
        return None
    if isinstance(software, str) and software.startswith(MADE_BY):
        return software.removeprefix(MADE_BY)
    return None


def _same_file(source: Path | None, path: Path) -> bool:
    try:
        return source is not None and os.path.samefile(source, path)
    except OSError:
        return False


def pil_image_for(picture: Picture, kind: str) -> Image.Image:
    """The Pillow image that `kind` can hold: 8 bits unless PNG/TIFF grey, RGB(A) where grey is not
    written, no alpha in JPEG, a palette in GIF."""
    pixels = picture.pixels
    if kind not in DEEP_FORMATS or picture.channels > 1:
        pixels = to_8bit(pixels)
    if kind == "JPEG" and picture.has_alpha:
        pixels = on_white(pixels)
    image = _pil_image(pixels)
    if (kind in _NO_GREY and picture.is_grey) or (kind in _NO_GREY_ALPHA and image.mode == "LA"):
        image = image.convert("RGBA" if picture.has_alpha else "RGB")
    if kind == "GIF":
        image = to_palette(image)
    return image


def to_palette(image: Image.Image) -> Image.Image:
    """A 256-colour palette image for GIF: median cut with Floyd-Steinberg dithering; with alpha, index 255
    is transparent (pixels under half opacity)."""
    alpha = np.array(image.getchannel("A")) if image.mode in ("LA", "RGBA") else None
    transparent = alpha is not None and bool((alpha < 128).any())
    quantised = image.convert("RGB").quantize(
        colors=255 if transparent else 256,
        method=Image.Quantize.MEDIANCUT,
        dither=Image.Dither.FLOYDSTEINBERG,
    )
    if transparent and alpha is not None:
        palette = (quantised.getpalette() or [])[: 3 * 255]
        quantised.putpalette(palette + [0] * (3 * 256 - len(palette)))
        quantised.paste(255, mask=Image.fromarray(((alpha < 128) * 255).astype(np.uint8)))
        quantised.info["transparency"] = 255
    return quantised


def _pil_image(pixels: np.ndarray) -> Image.Image:
    """L, I;16, LA, RGB or RGBA from H×W×C pixels (uint16 only for C = 1)."""
    return Image.fromarray(np.ascontiguousarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels))


def to_8bit(pixels: np.ndarray) -> np.ndarray:
    """Round 16-bit values to 8 bits, the exact inverse of the usual 8 → 16 bit scaling (×257)."""
    if pixels.dtype == np.uint8:
        return pixels
    return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)


def on_white(pixels: np.ndarray) -> np.ndarray:
    """Composite 8-bit grey+alpha or RGBA onto white, dropping the alpha channel (uint16 maths cannot
    overflow: 255·a + 255·(255 − a) + 127 < 65536)."""
    colour = pixels[:, :, :-1].astype(np.uint16)
    alpha = pixels[:, :, -1:].astype(np.uint16)
    return ((colour * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def encoder_options(
    kind: str, quality: int | None, compression: str | None, exif: bytes | None
) -> dict[str, object]:
    """Pillow's save options for `kind` beyond the metadata."""
    if kind == "JPEG":
        quality = quality or _DEFAULT_QUALITY[kind]
        # Full-resolution colour (4:4:4) at high quality: halving the chroma would undo part of the upscale.
        return {"quality": quality, "subsampling": 0 if quality >= 90 else 2}
    if kind == "WEBP":
        quality = quality or _DEFAULT_QUALITY[kind]
        return {"quality": quality, "lossless": quality == 100}
    if kind == "AVIF":
        quality = quality or _DEFAULT_QUALITY[kind]
        return {"quality": quality, "subsampling": "4:4:4" if quality >= 90 else "4:2:0"}
    if kind == "TIFF":
        return {"compression": tiff_compression(exif, compression or "deflate")}
    if kind == "TGA":
        return {"compression": "tga_rle"}
    return {}
