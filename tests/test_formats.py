"""Every picture format a person has: one list of readable extensions, and what each result is written as."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from sr_studio.core.batch import OutputOptions, batch_job, collect_inputs, output_format, plan_batch
from sr_studio.core.errors import ImageError, UsageError
from sr_studio.core.formats import (
    open_dialog_filter,
    output_extension,
    readable_extensions,
    register_plugins,
)
from sr_studio.core.images import Picture, load_image, save_image
from sr_studio.core.jobs import run_job
from tests.pictures import textured

# Readers without a writer anywhere and too involved to forge here (animation, Photo CD, game texture).
NO_FIXTURE = frozenset({".fli", ".flc", ".pcd", ".ftc", ".ftu", ".pxr"})


def test_the_list_holds_what_people_have_and_nothing_unsafe():
    readable = readable_extensions()
    everyday = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".avif", ".heic", ".heif"}
    modding_and_more = {".psd", ".dds", ".ico", ".mpo", ".qoi", ".pcx", ".tga", ".jp2", ".apng", ".xpm"}
    assert everyday | modding_and_more <= readable
    assert not {".eps", ".ps", ".mpg", ".mpeg", ".wmf", ".emf", ".h5", ".pdf", ".txt"} & readable
    assert all(ext == ext.lower() and ext.startswith(".") for ext in readable)
    assert "pillow-heif" in register_plugins()


def test_every_face_uses_the_one_list():
    from sr_studio.train.data import IMAGE_SUFFIXES
    from sr_studio.ui.app import main_window

    patterns = open_dialog_filter().split(";;")[0].removeprefix("Images (").removesuffix(")").split()
    assert {pattern.removeprefix("*") for pattern in patterns} == readable_extensions()
    assert set(IMAGE_SUFFIXES) == readable_extensions()
    assert main_window.open_filter() == open_dialog_filter()


def test_the_batch_scan_picks_up_every_readable_extension(tmp_path):
    for ext in (".psd", ".heic", ".avif", ".dds", ".qoi", ".eps", ".txt", ".mp4"):
        (tmp_path / f"a{ext}").write_bytes(b"x")
    items, _ = collect_inputs([tmp_path])
    assert sorted(item.source.suffix for item in items) == [".avif", ".dds", ".heic", ".psd", ".qoi"]


# ------------------------------------------------------------------------------ a file of every format


def _xpm() -> bytes:
    return b'/* XPM */\nstatic char *x[] = {\n"4 3 2 1",\n"a c #FF0000",\n"b c #0000FF",\n' + (
        b'"abab",\n"baba",\n"abab"};\n'
    )


def _psd(pixels: np.ndarray) -> bytes:
    height, width, channels = pixels.shape
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, channels, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0)  # no palette, resources, layers; raw
    return header + sections + np.moveaxis(pixels, -1, 0).tobytes()


def _sun(pixels: np.ndarray) -> bytes:
    height, width, _ = pixels.shape
    header = struct.pack(">8I", 0x59A66A95, width, height, 24, width * height * 3, 1, 0, 0)
    return header + pixels[..., ::-1].tobytes()  # BGR rows (an even number of bytes each here)


def _dcx(pixels: np.ndarray) -> bytes:
    pcx = io.BytesIO()
    Image.fromarray(pixels).save(pcx, format="PCX")
    return struct.pack("<III", 987654321, 12, 0) + pcx.getvalue()


def _cur(pixels: np.ndarray) -> bytes:
    ico = io.BytesIO()
    Image.fromarray(pixels).save(ico, format="ICO", sizes=[(16, 16)], bitmap_format="bmp")
    data = bytearray(ico.getvalue())
    data[2:4] = struct.pack("<H", 2)  # a cursor is an icon with another type
    return bytes(data)


def _gbr(pixels: np.ndarray) -> bytes:
    height, width, _ = pixels.shape
    name = b"brush\0"
    header = struct.pack(">IIIII", 28 + len(name), 2, width, height, 4) + b"GIMP" + struct.pack(">I", 10)
    rgba = np.dstack([pixels, np.full((height, width), 255, np.uint8)])
    return header + name + rgba.tobytes()


def _fits(pixels: np.ndarray) -> bytes:
    grey = pixels[..., 0]
    height, width = grey.shape
    cards = [
        "SIMPLE  =                    T",
        "BITPIX  =                    8",
        "NAXIS   =                    2",
    ]
    cards += [f"NAXIS1  = {width:>20}", f"NAXIS2  = {height:>20}", "END"]
    header = "".join(card.ljust(80) for card in cards).ljust(2880).encode()
    data = grey[::-1].tobytes()  # FITS rows go bottom up
    return header + data + b"\0" * (-len(data) % 2880)


HANDMADE = {".xpm": _xpm, ".psd": _psd, ".ras": _sun, ".dcx": _dcx, ".cur": _cur, ".gbr": _gbr}
HANDMADE |= {".fit": _fits, ".fits": _fits}


def write_fixture(path: Path, pixels: np.ndarray) -> bool:
    """Write a tiny picture as `path`'s format: by Pillow (or pillow-heif) where it can, else by hand."""
    if path.suffix in HANDMADE:
        maker = HANDMADE[path.suffix]
        path.write_bytes(maker() if maker is _xpm else maker(pixels))
        return True
    for mode in ("RGB", "RGBA", "L", "P", "1", "F"):
        try:
            Image.fromarray(pixels).convert(mode).save(path)
            with Image.open(path) as image:
                image.load()
            return True
        except Exception:
            path.unlink(missing_ok=True)
    return False


