"""A corpus of odd, broken and hostile image files, made from bytes by the tests (nothing downloaded).

`write_corpus(folder)` writes every file and returns what each should give: "ok" (must be upscaled),
"refused" (must fail with one line) or "either" (a truncation some decoders tolerate). Whatever the
expectation, no file may crash, hang or stop the batch.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

OK, REFUSED, EITHER = "ok", "refused", "either"
ORIENTATION = 0x0112


def _noise(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (height, width, channels) if channels > 1 else (height, width)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _encoded(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def tiff_ifd(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """A little-endian TIFF/EXIF block with one IFD of (tag, type, count, value bytes) entries."""
    header = b"II*\x00" + struct.pack("<I", 8)
    extra_at = 8 + 2 + 12 * len(entries) + 4
    body, extra = struct.pack("<H", len(entries)), b""
    for tag, kind, count, value in entries:
        if len(value) <= 4:
            body += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\x00")
        else:
            body += struct.pack("<HHII", tag, kind, count, extra_at + len(extra))
            extra += value
    return header + body + struct.pack("<I", 0) + extra


def jpeg_with_exif(exif: bytes, size: tuple[int, int] = (12, 8)) -> bytes:
    image = Image.fromarray(_noise(size[1], size[0], seed=3))
    return _encoded(image, "JPEG", exif=exif, quality=90)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A few hundred bytes that declare a 10-gigapixel grey PNG."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 4)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )


def gif_bomb() -> bytes:
    """A GIF whose logical screen and only frame claim 65535×65535 pixels."""
    small = _encoded(Image.new("P", (2, 2)), "GIF")
    data = bytearray(small)
    data[6:10] = struct.pack("<HH", 65535, 65535)  # logical screen
    descriptor = data.index(b"\x2c")  # image descriptor: left, top, width, height
    data[descriptor + 5 : descriptor + 9] = struct.pack("<HH", 65535, 65535)
    return bytes(data)


def tiff_bomb() -> bytes:
    """A TIFF header declaring 100000×100000 RGB pixels in one tiny strip."""
    return tiff_ifd(
        [
            (256, 4, 1, struct.pack("<I", 100_000)),
            (257, 4, 1, struct.pack("<I", 100_000)),
            (258, 3, 1, struct.pack("<H", 8)),
            (259, 3, 1, struct.pack("<H", 1)),
            (262, 3, 1, struct.pack("<H", 1)),
            (273, 4, 1, struct.pack("<I", 8)),
            (277, 3, 1, struct.pack("<H", 1)),
            (278, 4, 1, struct.pack("<I", 100_000)),
            (279, 4, 1, struct.pack("<I", 16)),
        ]
    )


def valid_files() -> dict[str, bytes]:
    """One small picture in each format that the truncation and mutation tests cut up."""
    image = Image.fromarray(_noise(16, 24))
    return {
        "png": _encoded(image, "PNG"),
        "jpg": _encoded(image, "JPEG", quality=90),
        "webp": _encoded(image, "WEBP", quality=80),
        "tif": _encoded(image, "TIFF"),
        "gif": _encoded(image.convert("P"), "GIF"),
        "bmp": _encoded(image, "BMP"),
    }


def _modes() -> dict[str, tuple[bytes, str]]:
    rgb = Image.fromarray(_noise(10, 14, seed=1))
    grey = Image.fromarray(_noise(10, 14, 1, seed=2))
    palette_alpha = rgb.convert("P")
    palette_alpha.info["transparency"] = 0
    deep = Image.fromarray((np.arange(140, dtype=np.uint16).reshape(10, 14) * 400).astype(np.uint16))
    floats = Image.fromarray(np.linspace(0, 1, 140, dtype=np.float32).reshape(10, 14), mode="F")
    return {
        "mode-1.png": (_encoded(grey.convert("1"), "PNG"), OK),
        "mode-L.png": (_encoded(grey, "PNG"), OK),
        "mode-LA.png": (_encoded(rgb.convert("LA"), "PNG"), OK),
        "mode-P.png": (_encoded(rgb.convert("P"), "PNG"), OK),
        "mode-P-transparent.png": (_encoded(palette_alpha, "PNG", transparency=0), OK),
        "mode-RGBA.png": (_encoded(rgb.convert("RGBA"), "PNG"), OK),
        "mode-CMYK.jpg": (_encoded(rgb.convert("CMYK"), "JPEG"), OK),
        "mode-CMYK.tif": (_encoded(rgb.convert("CMYK"), "TIFF"), OK),
        "mode-YCbCr.tif": (_encoded(rgb.convert("YCbCr"), "TIFF"), OK),
        "mode-LAB.tif": (_encoded(rgb.convert("LAB"), "TIFF"), OK),
        "mode-I.tif": (_encoded(grey.convert("I"), "TIFF"), OK),
        "mode-I16.png": (_encoded(deep, "PNG"), OK),
        "mode-I16.tif": (_encoded(deep, "TIFF"), OK),
        "mode-F.tif": (_encoded(floats, "TIFF"), OK),
    }


def _shapes_and_frames() -> dict[str, tuple[bytes, str]]:
    frames = [Image.fromarray(_noise(8, 8, seed=s)).convert("P") for s in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    tiff = io.BytesIO()
    frames[0].convert("RGB").save(
        tiff, "TIFF", save_all=True, append_images=[f.convert("RGB") for f in frames]
    )
    return {
        "one-pixel.png": (_encoded(Image.new("RGB", (1, 1), (9, 99, 199)), "PNG"), OK),
        "tall-1x10000.png": (_encoded(Image.fromarray(_noise(10_000, 1, seed=4)), "PNG"), OK),
        "wide-10000x1.png": (_encoded(Image.fromarray(_noise(1, 10_000, seed=5)), "PNG"), OK),
        "animated.gif": (gif.getvalue(), OK),
        "multi-page.tif": (tiff.getvalue(), OK),
    }


def _metadata() -> dict[str, tuple[bytes, str]]:
    files = {}
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        files[f"orientation-{orientation}.jpg"] = (jpeg_with_exif(exif.tobytes()), OK)
    text_resolution = tiff_ifd([(0x011A, 2, 4, b"72\x00\x00"), (0x010F, 2, 6, b"Canon\x00")])
    zero_denominator = tiff_ifd(
        [(0x011A, 5, 1, struct.pack("<II", 72, 0)), (0x011B, 5, 1, struct.pack("<II", 0, 0))]
    )
    wrong_orientation = tiff_ifd([(ORIENTATION, 2, 4, b"six\x00")])
    files["exif-resolution-as-text.jpg"] = (jpeg_with_exif(b"Exif\x00\x00" + text_resolution), OK)
    files["exif-bad-rationals.jpg"] = (jpeg_with_exif(b"Exif\x00\x00" + zero_denominator), OK)
    files["exif-orientation-as-text.jpg"] = (jpeg_with_exif(b"Exif\x00\x00" + wrong_orientation), OK)
    files["exif-garbage-block.jpg"] = (jpeg_with_exif(b"Exif\x00\x00" + b"\xff\x13garbage" * 7), OK)
    garbage_icc = b"\x00\x00\x01\x00" + b"GARBAGE!" * 8
    rgb_icc_lie = b"\x00" * 16 + b"RGB " + b"\xee" * 100  # claims RGB, is nothing
    image = Image.fromarray(_noise(9, 9, seed=6))
    files["icc-garbage.png"] = (_encoded(image, "PNG", icc_profile=garbage_icc), OK)
    files["icc-lying.jpg"] = (_encoded(image, "JPEG", icc_profile=rgb_icc_lie), OK)
    files["invalid-apng.png"] = (_invalid_apng(), OK)
    return files


def _invalid_apng() -> bytes:
    """A PNG whose acTL says two frames but holds one: Pillow warns 'Invalid APNG' and shows the PNG."""
    plain = _encoded(Image.fromarray(_noise(6, 6, seed=7)), "PNG")
    ihdr_end = 8 + 25
    actl = _png_chunk(b"acTL", struct.pack(">II", 2, 0))
    return plain[:ihdr_end] + actl + plain[ihdr_end:]


def _names() -> dict[str, tuple[bytes, str]]:
    picture = _encoded(Image.fromarray(_noise(6, 7, seed=8)), "PNG")
    return {
        "ünïcødé 写真 ✓.png": (picture, OK),
        "name with  spaces .png": (picture, OK),
        ("n" * 200) + ".png": (picture, OK),
    }


def _refused() -> dict[str, tuple[bytes, str]]:
    rng = np.random.default_rng(9)
    files = {f"empty-{ext}.{ext}": (b"", REFUSED) for ext in ("png", "jpg")}
    files["text.png"] = (b"this is not a picture\n" * 3, REFUSED)
    for ext in ("jpg", "tif", "gif", "webp", "bmp"):
        files[f"random-{ext}.{ext}"] = (rng.integers(0, 256, 600, dtype=np.uint8).tobytes(), REFUSED)
    files["bomb-png.png"] = (png_bomb(), REFUSED)
    files["bomb-gif.gif"] = (gif_bomb(), REFUSED)
    files["bomb-tif.tif"] = (tiff_bomb(), REFUSED)
    return files


def truncations(cuts: tuple[float, ...] = (0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.98)) -> dict[str, bytes]:
    """Each valid file cut short at several points (always keeping at least one byte)."""
    files = {}
    for ext, data in valid_files().items():
        for cut in cuts:
            files[f"cut-{ext}-{int(cut * 100):02d}.{ext}"] = data[: max(1, int(len(data) * cut))]
        files[f"cut-{ext}-last-byte.{ext}"] = data[:-1]
    return files


SECTIONS: tuple[Callable[[], dict[str, tuple[bytes, str]]], ...] = (
    _modes,
    _shapes_and_frames,
    _metadata,
    _names,
    _refused,
)


def corpus() -> dict[str, tuple[bytes, str]]:
    """Every file of the corpus: name → (bytes, expectation)."""
    files = {name: (data, EITHER) for name, data in truncations().items()}
    for section in SECTIONS:
        files.update(section())
    return files


def write_corpus(folder: Path) -> dict[Path, str]:
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for name, (data, expectation) in corpus().items():
        path = folder / name
        path.write_bytes(data)
        expected[path] = expectation
    return expected
