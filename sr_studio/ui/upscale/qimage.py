"""Converting between the core's `Picture` (numpy pixels) and Qt's `QImage`, for display and for paste.

Display is 8 bits per channel: a 16-bit picture is reduced with rounding (round(v / 257)), not truncated,
so a 16-bit grey ramp shows the same greys as its 8-bit save. Every QImage made here owns a copy of its
pixels, since Qt would otherwise keep pointing into a numpy array that Python may free.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from sr_studio.core.images import Picture

_DISPLAY_FORMATS = {
    1: QImage.Format.Format_Grayscale8,
    3: QImage.Format.Format_RGB888,
    4: QImage.Format.Format_RGBA8888,
}


def to_8bit(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels as they are; uint16 rounded to the nearest 8-bit value (65535 → 255, 128 → 0, 129 → 1)."""
    if pixels.dtype == np.uint8:
        return pixels
    # 257 is odd, so v / 257 never lands on .5: this integer form is exact rounding.
    return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)


def picture_to_qimage(picture: Picture) -> QImage:
    """An 8-bit QImage of `picture` that owns its memory: grey, ARGB (grey+alpha), RGB888 or RGBA8888."""
    pixels = to_8bit(picture.pixels)
    height, width, channels = pixels.shape
    if channels == 2:
        # Grey+alpha has no QImage format of its own; ARGB32 as whole uint32 words is byte-order independent.
        grey, alpha = (pixels[..., i].astype(np.uint32) for i in range(2))
        words = np.ascontiguousarray((alpha << 24) | (grey << 16) | (grey << 8) | grey)
        view = QImage(words.data, width, height, width * 4, QImage.Format.Format_ARGB32)
    else:
        pixels = np.ascontiguousarray(pixels)
        view = QImage(pixels.data, width, height, width * channels, _DISPLAY_FORMATS[channels])
    return view.copy()  # detach from the numpy buffer, which `view` only borrows


def qimage_to_picture(image: QImage) -> Picture:
    """A pasted or dropped QImage of any format as an RGB uint8 Picture, RGBA if it has an alpha channel."""
    if image.isNull():
        raise ValueError("cannot convert a null QImage")
    alpha = image.hasAlphaChannel()
    target = QImage.Format.Format_RGBA8888 if alpha else QImage.Format.Format_RGB888
    channels = 4 if alpha else 3
    converted = image.convertToFormat(target)  # also undoes premultiplied alpha
    width, height, stride = converted.width(), converted.height(), converted.bytesPerLine()
    rows = np.frombuffer(converted.constBits(), dtype=np.uint8, count=stride * height).reshape(height, stride)
    # Qt pads each scan line to 4 bytes: drop the padding before shaping the pixels.
    pixels = rows[:, : width * channels].reshape(height, width, channels).copy()
    return Picture(pixels)
