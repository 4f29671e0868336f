"""Image loading and saving (sr_studio.core.images) and atomic writes (sr_studio.core.atomic)."""

from __future__ import annotations

import io
import os
import signal
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile, PngImagePlugin

from sr_studio.core import atomic
from sr_studio.core.atomic import atomic_write, write_bytes_atomic, write_text_atomic
from sr_studio.core.errors import ImageError
from sr_studio.core.images import (
    ANIMATED_NOTE,
    CLIPPED_NOTE,
    DEEP_COLOUR_NOTE,
    MADE_BY,
    SAVE_FORMATS,
    Metadata,
    Picture,
    format_for_path,
    load_image,
    made_by,
    picture_from_pil,
    picture_to_pil,
    save_image,
)

REPO = Path(__file__).resolve().parents[1]
MAKE, ORIENTATION, SOFTWARE = 0x010F, 0x0112, 0x0131


def noise(shape: tuple[int, ...], dtype: type = np.uint8, seed: int = 0) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top, shape, dtype=dtype, endpoint=True)


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_bytes(**tags: object) -> bytes:
    exif = Image.Exif()
    exif[MAKE] = "Canon"
    if "orientation" in tags:
        exif[ORIENTATION] = tags["orientation"]
    return exif.tobytes()


def read_exif(data: bytes | None) -> Image.Exif:
    exif = Image.Exif()
    if data:
        exif.load(data)
    return exif