@pytest.mark.filterwarnings("ignore:IM image format is deprecated")  # writing the fixture; reading notes it
def test_every_readable_format_is_upscaled_or_refused_in_one_line(library, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    pixels = textured(16, 16)
    made = {ext for ext in readable_extensions() if write_fixture(folder / f"f_{ext[1:]}{ext}", pixels)}
    assert readable_extensions() - made == NO_FIXTURE

    options = OutputOptions()
    jobs, missing = plan_batch([folder], tmp_path / "out", options, scale=2, model="smooth-x2")
    assert not missing and len(jobs) == len(made)
    report = run_job(batch_job(jobs, library.load("smooth-x2"), options, device="cpu"))
    assert not report.failed, report.failed
    notes = dict(report.notes)
    same_format = {target.suffix for item, target in jobs if target.suffix != ".png"}
    assert same_format == {
        ".apng",
        ".jpg",
        ".jpeg",
        ".webp",
        ".avif",
        ".tif",
        ".tiff",
        ".bmp",
        ".tga",
        ".qoi",
    }
    for item, target in jobs:
        ext = item.source.suffix
        kept, _ = output_extension(item.source)
        assert target.suffix == f".{kept}", ext
        assert target in report.written
        assert load_image(target).width == 2 * load_image(item.source).width, ext  # ICNS: its largest size
        if kept == "png" and ext not in (".png", ".apng"):
            assert notes[item.source].endswith("saved as PNG"), ext
        else:
            assert item.source not in notes or not notes[item.source].endswith("saved as PNG"), ext


def test_refusals_are_one_line_naming_the_file(tmp_path):
    for name, content in (
        ("cut.psd", _psd(textured(8, 8))[:40]),
        ("fake.heic", b"\0\0\0\x18ftypheic" + b"\0" * 9),
    ):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ImageError) as error:
            load_image(tmp_path / name)
        assert "\n" not in str(error.value) and str(tmp_path / name) in str(error.value)


# ------------------------------------------------------------------------------------------ outputs


@pytest.mark.parametrize(
    ("name", "expected", "why"),
    [
        ("a.jpg", "jpg", None),
        ("a.TIF", "tif", None),
        ("a.avif", "avif", None),
        ("a.tga", "tga", None),
        ("a.psd", "png", "PSD cannot be written"),
        ("a.dds", "png", "DDS textures"),
        ("a.ico", "png", "icons"),
        ("a.jp2", "png", "JPEG 2000"),
        ("a.heic", "png", "HEIF"),
        ("a.pcx", "png", "PCX is not among the formats SR Studio writes"),
        ("a.jfif", "jpg", None),
        ("a.vst", "tga", None),
    ],
)
def test_keeping_the_format_falls_back_to_png_with_a_note(name, expected, why):
    extension, note = output_extension(Path(name))
    assert extension == expected
    assert (note is None) == (why is None)
    if why:
        assert why in note and note.endswith("saved as PNG")


