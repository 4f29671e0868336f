"""16 bits per channel colour end to end: read at 16 bits, upscaled in float, written at 16 bits."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from sr_studio.core import deep_colour
from sr_studio.core.batch import OutputOptions, batch_job, plan_batch
from sr_studio.core.images import DEEP_COLOUR_NOTE, Metadata, Picture, load_image, save_image
from sr_studio.core.jobs import run_job
from sr_studio.core.upscale import upscale

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def gradient(height: int = 6, width: int = 700, alpha: bool = False) -> np.ndarray:
    """A horizontal 16-bit ramp over the full range, a different one per channel: 700 levels each."""
    ramp = np.linspace(0, 65535, width).round().astype(np.uint16)
    channels = [ramp, ramp[::-1], (ramp // 2 + 16384).astype(np.uint16)]
    if alpha:
        channels.append(np.full(width, 50_000, np.uint16))
    return np.ascontiguousarray(np.broadcast_to(np.stack(channels, axis=-1), (height, width, len(channels))))


def levels(pixels: np.ndarray) -> list[int]:
    return [len(np.unique(pixels[..., channel])) for channel in range(pixels.shape[2])]


@pytest.mark.parametrize("name", ["ramp.png", "ramp.tif"])
@pytest.mark.parametrize("alpha", [False, True])
def test_a_16bit_gradient_keeps_more_than_256_levels_end_to_end(library, tmp_path, name, alpha):
    source = tmp_path / "in" / name
    source.parent.mkdir()
    metadata = Metadata(icc_profile=SRGB, dpi=(300.0, 300.0))
    save_image(Picture(gradient(alpha=alpha), metadata), source)

    picture = load_image(source)
    assert picture.pixels.dtype == np.uint16 and picture.notes == ()
    assert min(levels(picture.pixels)[:3]) == 700

    options = OutputOptions()
    jobs, _ = plan_batch([source.parent], tmp_path / "out", options, scale=2, model="smooth-x2")
    report = run_job(batch_job(jobs, library.load("smooth-x2"), options, device="cpu"))
    (target,) = report.written
    assert target.suffix == source.suffix and report.settings["precision"] == "fp32"

    result = load_image(target)
    assert result.pixels.dtype == np.uint16 and result.pixels.shape == (12, 1400, 4 if alpha else 3)
    assert min(levels(result.pixels)[:3]) > 256 * 4  # far more than 8 bits could hold
    assert result.metadata.icc_profile == SRGB
    assert result.metadata.dpi == pytest.approx((300.0, 300.0), abs=0.1)
    with Image.open(target) as image:  # the file itself says 16 bits, to any other program too
        assert "16" in str(image.tile[0][3])


def test_16bit_upscale_in_float_is_close_to_the_exact_bilinear(library):
    picture = Picture(gradient(height=4, width=300))
    result = upscale(picture, library.load("smooth-x2"), device="cpu")
    assert result.precision == "fp32" and result.picture.pixels.dtype == np.uint16
    middle = result.picture.pixels[2:-2, 4:-4].astype(np.int64)
    steps = np.abs(np.diff(middle[..., 0], axis=1))
    assert steps.max() < 200  # a smooth 16-bit ramp, not 8-bit stairs of 257


def test_planar_and_big_endian_16bit_tiffs_are_read(tmp_path):
    pixels = gradient(height=3, width=5)
    tifffile.imwrite(
        tmp_path / "planar.tif", np.moveaxis(pixels, -1, 0), photometric="rgb", planarconfig="separate"
    )
    tifffile.imwrite(tmp_path / "big.tif", pixels.astype(">u2"), photometric="rgb", byteorder=">")
    for name in ("planar.tif", "big.tif"):
        picture = load_image(tmp_path / name)
        assert picture.pixels.dtype == np.uint16, name
        np.testing.assert_array_equal(picture.pixels, pixels)


def test_premultiplied_16bit_alpha_is_undone(tmp_path):
    straight = np.array([[[40_000, 20_000, 0, 32768], [65535, 65535, 65535, 65535]]], dtype=np.uint16)
    alpha = straight[..., 3:].astype(np.uint64)
    premultiplied = np.concatenate([(straight[..., :3] * alpha + 32767) // 65535, alpha], axis=-1)
    tifffile.imwrite(
        tmp_path / "a.tif", premultiplied.astype(np.uint16), photometric="rgb", extrasamples=("assocalpha",)
    )
    picture = load_image(tmp_path / "a.tif")
    np.testing.assert_allclose(picture.pixels.astype(int), straight.astype(int), atol=2)


def test_exif_orientation_turns_16bit_pixels_too(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    pixels = gradient(height=2, width=3)
    save_image(Picture(pixels, Metadata(exif=exif.tobytes())), tmp_path / "a.png")
    picture = load_image(tmp_path / "a.png")
    assert picture.pixels.dtype == np.uint16
    np.testing.assert_array_equal(picture.pixels, np.rot90(pixels, -1))


def test_16bit_png_text_of_exif_and_tiff_software_survive(tmp_path):
    exif = Image.Exif()
    exif[0x0131] = "SR Studio, model test"
    exif[0x013B] = "An Artist"
    picture = Picture(gradient(height=2, width=3), Metadata(exif=exif.tobytes()))
    for name in ("a.png", "a.tif"):
        save_image(picture, tmp_path / name)
        with Image.open(tmp_path / name) as image:
            tags = image.getexif()
            assert tags[0x0131] == "SR Studio, model test" and tags[0x013B] == "An Artist", name


def test_undecodable_16bit_data_costs_the_bits_not_the_picture(tmp_path, monkeypatch):
    save_image(Picture(gradient(height=2, width=3)), tmp_path / "a.png")

    def broken(path: Path, format: str) -> np.ndarray:
        raise ValueError("bad rows")

    monkeypatch.setattr("sr_studio.core.images.read_deep", broken)
    picture = load_image(tmp_path / "a.png")
    assert picture.pixels.dtype == np.uint8 and picture.pixels.shape == (2, 3, 3)
    assert any(note.startswith(DEEP_COLOUR_NOTE) and "bad rows" in note for note in picture.notes)


def test_png_writer_puts_metadata_before_the_pixels():
    out = io.BytesIO()
    deep_colour.write_deep(
        gradient(2, 3), Metadata(icc_profile=SRGB, exif=b"Exif\x00\x00II*\x00"), "PNG", out, True
    )
    import png

    kinds = [kind for kind, _ in png.Reader(bytes=out.getvalue()).chunks()]
    assert kinds.index(b"iCCP") < kinds.index(b"IDAT") and kinds.index(b"eXIf") < kinds.index(b"IDAT")


def test_interlaced_and_colour_keyed_16bit_pngs_are_read_exactly(tmp_path):
    import png

    pixels = gradient(height=5, width=9)
    with open(tmp_path / "interlaced.png", "wb") as file:
        png.Writer(9, 5, greyscale=False, bitdepth=16, interlace=True).write_array(file, pixels.reshape(-1))
    np.testing.assert_array_equal(load_image(tmp_path / "interlaced.png").pixels, pixels)

    key = tuple(int(value) for value in pixels[0, 0])
    with open(tmp_path / "keyed.png", "wb") as file:
        png.Writer(9, 5, greyscale=False, bitdepth=16, transparent=key).write_array(file, pixels.reshape(-1))
    picture = load_image(tmp_path / "keyed.png")  # the colour key (tRNS) becomes an alpha channel
    assert picture.pixels.dtype == np.uint16 and picture.channels == 4
    keyed = (pixels == key).all(axis=-1)
    assert keyed[:, 0].all() and not keyed[:, 1:].any()  # the ramp's first column
    np.testing.assert_array_equal(picture.pixels[..., 3], np.where(keyed, 0, 65535))
    np.testing.assert_array_equal(picture.pixels[..., :3], pixels)
