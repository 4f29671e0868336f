"""What travels with the pixels (colour profile, EXIF, DPI); metadata never costs the picture.

Phones and editors write EXIF that Pillow reads but cannot write back: a resolution stored as text, a
rational with a zero denominator, a tag of the wrong type. Each such tag is dropped with a note naming it,
the rest is kept; an EXIF block that cannot be parsed at all is dropped whole, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image, features

from sr_studio.core.errors import first_line

ORIENTATION = ExifTags.Base.Orientation
# TIFF tags that describe how the source file stores its pixels (strips, bit depth, compression...): in a
# TIFF's EXIF view they are stale the moment the pixels change, so they are not carried to the saved file.
_TIFF_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 320, 322, 323, 324, 325, 338, 339}
    | {34675}  # the ICC profile, which travels separately
)
# Sub-directories whose tags are salvaged one by one; a maker note is opaque, vendor-specific data.
_SUB_IFDS = (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop)
_POINTERS = frozenset(_SUB_IFDS) | {ExifTags.IFD.MakerNote}


@dataclass
class Metadata:
    """What a saved copy should keep from its source; `exif` has its orientation already reset to 1."""

    icc_profile: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None


def copy_exif(image: Image.Image) -> tuple[Image.Exif, list[str]]:
    """The image's EXIF as our own copy (Pillow's object belongs to the image), minus TIFF layout tags,
    and a note for whatever had to be dropped."""
    try:
        source = image.getexif()
    except Exception as error:  # any parser failure only costs the metadata
        return Image.Exif(), [f"cannot read EXIF ({first_line(error, 120)}): dropped"]
    exif, notes = Image.Exif(), []
    try:
        if len(source):
            exif.load(source.tobytes())
    except Exception:  # salvage tag by tag below
        exif, dropped = _salvage(source)
        notes.append(f"cannot read EXIF tag(s) {', '.join(dropped)}: dropped" if dropped else _DROPPED)
    for tag in _TIFF_LAYOUT_TAGS & exif.keys():
        del exif[tag]
    return exif, notes


def exif_bytes(exif: Image.Exif) -> tuple[bytes | None, list[str]]:
    """`exif` serialised for the saved file; None (with a note) if it still cannot be written."""
    if not len(exif):
        return None, []
    try:
        return exif.tobytes(), []
    except Exception:  # e.g. an orientation that was never a number
        salvaged, dropped = _salvage(exif)
        try:
            data = salvaged.tobytes() if len(salvaged) else None
        except Exception:
            return None, [_DROPPED]
        return data, [f"cannot write EXIF tag(s) {', '.join(dropped)}: dropped"] if dropped else []


_DROPPED = "cannot read EXIF: dropped"


def _salvage(source: Image.Exif) -> tuple[Image.Exif, list[str]]:
    """A new Exif with every tag of `source` that can be written on its own; the names of the others."""
    exif, dropped = Image.Exif(), []
    for tag, value in list(source.items()):
        if tag in _POINTERS:
            continue
        if _writable(lambda trial, tag=tag, value=value: trial.__setitem__(tag, value)):
            exif[tag] = value
        else:
            dropped.append(_tag_name(tag))
    for pointer in _SUB_IFDS:
        if pointer not in source:
            continue
        try:
            tags = dict(source.get_ifd(pointer))
        except Exception:
            dropped.append(pointer.name)
            continue
        for tag, value in tags.items():
            if _writable(lambda trial, p=pointer, t=tag, v=value: trial.get_ifd(p).__setitem__(t, v)):
                exif.get_ifd(pointer)[tag] = value
            else:
                dropped.append(_tag_name(tag))
    return exif, dropped


def _writable(put: Any) -> bool:
    trial = Image.Exif()
    try:
        put(trial)
        trial.tobytes()
    except Exception:
        return False
    return True


def _tag_name(tag: int) -> str:
    try:
        return ExifTags.TAGS.get(tag) or ExifTags.GPSTAGS.get(tag) or f"0x{tag:04X}"
    except (TypeError, ValueError):
        return repr(tag)


def orientation_of(exif: Image.Exif) -> int:
    """The EXIF orientation (1-8); anything else counts as 1, the upright default."""
    value = exif.get(ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def dpi_of(value: Any) -> tuple[float, float] | None:
    """Pillow's "dpi" info as two positive floats (TIFF gives rationals, some JPEGs say 0 for unknown)."""
    try:
        x, y = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return (x, y) if x > 0 and y > 0 and x < 1e6 and y < 1e6 else None


def profile_fits(icc: bytes | None, channels: int) -> bool:
    """Whether an ICC profile describes pixels like ours: bytes 16-20 of its header name its colour space,
    and a grey profile on RGB (or an RGB, CMYK or Lab one on grey) makes files other programs reject."""
    if not isinstance(icc, bytes) or len(icc) < 20:
        return False
    return icc[16:20] == (b"GRAY" if channels <= 2 else b"RGB ")


def metadata_options(metadata: Metadata, mode: str) -> dict[str, object]:
    """Pillow save options that carry `metadata` into a file of `mode` pixels."""
    options: dict[str, object] = {}
    channels = Image.getmodebands(mode)
    if metadata.icc_profile and profile_fits(metadata.icc_profile, channels):
        options["icc_profile"] = metadata.icc_profile
    if metadata.exif:
        options["exif"] = metadata.exif
    if metadata.dpi:
        options["dpi"] = metadata.dpi
    return options


_TIFF_CODECS = {"deflate": "tiff_deflate", "lzw": "tiff_lzw", "none": None}


def tiff_compression(exif: bytes | None, wanted: str = "deflate") -> str | None:
    """Pillow's name for the `wanted` TIFF compression ("deflate", "lzw" or "none"). Both codecs need
    libtiff, and Pillow's libtiff path cannot write EXIF sub-directories (camera settings, GPS): then the
    metadata wins and the TIFF is written uncompressed."""
    if wanted not in _TIFF_CODECS:
        raise ValueError(f"unknown TIFF compression {wanted!r} (choose from {', '.join(_TIFF_CODECS)})")
    if _TIFF_CODECS[wanted] is None or not features.check("libtiff"):
        return None
    tags = Image.Exif()
    if exif:
        tags.load(exif)
    has_subdirectories = bool({ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo} & tags.keys())
    return None if has_subdirectories else _TIFF_CODECS[wanted]
