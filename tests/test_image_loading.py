"""Loading pictures (sr_studio.core.images): every input mode, hostile files, and the Picture type."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from sr_studio.core.errors import ImageError
from sr_studio.core.images import (
    ANIMATED_NOTE,
    CLIPPED_NOTE,
    DEEP_COLOUR_NOTE,
    Picture,
    load_image,
    picture_from_pil,
    save_image,
)
from tests.error_helpers import assert_one_line_naming
from tests.image_helpers import srgb_profile
from tests.pictures import noise


def png_16bit_rgb(path: Path, value: int, width: int = 4, height: int = 3) -> None:
    """Pillow cannot write 16-bit RGB, so build the PNG by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + np.full((width, 3), value, ">u2").tobytes()
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


# ------------------------------------------------------------------------------------------ input modes


def test_bilevel_png_loads_as_grey_0_or_255(tmp_path: Path) -> None:
    bits = noise((5, 7)) > 127
    Image.fromarray(bits).convert("1").save(tmp_path / "a.png")
    picture = load_image(tmp_path / "a.png")
    assert picture.pixels.dtype == np.uint8 and picture.channels == 1
    np.testing.assert_array_equal(picture.pixels[:, :, 0], np.where(bits, 255, 0))
    assert picture.format == "PNG" and picture.is_grey and picture.bit_depth == 8


@pytest.mark.parametrize(
    ("shape", "mode"), [((5, 7), "L"), ((5, 7, 2), "LA"), ((5, 7, 3), "RGB"), ((5, 7, 4), "RGBA")]
)
def test_plain_modes_round_trip_exactly(tmp_path: Path, shape: tuple[int, ...], mode: str) -> None:
    pixels = noise(shape)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    picture = load_image(tmp_path / "a.png")
    np.testing.assert_array_equal(picture.pixels, pixels.reshape(5, 7, -1))
    save_image(picture, tmp_path / "b.png")
    assert Image.open(tmp_path / "b.png").mode == mode
    np.testing.assert_array_equal(load_image(tmp_path / "b.png").pixels, picture.pixels)


def test_palette_with_transparency_becomes_rgba(tmp_path: Path) -> None:
    indices = np.array([[0, 1], [2, 0]], dtype=np.uint8)
    image = Image.fromarray(indices, mode="P")
    image.putpalette([10, 20, 30, 200, 100, 50, 0, 255, 0])
    image.save(tmp_path / "a.png", transparency=0)
    picture = load_image(tmp_path / "a.png")
    assert picture.channels == 4
    np.testing.assert_array_equal(picture.pixels[:, :, 3], [[0, 255], [255, 0]])
    np.testing.assert_array_equal(picture.pixels[0, 1], [200, 100, 50, 255])


def test_palette_without_transparency_becomes_rgb(tmp_path: Path) -> None:
    image = Image.fromarray(np.array([[0, 1]], dtype=np.uint8), mode="P")
    image.putpalette([10, 20, 30, 200, 100, 50])
    image.save(tmp_path / "a.png")
    picture = load_image(tmp_path / "a.png")
    np.testing.assert_array_equal(picture.pixels, [[[10, 20, 30], [200, 100, 50]]])


def test_palette_with_alpha_tiff_becomes_rgba(tmp_path: Path) -> None:
    image = Image.new("PA", (2, 1))
    image.putpalette([10, 20, 30, 200, 100, 50])
    image.putpixel((1, 0), (1, 128))
    image.save(tmp_path / "a.tif")
    picture = load_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(picture.pixels, [[[10, 20, 30, 0], [200, 100, 50, 128]]])


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [("RGBa", (50, 25, 10, 128), (100, 50, 20, 128)), ("La", (50, 128), (100, 128))],
)
def test_premultiplied_alpha_is_undone(mode: str, value: tuple[int, ...], expected: tuple[int, ...]) -> None:
    picture = picture_from_pil(Image.new(mode, (3, 2), value))
    assert picture.channels == len(expected)
    np.testing.assert_allclose(picture.pixels[0, 0], expected, atol=1)


@pytest.mark.parametrize("extension", ["tif", "jpg"])
def test_cmyk_becomes_rgb(tmp_path: Path, extension: str) -> None:
    image = Image.new("CMYK", (8, 8), (255, 0, 0, 0))  # pure cyan
    image.paste((0, 0, 0, 0), (0, 0, 4, 8))  # left half: no ink, white
    image.save(tmp_path / f"a.{extension}")
    picture = load_image(tmp_path / f"a.{extension}")
    assert picture.channels == 3 and picture.pixels.dtype == np.uint8
    np.testing.assert_allclose(picture.pixels[4, 1], [255, 255, 255], atol=3)
    np.testing.assert_allclose(picture.pixels[4, 6], [0, 255, 255], atol=3)


