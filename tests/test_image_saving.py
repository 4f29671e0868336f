"""Saving pictures (sr_studio.core.images): formats, depths, quality, overwriting, metadata, made_by."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from sr_studio.core.errors import ImageError
from sr_studio.core.images import (
    DEEP_COLOUR_NOTE,
    MADE_BY,
    SAVE_FORMATS,
    Metadata,
    Picture,
    format_for_path,
    load_image,
    made_by,
    picture_to_pil,
    save_image,
)
from tests.error_helpers import assert_one_line_naming
from tests.image_helpers import files_in, srgb_profile
from tests.pictures import noise

MAKE, ORIENTATION, SOFTWARE = 0x010F, 0x0112, 0x0131


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