def png_16bit_rgb(path: Path, value: int, width: int = 4, height: int = 3) -> None:
    """Pillow cannot write 16-bit RGB, so build the PNG by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + np.full((width, 3), value, ">u2").tobytes()
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def files_in(folder: Path) -> set[str]:
    return {entry.name for entry in folder.iterdir()}


def assert_one_line_naming(error: pytest.ExceptionInfo[ImageError], path: Path) -> None:
    message = str(error.value)
    assert "\n" not in message
    assert path.name in message


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


# ------------------------------------------------------------------------------------------ metadata


@pytest.mark.parametrize(("orientation", "turns"), [(6, -1), (8, 1), (3, 2)])
def test_exif_orientation_is_applied_and_reset(tmp_path: Path, orientation: int, turns: int) -> None:
    pixels = noise((2, 3, 3))
    Image.fromarray(pixels).save(tmp_path / "a.png", exif=exif_bytes(orientation=orientation))
    picture = load_image(tmp_path / "a.png")
    np.testing.assert_array_equal(picture.pixels, np.rot90(pixels, turns))
    assert read_exif(picture.metadata.exif)[ORIENTATION] == 1
    for out in ("b.png", "b.jpg", "b.tif", "b.webp"):
        save_image(picture, tmp_path / out)
        saved = Image.open(tmp_path / out).getexif()
        assert saved[ORIENTATION] == 1 and saved[MAKE] == "Canon"
        assert load_image(tmp_path / out).pixels.shape[:2] == picture.pixels.shape[:2]


def test_rotated_jpeg_loads_upright(tmp_path: Path) -> None:
    Image.new("RGB", (40, 20)).save(tmp_path / "a.jpg", exif=exif_bytes(orientation=6))
    picture = load_image(tmp_path / "a.jpg")
    assert (picture.width, picture.height) == (20, 40)


def test_exif_sub_directories_survive_into_tiff(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[MAKE] = "Canon"
    exif.get_ifd(0x8769)[0x9003] = "2020:01:01 00:00:00"  # DateTimeOriginal, in the Exif sub-IFD
    Image.new("RGB", (4, 4)).save(tmp_path / "a.jpg", exif=exif)
    save_image(load_image(tmp_path / "a.jpg"), tmp_path / "b.tif")
    saved = read_exif(load_image(tmp_path / "b.tif").metadata.exif)
    assert saved[MAKE] == "Canon" and saved.get_ifd(0x8769)[0x9003] == "2020:01:01 00:00:00"


def test_tiff_layout_tags_are_not_carried_as_exif(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "a.tif", exif=exif_bytes())
    exif = read_exif(load_image(tmp_path / "a.tif").metadata.exif)
    assert exif[MAKE] == "Canon"
    assert not {256, 257, 273, 279} & exif.keys()  # width, height, strip offsets and sizes


@pytest.mark.parametrize("extension", ["png", "jpg", "tif", "webp"])
def test_icc_profile_dpi_and_exif_survive_load_and_save(tmp_path: Path, extension: str) -> None:
    profile = srgb_profile()
    Image.fromarray(noise((6, 8, 3))).save(
        tmp_path / "a.png", icc_profile=profile, dpi=(300, 300), exif=exif_bytes()
    )
    picture = load_image(tmp_path / "a.png")
    assert picture.metadata.icc_profile == profile
    save_image(picture, tmp_path / f"b.{extension}")
    saved = load_image(tmp_path / f"b.{extension}")
    assert saved.metadata.icc_profile == profile
    assert read_exif(saved.metadata.exif)[MAKE] == "Canon"
    if extension == "webp":
        assert saved.metadata.dpi is None  # WebP has no place for it
    else:
        assert saved.metadata.dpi == pytest.approx((300, 300), abs=0.01)


def test_a_profile_that_does_not_fit_the_pixels_is_not_written(tmp_path: Path) -> None:
    picture = Picture(noise((4, 4, 1)), Metadata(icc_profile=srgb_profile()))
    save_image(picture, tmp_path / "grey.png")
    assert "icc_profile" not in Image.open(tmp_path / "grey.png").info


def test_picture_to_pil_carries_metadata() -> None:
    metadata = Metadata(icc_profile=srgb_profile(), exif=exif_bytes(), dpi=(72.0, 72.0))
    image = picture_to_pil(Picture(noise((3, 4, 3)), metadata))
    assert image.mode == "RGB" and image.size == (4, 3)
    assert image.info == {"icc_profile": metadata.icc_profile, "exif": metadata.exif, "dpi": (72.0, 72.0)}


@pytest.mark.parametrize(
    ("channels", "dtype", "mode"),
    [
        (1, np.uint8, "L"),
        (1, np.uint16, "I;16"),
        (2, np.uint16, "LA"),
        (3, np.uint16, "RGB"),
        (4, np.uint8, "RGBA"),
    ],
)
def test_picture_to_pil_modes(channels: int, dtype: type, mode: str) -> None:
    assert picture_to_pil(Picture(noise((2, 3, channels), dtype))).mode == mode


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


# ------------------------------------------------------------------------------------------ saving


def test_jpeg_composites_alpha_onto_white(tmp_path: Path) -> None:
    pixels = np.zeros((16, 16, 4), dtype=np.uint8)
    pixels[:, :8] = (200, 40, 40, 255)  # opaque red on the left, fully transparent on the right
    Image.fromarray(pixels).save(tmp_path / "a.png")
    save_image(load_image(tmp_path / "a.png"), tmp_path / "b.jpg")
    saved = load_image(tmp_path / "b.jpg")
    assert saved.channels == 3
    np.testing.assert_allclose(saved.pixels[8, 2], [200, 40, 40], atol=6)
    np.testing.assert_allclose(saved.pixels[8, 13], [255, 255, 255], atol=6)


def test_jpeg_of_16bit_grey_with_alpha_is_8bit_grey(tmp_path: Path) -> None:
    pixels = np.zeros((8, 8, 2), dtype=np.uint16)
    pixels[..., 0], pixels[..., 1] = 0, 32768  # black, half transparent: mid grey on white
    save_image(Picture(pixels), tmp_path / "a.jpg")
    image = Image.open(tmp_path / "a.jpg")
    assert image.mode == "L"
    assert abs(int(np.array(image)[4, 4]) - 127) <= 2


@pytest.mark.parametrize("name", ["a.png", "a.tif"])
def test_16bit_colour_and_grey_alpha_stay_16_bits_in_png_and_tiff(tmp_path: Path, name: str) -> None:
    for channels in (2, 3, 4):
        pixels = noise((3, 5, channels), np.uint16, seed=channels)
        target = tmp_path / f"{channels}{name}"
        save_image(Picture(pixels), target)
        back = load_image(target)
        assert back.pixels.dtype == np.uint16 and back.notes == ()
        if name.endswith(".tif") and channels == 2:  # written as RGBA: Pillow cannot open 16-bit LA TIFF
            pixels = np.concatenate([pixels[..., :1]] * 3 + [pixels[..., 1:]], axis=2)
        np.testing.assert_array_equal(back.pixels, pixels)


def test_16bit_colour_is_written_at_8_bits_where_the_format_has_no_more(tmp_path: Path) -> None:
    rgb = Picture(np.full((2, 2, 3), 257 * 100, dtype=np.uint16))
    save_image(rgb, tmp_path / "rgb.webp", quality=100)
    np.testing.assert_array_equal(load_image(tmp_path / "rgb.webp").pixels, np.full((2, 2, 3), 100))


def test_webp_quality_100_is_lossless_and_grey_becomes_rgb(tmp_path: Path) -> None:
    pixels = noise((6, 5, 3))
    save_image(Picture(pixels), tmp_path / "a.webp", quality=100)
    np.testing.assert_array_equal(load_image(tmp_path / "a.webp").pixels, pixels)
    save_image(Picture(noise((6, 5, 1))), tmp_path / "grey.webp")
    assert Image.open(tmp_path / "grey.webp").mode == "RGB"


def test_quality_changes_jpeg_size(tmp_path: Path) -> None:
    picture = Picture(noise((32, 32, 3)))
    save_image(picture, tmp_path / "low.jpg", quality=10)
    save_image(picture, tmp_path / "high.jpg")
    assert (tmp_path / "low.jpg").stat().st_size < (tmp_path / "high.jpg").stat().st_size


@pytest.mark.parametrize("quality", [0, 101])
def test_quality_out_of_range(tmp_path: Path, quality: int) -> None:
    with pytest.raises(ImageError, match="quality"):
        save_image(Picture(noise((2, 2, 3))), tmp_path / "a.jpg", quality=quality)


def test_explicit_format_wins_over_the_extension(tmp_path: Path) -> None:
    save_image(Picture(noise((2, 2, 3))), tmp_path / "a.out", format="png")
    save_image(Picture(noise((2, 2, 3))), tmp_path / "b.out", format="JPEG")
    assert Image.open(tmp_path / "a.out").format == "PNG"
    assert Image.open(tmp_path / "b.out").format == "JPEG"


def test_formats_from_extensions(tmp_path: Path) -> None:
    assert format_for_path("x.JPG") == "JPEG" and format_for_path(Path("y.tiff")) == "TIFF"
    assert set(SAVE_FORMATS.values()) == {"PNG", "JPEG", "WEBP", "AVIF", "TIFF", "BMP", "TGA", "QOI", "GIF"}
    with pytest.raises(ImageError, match=r"\.png, .*\.jpg") as error:
        save_image(Picture(noise((2, 2, 3))), tmp_path / "a.psd")
    assert_one_line_naming(error, tmp_path / "a.psd")
    assert files_in(tmp_path) == set()


def test_webp_refuses_sizes_it_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="too large for WEBP"):
        save_image(Picture(np.zeros((1, 16_384, 3), dtype=np.uint8)), tmp_path / "wide.webp")
    assert files_in(tmp_path) == set()


def test_existing_file_is_not_replaced_without_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "a.png"
    target.write_bytes(b"keep me")
    with pytest.raises(ImageError, match=r"already exists \(use --overwrite\)") as error:
        save_image(Picture(noise((2, 2, 3))), target)
    assert_one_line_naming(error, target)
    assert target.read_bytes() == b"keep me"
    save_image(Picture(noise((2, 2, 3))), target, overwrite=True)
    assert Image.open(target).size == (2, 2)
    assert files_in(tmp_path) == {"a.png"}


def test_saving_over_the_source_needs_overwrite_and_is_atomic(tmp_path: Path) -> None:
    source = tmp_path / "a.png"
    Image.fromarray(noise((4, 4, 3))).save(source)
    original, inode = source.read_bytes(), source.stat().st_ino
    picture = load_image(source)
    picture.pixels[:] = 7
    with pytest.raises(ImageError, match="loaded from"):
        save_image(picture, source)
    assert source.read_bytes() == original
    save_image(picture, source, overwrite=True)
    assert source.stat().st_ino != inode  # a new file renamed into place, not the old one rewritten
    np.testing.assert_array_equal(load_image(source).pixels, picture.pixels)


@pytest.mark.parametrize("existing", [False, True])
def test_encoder_failure_leaves_no_partial_or_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    target = tmp_path / "a.png"
    if existing:
        target.write_bytes(b"old")

    def broken_save(self: Image.Image, fp: Path, *args: object, **kwargs: object) -> None:
        Path(fp).write_bytes(b"\x89PNG half of it")
        raise OSError("encoder exploded")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ImageError, match="encoder exploded") as error:
        save_image(Picture(noise((2, 2, 3))), target, overwrite=True)
    assert_one_line_naming(error, target)
    assert files_in(tmp_path) == ({"a.png"} if existing else set())
    if existing:
        assert target.read_bytes() == b"old"


def test_missing_output_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="folder does not exist"):
        save_image(Picture(noise((2, 2, 3))), tmp_path / "nope" / "a.png")


def test_messages_do_not_name_the_decoding_library(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("this is not a picture")
    with pytest.raises(ImageError) as error:
        load_image(tmp_path / "notes.png")
    assert "Pillow" not in str(error.value)
    assert "Pillow" not in DEEP_COLOUR_NOTE


# ------------------------------------------------------------------------------------- who made an output


def stamp(model: str) -> bytes:
    exif = Image.Exif()
    exif[SOFTWARE] = MADE_BY + model
    return exif.tobytes()


@pytest.mark.parametrize("extension", ["png", "jpg", "webp", "tif"])
def test_made_by_reads_the_model_a_batch_output_names(tmp_path: Path, extension: str) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / f"a.{extension}", exif=stamp("srgan-x4"))
    assert made_by(tmp_path / f"a.{extension}") == "srgan-x4"


def test_made_by_is_none_for_files_no_batch_wrote(tmp_path: Path) -> None:
    gimp = Image.Exif()
    gimp[SOFTWARE] = "GIMP 2.10"
    Image.new("RGB", (8, 8)).save(tmp_path / "gimp.jpg", exif=gimp.tobytes())
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "ours.bmp")
    (tmp_path / "text.png").write_text("not a picture")
    (tmp_path / "disguised.png").write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    for name in ("gimp.jpg", "plain.png", "ours.bmp", "text.png", "disguised.png", "gone.png"):
        assert made_by(tmp_path / name) is None, name


def test_made_by_reads_only_the_header_whatever_the_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Image.new("RGB", (64, 64)).save(tmp_path / "big.png", exif=stamp("m"))
    Image.new("RGB", (64, 64)).save(tmp_path / "plain.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # both are "decompression bombs" to Pillow now
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", lambda self: pytest.fail("pixels were decoded"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert made_by(tmp_path / "big.png") == "m"
        assert made_by(tmp_path / "plain.png") is None
    assert Image.MAX_IMAGE_PIXELS == 10


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


# ------------------------------------------------------------------------------------------ atomic writes


def test_atomic_write_uses_a_hidden_temp_beside_the_target(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    with atomic_write(target) as temp:
        assert temp.parent == tmp_path
        assert temp.name.startswith(".model.bin.") and temp.name.endswith(".tmp")
        assert not target.exists()
        temp.write_bytes(b"data")
    assert target.read_bytes() == b"data"
    assert files_in(tmp_path) == {"model.bin"}


def test_write_helpers(tmp_path: Path) -> None:
    write_bytes_atomic(tmp_path / "a.bin", b"\x00\x01")
    write_text_atomic(tmp_path / "a.json", '{"name": "café"}')
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "a.json").read_text(encoding="utf-8") == '{"name": "café"}'
    write_text_atomic(tmp_path / "a.json", "{}")
    assert (tmp_path / "a.json").read_text(encoding="utf-8") == "{}"


@pytest.mark.parametrize("existing", [False, True])
def test_atomic_write_error_keeps_the_old_state(tmp_path: Path, existing: bool) -> None:
    target = tmp_path / "a.json"
    if existing:
        target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as temp:
        temp.write_text("half")
        raise RuntimeError("boom")
    assert files_in(tmp_path) == ({"a.json"} if existing else set())
    if existing:
        assert target.read_text() == "old"


def test_atomic_write_without_overwrite_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(FileExistsError):
        write_text_atomic(target, "new", overwrite=False)
    assert target.read_text() == "old"
    assert files_in(tmp_path) == {"a.json"}


@pytest.mark.parametrize("hard_links", [True, False])
def test_atomic_write_without_overwrite_does_not_clobber_a_file_that_appears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hard_links: bool
) -> None:
    if not hard_links:

        def no_link(source: object, target: object) -> None:
            raise OSError(1, "Operation not permitted")

        monkeypatch.setattr(atomic.os, "link", no_link)
    write_text_atomic(tmp_path / "fresh.txt", "mine", overwrite=False)
    assert (tmp_path / "fresh.txt").read_text() == "mine"
    target = tmp_path / "a.txt"
    with pytest.raises(FileExistsError), atomic_write(target, overwrite=False) as temp:
        temp.write_text("mine")
        target.write_text("someone else's")
    assert target.read_text() == "someone else's"
    assert files_in(tmp_path) == {"a.txt", "fresh.txt"}


def test_atomic_write_gives_ordinary_permissions(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"")
    write_bytes_atomic(tmp_path / "atomic", b"")
    assert (tmp_path / "atomic").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_killed_writer_leaves_no_file_at_the_target(tmp_path: Path) -> None:
    target = tmp_path / "model.safetensors"
    script = (
        "import sys, time\n"
        "from sr_studio.core.atomic import atomic_write\n"
        "with atomic_write(sys.argv[1]) as temp:\n"
        "    with open(temp, 'wb') as out:\n"
        "        out.write(b'x' * 4096)\n"
        "        out.flush()\n"
        "        print('half written', flush=True)\n"
        "        time.sleep(60)\n"
        "        out.write(b'y' * 4096)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        [sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE, env=env
    ) as writer:
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline() == b"half written\n"
        finally:
            writer.send_signal(signal.SIGKILL)
    assert writer.returncode == -signal.SIGKILL
    assert not target.exists()
    leftovers = files_in(tmp_path)
    assert all(name.startswith(".model.safetensors.") and name.endswith(".tmp") for name in leftovers)