def test_cmyk_with_an_unusable_profile_falls_back_and_drops_it(tmp_path: Path) -> None:
    Image.new("CMYK", (4, 4), (0, 255, 0, 0)).save(tmp_path / "a.tif", icc_profile=srgb_profile())
    picture = load_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(picture.pixels[0, 0], [255, 0, 255])
    assert picture.metadata.icc_profile is None


@pytest.mark.parametrize("mode", ["YCbCr", "LAB"])
def test_other_colour_spaces_become_rgb(tmp_path: Path, mode: str) -> None:
    image = Image.fromarray(noise((4, 6, 3))).convert(mode)
    image.save(tmp_path / "a.tif")
    assert Image.open(tmp_path / "a.tif").mode == mode
    picture = load_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(picture.pixels, np.array(image.convert("RGB")))


def test_hsv_becomes_rgb() -> None:
    picture = picture_from_pil(Image.new("HSV", (2, 2), (0, 255, 255)))
    np.testing.assert_array_equal(picture.pixels[0, 0], [255, 0, 0])


def test_picture_from_an_in_memory_file() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (3, 2), (1, 2, 3)).save(buffer, "PNG")
    buffer.seek(0)
    picture = picture_from_pil(Image.open(buffer))
    assert picture.format == "PNG" and picture.source is None
    np.testing.assert_array_equal(picture.pixels[0, 0], [1, 2, 3])


@pytest.mark.parametrize(("extension", "mode"), [("png", "I;16"), ("tif", "I;16"), ("tif", "I;16B")])
def test_16bit_grey_loads_and_saves_at_full_depth(tmp_path: Path, extension: str, mode: str) -> None:
    values = noise((5, 7), np.uint16)
    order = ">u2" if mode == "I;16B" else "<u2"
    Image.frombytes(mode, (7, 5), values.astype(order).tobytes()).save(tmp_path / f"a.{extension}")
    assert Image.open(tmp_path / f"a.{extension}").mode == mode
    picture = load_image(tmp_path / f"a.{extension}")
    assert picture.pixels.dtype == np.uint16 and picture.bit_depth == 16 and picture.channels == 1
    np.testing.assert_array_equal(picture.pixels[:, :, 0], values)
    for out in ("b.png", "b.tif"):
        save_image(picture, tmp_path / out)
        assert Image.open(tmp_path / out).mode == "I;16"
        np.testing.assert_array_equal(load_image(tmp_path / out).pixels, picture.pixels)


def test_32bit_integer_grey_is_clipped_to_16_bits(tmp_path: Path) -> None:
    Image.fromarray(np.array([[-5, 1000, 70000]], dtype=np.int32)).save(tmp_path / "a.tif")
    picture = load_image(tmp_path / "a.tif")
    assert picture.pixels.dtype == np.uint16
    np.testing.assert_array_equal(picture.pixels[:, :, 0], [[0, 1000, 65535]])
    assert CLIPPED_NOTE in picture.notes


def test_float_grey_in_unit_range_is_scaled(tmp_path: Path) -> None:
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32)).save(tmp_path / "a.tif")
    picture = load_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(picture.pixels[:, :, 0], [[0, 32768, 65535]])
    assert picture.notes == ()


def test_float_grey_in_a_wider_range_is_clipped() -> None:
    image = Image.fromarray(np.array([[-1.0, 300.0, 1e6]], dtype=np.float32))
    picture = picture_from_pil(image)
    np.testing.assert_array_equal(picture.pixels[:, :, 0], [[0, 300, 65535]])
    assert CLIPPED_NOTE in picture.notes


def test_16bit_colour_is_read_at_16_bits(tmp_path: Path) -> None:
    png_16bit_rgb(tmp_path / "a.png", value=1000)
    picture = load_image(tmp_path / "a.png")
    assert picture.pixels.dtype == np.uint16 and picture.channels == 3
    assert int(picture.pixels[0, 0, 0]) == 1000
    assert picture.notes == ()


