"""16 bits per channel colour (and grey+alpha), which Pillow can only decode and encode at 8 bits.

Scans and RAW exports are 16-bit RGB(A) PNG or TIFF; reading them at 8 bits would throw away the very
gradations they were made to keep. Pillow still reads such a file's header and metadata (size limits,
EXIF, ICC, DPI, orientation: one path for every file); only the pixels come from pypng (PNG, pure Python)
or tifffile (TIFF), and 16-bit results are written by the same two. Single-channel 16-bit grey needs
neither: Pillow has an I;16 mode for it.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import ExifTags, Image

from sr_studio.core.metadata import Metadata, profile_fits

DEEP_FORMATS = frozenset({"PNG", "TIFF"})
# EXIF tags of the main directory that a 16-bit TIFF carries as its own tags (tifffile writes no EXIF
# sub-directories, so camera settings and GPS stay behind).
_TIFF_TEXT_TAGS = (
    ExifTags.Base.Make,
    ExifTags.Base.Model,
    ExifTags.Base.Artist,
    ExifTags.Base.Copyright,
)
_TIFF_INCH = 2
_BITS_PER_SAMPLE = 258


def is_deep_colour(image: Image.Image) -> bool:
    """Whether Pillow would decode `image` as 16-bit colour or grey+alpha squeezed into 8 bits."""
    if image.mode not in ("RGB", "RGBA", "LA"):
        return False
    if image.format == "TIFF":  # planar 16-bit TIFF has 8-bit band rawmodes: only its tags tell the truth
        bits = getattr(image, "tag_v2", {}).get(_BITS_PER_SAMPLE)
        return 16 in (bits if isinstance(bits, tuple) else (bits,))
    return any(";16" in str(tile[3]) for tile in getattr(image, "tile", ()))  # an ImageFile's decoder plan


def read_deep(path: Path, format: str) -> np.ndarray:
    """The file's pixels as H×W×C uint16 (C 2-4), as stored (no orientation applied).

    Raises ValueError (or the library's own error) when the file is not what its header promised.
    """
    pixels = _read_png(path) if format == "PNG" else _read_tiff(path)
    if pixels.ndim != 3 or pixels.shape[2] not in (2, 3, 4):
        raise ValueError(f"unexpected 16-bit layout {pixels.shape}")
    return np.ascontiguousarray(pixels)


def _read_png(path: Path) -> np.ndarray:
    import png

    with open(path, "rb") as file:
        width, height, rows, info = png.Reader(file=file).asDirect()  # tRNS becomes alpha
        planes, depth = info["planes"], info["bitdepth"]
        pixels = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows]).reshape(height, width, planes)
    if depth != 16:  # an sBIT chunk narrowed the values: stretch them back to the full 16-bit range
        peak = (1 << depth) - 1
        pixels = ((pixels.astype(np.uint32) * 65535 + peak // 2) // peak).astype(np.uint16)
    return pixels


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages.first
        pixels = page.asarray()
        axes, associated = page.axes, page.extrasamples[:1] == (1,)
    if pixels.dtype != np.uint16:
        raise ValueError(f"expected 16-bit samples, found {pixels.dtype}")
    if axes.startswith("S"):  # planar: one plane per channel
        pixels = np.moveaxis(pixels, 0, -1)
    if associated:  # premultiplied alpha: undo it, as Pillow does for 8-bit
        pixels = _unpremultiply(pixels)
    return pixels


def _unpremultiply(pixels: np.ndarray) -> np.ndarray:
    alpha = pixels[..., -1:].astype(np.uint64)
    colour = pixels[..., :-1].astype(np.uint64)
    safe = np.maximum(alpha, 1)
    straight = np.where(alpha > 0, (colour * 65535 + safe // 2) // safe, 0)
    return np.concatenate([np.minimum(straight, 65535), alpha], axis=-1).astype(np.uint16)


def oriented(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """`pixels` turned upright for an EXIF orientation (1-8), as Pillow's transposes do for 8 bits."""
    turns = {1: (False, 0), 2: (True, 0), 3: (False, 2), 4: (True, 2)}
    turns |= {5: (True, 1), 6: (False, -1), 7: (True, -1), 8: (False, 1)}
    mirror, quarter_turns = turns.get(orientation, (False, 0))
    if mirror:
        pixels = pixels[:, ::-1]
    return np.ascontiguousarray(np.rot90(pixels, quarter_turns))


# ---------------------------------------------------------------------------------------------- writing


def write_deep(pixels: np.ndarray, metadata: Metadata, kind: str, target: BinaryIO, compress: bool) -> None:
    """Write H×W×C uint16 pixels (C 2-4) as 16-bit PNG or TIFF, with ICC, DPI and EXIF where it fits
    (TIFF: grey+alpha as RGBA, and of EXIF only the text tags of its main directory)."""
    if kind == "PNG":
        target.write(_png_bytes(pixels, metadata))
    else:
        _write_tiff(pixels, metadata, target, compress)


def _png_bytes(pixels: np.ndarray, metadata: Metadata) -> bytes:
    import png

    height, width, channels = pixels.shape
    dpi = metadata.dpi
    writer = png.Writer(
        width,
        height,
        greyscale=channels <= 2,
        alpha=channels in (2, 4),
        bitdepth=16,
        compression=6,
        x_pixels_per_unit=round(dpi[0] / 0.0254) if dpi else None,
        y_pixels_per_unit=round(dpi[1] / 0.0254) if dpi else None,
        unit_is_meter=bool(dpi),
    )
    encoded = io.BytesIO()
    writer.write_array(encoded, pixels.reshape(-1))
    chunks = list(png.Reader(bytes=encoded.getvalue()).chunks())
    extra = []
    if metadata.icc_profile and profile_fits(metadata.icc_profile, channels):
        extra.append((b"iCCP", b"ICC Profile\0\0" + zlib.compress(metadata.icc_profile)))
    if metadata.exif:
        extra.append((b"eXIf", metadata.exif.removeprefix(b"Exif\x00\x00")))
    out = io.BytesIO()
    png.write_chunks(out, [chunks[0], *extra, *chunks[1:]])  # after IHDR, before the pixels
    return out.getvalue()


def _write_tiff(pixels: np.ndarray, metadata: Metadata, target: BinaryIO, compress: bool) -> None:
    import tifffile

    if pixels.shape[2] == 2:  # 16-bit grey+alpha TIFF is valid, but Pillow cannot open it: write RGBA
        pixels = np.concatenate([np.repeat(pixels[..., :1], 3, axis=2), pixels[..., 1:]], axis=2)
    channels = pixels.shape[2]
    exif = Image.Exif()
    if metadata.exif:
        exif.load(metadata.exif)
    extratags = [
        (int(tag), "s", 0, exif[tag], True) for tag in _TIFF_TEXT_TAGS if isinstance(exif.get(tag), str)
    ]
    icc = metadata.icc_profile if profile_fits(metadata.icc_profile, channels) else None
    software = exif.get(ExifTags.Base.Software)
    description = exif.get(ExifTags.Base.ImageDescription)
    tifffile.imwrite(
        target,
        pixels,
        photometric="minisblack" if channels <= 2 else "rgb",
        planarconfig="contig",
        extrasamples=("unassalpha",) if channels in (2, 4) else None,
        compression="zlib" if compress else None,
        iccprofile=icc,
        resolution=metadata.dpi,
        resolutionunit=_TIFF_INCH if metadata.dpi else None,
        software=software if isinstance(software, str) else "SR Studio",
        description=description if isinstance(description, str) else None,
        metadata=None,
        extratags=extratags,
    )
