"""Picture ⇄ QImage: every channel layout, 16-bit reduction, and scan lines padded to 4 bytes."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage

from sr_studio.core.images import Picture
from sr_studio.ui.upscale.qimage import picture_to_qimage, qimage_to_picture, to_8bit
from tests.pictures import textured

FORMATS = {
    1: QImage.Format.Format_Grayscale8,
    2: QImage.Format.Format_ARGB32,
    3: QImage.Format.Format_RGB888,
    4: QImage.Format.Format_RGBA8888,
}


def _rgba_of(pixels: np.ndarray) -> np.ndarray:
    """What a picture's pixels look like as RGBA: grey spread over R, G and B, opaque without alpha."""
    height, width, channels = pixels.shape
    grey = channels in (1, 2)
    rgb = np.repeat(pixels[..., :1], 3, axis=2) if grey else pixels[..., :3]
    alpha = pixels[..., -1:] if channels in (2, 4) else np.full((height, width, 1), 255, np.uint8)
    return np.concatenate([rgb, alpha], axis=2)


def _qimage_rgba(image: QImage) -> np.ndarray:
    """Read a QImage back pixel by pixel (independent of the code under test)."""
    return np.array(
        [
            [QColor.fromRgba(image.pixel(x, y)).getRgb() for x in range(image.width())]
            for y in range(image.height())
        ],
        dtype=np.uint8,
    )


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("width", [7, 8])  # 7: rows of 7, 14 or 21 bytes, which Qt pads to a multiple of 4
def test_round_trip_of_each_channel_layout(channels, width):
    pixels = textured(5, width, channels, seed=channels)
    image = picture_to_qimage(Picture(pixels))
    assert image.format() == FORMATS[channels]
    assert (image.width(), image.height()) == (width, 5)
    assert np.array_equal(_qimage_rgba(image), _rgba_of(pixels))

    back = qimage_to_picture(image)
    expected = _rgba_of(pixels) if channels in (2, 4) else _rgba_of(pixels)[..., :3]
    assert back.pixels.dtype == np.uint8
    assert np.array_equal(back.pixels, expected)


def test_16_bit_is_rounded_to_8_bits():
    values = np.array([0, 128, 129, 257, 385, 386, 32896, 65406, 65407, 65535], dtype=np.uint16)
    assert np.array_equal(to_8bit(values), np.round(values / 257).astype(np.uint8))
    assert to_8bit(values).tolist() == [0, 0, 1, 1, 1, 2, 128, 254, 255, 255]

    picture = Picture(values.reshape(2, 5, 1))
    image = picture_to_qimage(picture)
    assert image.format() == QImage.Format.Format_Grayscale8
    shown = [image.pixelColor(x, y).red() for y in range(2) for x in range(5)]
    assert shown == [0, 0, 1, 1, 1, 2, 128, 254, 255, 255]


def test_16_bit_grey_with_alpha_reduces_both_channels():
    pixels = np.array([[[65535, 0], [257 * 10, 257 * 200]]], dtype=np.uint16)
    image = picture_to_qimage(Picture(pixels))
    assert image.pixelColor(0, 0).getRgb() == (255, 255, 255, 0)
    assert image.pixelColor(1, 0).getRgb() == (10, 10, 10, 200)


def test_the_qimage_owns_its_pixels():
    pixels = textured(3, 5, 3)
    image = picture_to_qimage(Picture(pixels))
    before = image.pixelColor(2, 1).getRgb()
    pixels[:] = 0  # the numpy buffer changes, then goes away
    del pixels
    gc.collect()
    assert image.pixelColor(2, 1).getRgb() == before != (0, 0, 0, 255)


def test_paste_of_a_padded_rgb888_image():
    image = QImage(5, 3, QImage.Format.Format_RGB888)  # 15 bytes of pixels in 16-byte lines
    assert image.bytesPerLine() > 15
    for y in range(3):
        for x in range(5):
            image.setPixelColor(x, y, QColor(x * 50, y * 100, 7))
    picture = qimage_to_picture(image)
    assert picture.pixels.shape == (3, 5, 3)
    assert picture.pixels[2, 4].tolist() == [200, 200, 7]
    assert picture.pixels[:, :, 0].tolist() == [[0, 50, 100, 150, 200]] * 3


def test_paste_keeps_alpha_only_when_there_is_some():
    opaque = QImage(3, 2, QImage.Format.Format_RGB32)
    opaque.fill(QColor(10, 20, 30))
    assert qimage_to_picture(opaque).pixels.shape == (2, 3, 3)

    translucent = QImage(3, 2, QImage.Format.Format_ARGB32_Premultiplied)
    translucent.fill(QColor(200, 100, 50, 128))
    picture = qimage_to_picture(translucent)
    assert picture.pixels.shape == (2, 3, 4)
    red, green, blue, alpha = picture.pixels[1, 2].tolist()
    assert alpha == 128
    assert abs(red - 200) <= 2 and abs(green - 100) <= 2 and abs(blue - 50) <= 2  # premultiplication undone


def test_paste_of_a_palette_image():
    image = QImage(3, 1, QImage.Format.Format_Indexed8)
    image.setColorTable([QColor(255, 0, 0).rgba(), QColor(0, 0, 255).rgba()])
    image.fill(0)
    image.setPixel(1, 0, 1)
    picture = qimage_to_picture(image)
    assert picture.pixels.tolist() == [[[255, 0, 0], [0, 0, 255], [255, 0, 0]]]


def test_a_null_image_is_refused():
    with pytest.raises(ValueError, match="null"):
        qimage_to_picture(QImage())