def test_16bit_colour_pasted_without_its_file_is_8_bits_with_a_note(tmp_path: Path) -> None:
    png_16bit_rgb(tmp_path / "a.png", value=1000)
    with Image.open(tmp_path / "a.png") as image:
        picture = picture_from_pil(image)  # no source: nothing to read the 16 bits again from
    assert picture.pixels.dtype == np.uint8 and int(picture.pixels[0, 0, 0]) == 1000 >> 8
    assert DEEP_COLOUR_NOTE in picture.notes


def test_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (6, 4), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=50)
    picture = load_image(tmp_path / "a.gif")
    assert ANIMATED_NOTE in picture.notes
    np.testing.assert_array_equal(picture.pixels[2, 3], [255, 0, 0])


def test_still_image_has_no_notes(tmp_path: Path) -> None:
    Image.new("RGB", (6, 4)).save(tmp_path / "a.gif")
    assert load_image(tmp_path / "a.gif").notes == ()


# ------------------------------------------------------------------------------------------ hostile inputs


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty") as error:
        load_image(tmp_path / "empty.png")
    assert_one_line_naming(error, tmp_path / "empty.png")


def test_text_file_with_an_image_name(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("this is not a picture\nat all\n")
    with pytest.raises(
        ImageError, match=r"not a picture SR Studio can read \(format not recognised\)"
    ) as error:
        load_image(tmp_path / "notes.png")
    assert_one_line_naming(error, tmp_path / "notes.png")


def test_eps_is_not_opened(tmp_path: Path) -> None:
    (tmp_path / "a.eps").write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(ImageError, match="not a picture SR Studio can read"):
        load_image(tmp_path / "a.eps")


@pytest.mark.parametrize("extension", ["png", "jpg"])
@pytest.mark.parametrize("keep", [0.5, 0.05])
def test_truncated_file(tmp_path: Path, extension: str, keep: float) -> None:
    Image.fromarray(noise((64, 64, 3))).save(tmp_path / f"whole.{extension}")
    data = (tmp_path / f"whole.{extension}").read_bytes()
    (tmp_path / f"cut.{extension}").write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ImageError, match="truncated or corrupt") as error:
        load_image(tmp_path / f"cut.{extension}")
    assert_one_line_naming(error, tmp_path / f"cut.{extension}")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_over_the_pixel_limit_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Image.new("RGB", (40, 30)).save(tmp_path / "big.png")

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageError, match=r"image is 0\.0 MP, over the 0\.0 MP limit") as error:
        load_image(tmp_path / "big.png", max_pixels=40 * 30 - 1)
    assert_one_line_naming(error, tmp_path / "big.png")


def test_pixel_limit_applies_to_pil_images_too() -> None:
    with pytest.raises(ImageError, match="limit"):
        picture_from_pil(Image.new("RGB", (10, 10)), max_pixels=99)


def test_our_limit_decides_over_pillows_and_pillows_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Image.new("L", (50, 50)).save(tmp_path / "a.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a DecompressionBombWarning
        assert load_image(tmp_path / "a.png", max_pixels=10_000).width == 50
    with pytest.raises(ImageError, match="limit") as error:  # Pillow's own bomb error, reworded
        load_image(tmp_path / "a.png", max_pixels=1_000)
    assert_one_line_naming(error, tmp_path / "a.png")
    assert Image.MAX_IMAGE_PIXELS == 100


def test_folder(tmp_path: Path) -> None:
    (tmp_path / "photos.png").mkdir()
    with pytest.raises(ImageError, match="folder") as error:
        load_image(tmp_path / "photos.png")
    assert_one_line_naming(error, tmp_path / "photos.png")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file") as error:
        load_image(tmp_path / "gone.png")
    assert_one_line_naming(error, tmp_path / "gone.png")


# ------------------------------------------------------------------------------------------ Picture


def test_picture_properties() -> None:
    picture = Picture(np.zeros((300, 200, 4), dtype=np.uint16))
    assert (picture.width, picture.height, picture.channels) == (200, 300, 4)
    assert picture.has_alpha and not picture.is_grey and picture.bit_depth == 16
    assert picture.megapixels == pytest.approx(0.06)


@pytest.mark.parametrize(
    "pixels", [np.zeros((2, 2)), np.zeros((2, 2, 5), np.uint8), np.zeros((2, 2, 3), np.float32)]
)
def test_picture_rejects_malformed_pixels(pixels: np.ndarray) -> None:
    with pytest.raises(ValueError, match="H×W×C"):
        Picture(pixels)


def test_loaded_pixels_are_writable(tmp_path: Path) -> None:
    Image.new("RGB", (3, 3)).save(tmp_path / "a.png")
    load_image(tmp_path / "a.png").pixels[0, 0] = 1