def test_a_still_gif_becomes_png_and_an_animated_one_stays_gif(tmp_path):
    Image.fromarray(textured(4, 4)).save(tmp_path / "still.gif")
    frames = [Image.fromarray(textured(4, 4, seed=seed)) for seed in range(2)]
    frames[0].save(tmp_path / "moving.gif", save_all=True, append_images=frames[1:])
    assert output_extension(tmp_path / "still.gif") == ("png", "GIF holds only 256 colours: saved as PNG")
    assert output_extension(tmp_path / "moving.gif") == ("gif", None)
    assert output_extension(tmp_path / "moving.gif", first_frame=True)[0] == "png"
    assert output_format(tmp_path / "moving.gif", OutputOptions(format="webp")) == "webp"
    with pytest.raises(UsageError, match="unknown output format 'psd'"):
        output_format(tmp_path / "moving.gif", OutputOptions(format="psd"))


@pytest.mark.parametrize("name", ["a.bmp", "a.tga", "a.qoi", "a.png", "a.tif"])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_lossless_formats_give_back_every_pixel(tmp_path, name, channels):
    pixels = textured(5, 7, channels=channels)
    save_image(Picture(pixels), tmp_path / name)
    back = load_image(tmp_path / name).pixels
    if name.endswith(".bmp") and channels in (2, 4):  # written with alpha, which the BMP reader ignores
        pixels = pixels[..., :-1]
    if back.shape[2] == pixels.shape[2] + 2:  # grey written as RGB(A): three equal channels
        assert (back[..., 0] == back[..., 1]).all() and (back[..., 1] == back[..., 2]).all()
        back = back[..., [0, *range(3, back.shape[2])]]
    np.testing.assert_array_equal(back, pixels)


def test_tiff_compression_is_chosen(tmp_path):
    picture = Picture(textured(32, 32))
    found = {}
    for compression in ("deflate", "lzw", "none"):
        save_image(picture, tmp_path / f"{compression}.tif", compression=compression)
        with Image.open(tmp_path / f"{compression}.tif") as image:
            found[compression] = image.info.get("compression")
        np.testing.assert_array_equal(load_image(tmp_path / f"{compression}.tif").pixels, picture.pixels)
    assert found == {"deflate": "tiff_adobe_deflate", "lzw": "tiff_lzw", "none": "raw"}
    with pytest.raises(ImageError, match="unknown TIFF compression 'zstd'"):
        save_image(picture, tmp_path / "x.tif", compression="zstd")


def test_avif_quality_trades_size_for_fidelity(tmp_path):
    picture = Picture(textured(64, 64))
    errors, sizes = [], []
    for quality in (30, 95):
        save_image(picture, tmp_path / f"{quality}.avif", quality=quality)
        sizes.append((tmp_path / f"{quality}.avif").stat().st_size)
        back = load_image(tmp_path / f"{quality}.avif").pixels.astype(int)
        errors.append(np.abs(back - picture.pixels.astype(int)).mean())
    assert sizes[0] < sizes[1] and errors[1] < errors[0] < 40


def test_a_heic_photo_is_read_with_its_colours(tmp_path):
    pixels = np.zeros((16, 16, 3), np.uint8)
    pixels[:, :8] = (200, 30, 30)
    pixels[:, 8:] = (30, 30, 200)
    pillow_heif.from_pillow(Image.fromarray(pixels)).save(tmp_path / "photo.heic", quality=95)
    picture = load_image(tmp_path / "photo.heic")
    assert picture.format == "HEIF" and picture.pixels.shape == (16, 16, 3)
    np.testing.assert_allclose(picture.pixels[8, 2], (200, 30, 30), atol=20)
    np.testing.assert_allclose(picture.pixels[8, 13], (30, 30, 200), atol=20)


def test_cli_takes_tiff_compression_and_avif(library, tmp_path, capsys):
    from sr_studio.cli import main

    source = tmp_path / "a.png"
    Image.fromarray(textured(8, 8)).save(source)
    assert (
        main(
            [
                "upscale",
                str(source),
                "-o",
                str(tmp_path / "b.tif"),
                "--model",
                "smooth-x2",
                "--compression",
                "lzw",
            ]
        )
        == 0
    )
    with Image.open(tmp_path / "b.tif") as image:
        assert image.info["compression"] == "tiff_lzw" and image.size == (16, 16)
    assert main(["upscale", str(source), "--format", "avif", "--quality", "60", "--model", "smooth-x2"]) == 0
    assert load_image(tmp_path / "a_x2.avif").pixels.shape == (16, 16, 3)
    with pytest.raises(SystemExit) as stop:
        main(["upscale", str(source), "--compression", "zstd"])
    assert stop.value.code == 2
    capsys.readouterr()
