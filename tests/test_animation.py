"""Animated GIF, APNG and WebP come back animated: same frames, durations, loop and disposal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr_studio.cli import main
from sr_studio.core.animation import load_animation, save_animation, upscale_animation_job
from sr_studio.core.batch import OutputOptions, batch_job, plan_batch
from sr_studio.core.errors import Cancelled, ImageError
from sr_studio.core.images import ANIMATED_NOTE
from sr_studio.core.jobs import CancelToken, run_job
from tests.pictures import textured

DURATIONS = [40, 80, 120]
DEFAULTS = OutputOptions()


def frames(size: tuple[int, int] = (10, 8), alpha: bool = False) -> list[Image.Image]:
    """Three clearly different frames (textured, shifted), optionally with a transparent corner."""
    width, height = size
    images = []
    for index in range(len(DURATIONS)):
        pixels = np.roll(textured(height, width, seed=index), index * 3, axis=1)
        if alpha:
            pixels = np.dstack([pixels, np.full((height, width), 255, np.uint8)])
            pixels[: height // 2, : width // 2, 3] = 0
        images.append(Image.fromarray(pixels))
    return images


def write(path: Path, images: list[Image.Image], **options: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=DURATIONS, **options)
    return path


def timing(path: Path) -> tuple[int, list[int], object, tuple[int, int]]:
    with Image.open(path) as image:
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            image.load()  # WebP sets a frame's duration once it is decoded
            durations.append(image.info["duration"])
        return image.n_frames, durations, image.info.get("loop"), image.size


def upscale_folder(library, folder: Path, out: Path, options: OutputOptions = DEFAULTS, **run):
    jobs, missing = plan_batch([folder], out, options, scale=2, model="smooth-x2")
    assert not missing
    model = library.load("smooth-x2")
    return run_job(batch_job(jobs, model, options, device="cpu", **run))


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("a.gif", {"loop": 0, "disposal": 1}),
        ("a.png", {"loop": 3, "disposal": 1}),  # APNG
        ("a.webp", {"loop": 2, "lossless": True}),
    ],
)
def test_an_animation_comes_back_animated_with_its_timing(library, tmp_path, name, options):
    write(tmp_path / "in" / name, frames(), **options)
    report = upscale_folder(library, tmp_path / "in", tmp_path / "out")
    (target,) = report.written
    assert target.suffix == Path(name).suffix
    assert timing(target) == (3, DURATIONS, options["loop"], (20, 16))
    if "disposal" in options:
        with Image.open(target) as image:
            image.seek(1)
            assert (image.disposal_method if name.endswith("gif") else image.info["disposal"]) == 1
    assert not report.notes


def test_frames_are_upscaled_each_by_the_engine(library, tmp_path):
    source = write(tmp_path / "in" / "a.png", frames(), loop=0)
    upscale_folder(library, tmp_path / "in", tmp_path / "out")
    with Image.open(tmp_path / "out" / "a_x2.png") as result:
        for index, original in enumerate(frames()):
            result.seek(index)
            big = np.array(result.convert("RGB")).astype(int)
            expected = np.array(original.resize((20, 16), Image.Resampling.BILINEAR)).astype(int)
            assert np.abs(big - expected).mean() < 12  # smooth-x2 is bilinear: frame i stays frame i
    assert source.stat().st_size > 0


def test_a_transparent_gif_keeps_its_transparency(library, tmp_path):
    write(tmp_path / "in" / "a.gif", frames(alpha=True), loop=0, disposal=2)
    report = upscale_folder(library, tmp_path / "in", tmp_path / "out")
    (target,) = report.written
    with Image.open(target) as image:
        for index in range(image.n_frames):
            image.seek(index)
            rgba = np.array(image.convert("RGBA"))
            assert rgba[0, 0, 3] == 0 and rgba[-1, -1, 3] == 255  # the hole stays a hole in every frame


def test_first_frame_gives_a_still_picture(library, tmp_path):
    write(tmp_path / "in" / "a.gif", frames(), loop=0)
    write(tmp_path / "in" / "b.png", frames(), loop=0)
    report = upscale_folder(library, tmp_path / "in", tmp_path / "out", OutputOptions(first_frame=True))
    assert sorted(path.name for path in report.written) == ["a_x2.png", "b_x2.png"]
    for path in report.written:
        with Image.open(path) as image:
            assert not getattr(image, "is_animated", False) and image.size == (20, 16)
    assert (tmp_path / "in" / "a.gif", ANIMATED_NOTE) in report.notes


def test_an_output_that_cannot_animate_gets_the_first_frame_with_a_note(library, tmp_path):
    write(tmp_path / "in" / "a.gif", frames(), loop=0)
    report = upscale_folder(library, tmp_path / "in", tmp_path / "out", OutputOptions(format="jpg"))
    assert [path.name for path in report.written] == ["a_x2.jpg"]
    assert (tmp_path / "in" / "a.gif", ANIMATED_NOTE) in report.notes


def test_progress_counts_frames_and_cancel_stops_inside_them(library, tmp_path):
    source = write(tmp_path / "in" / "a.gif", frames((40, 40)), loop=0)
    animation = load_animation(source, max_pixels=10**6)
    assert animation is not None and len(animation.frames) == 3
    model = library.load("smooth-x2")
    events = []
    result, settings = run_job(upscale_animation_job(animation, model, device="cpu", tile=16), events.append)
    assert {event.stage for event in events} == {"frames"} and {event.total for event in events} == {3}
    assert [event.done for event in events][-1] == 3
    assert any(0 < event.info["frame_fraction"] < 1 for event in events)  # tiles inside a frame count too
    assert len(result.frames) == 3 and settings["device"] == "cpu"

    cancel = CancelToken()
    job = upscale_animation_job(animation, model, device="cpu", tile=16, cancel=cancel)
    next(job)
    cancel.cancel()
    with pytest.raises(Cancelled):
        run_job(job)


def test_a_cancelled_batch_leaves_no_animation_behind(library, tmp_path):
    write(tmp_path / "in" / "a.gif", frames((40, 40)), loop=0)
    cancel = CancelToken()
    jobs, _ = plan_batch([tmp_path / "in"], tmp_path / "out", OutputOptions(), scale=2, model="smooth-x2")
    job = batch_job(jobs, library.load("smooth-x2"), OutputOptions(), device="cpu", tile=16, cancel=cancel)
    for event in job:
        if event.info.get("part") == "frames":
            cancel.cancel()
            break
    with pytest.raises(Cancelled):
        run_job(job)
    assert not list((tmp_path / "out").glob("*"))


def test_too_many_frames_are_refused_in_one_line(tmp_path):
    source = write(tmp_path / "a.gif", frames(), loop=0)
    with pytest.raises(ImageError, match=r"3 frames of 10×8 .* over the 0\.0 MP limit") as error:
        load_animation(source, max_pixels=200)
    assert "\n" not in str(error.value) and str(source) in str(error.value)


def test_a_still_picture_is_no_animation(tmp_path):
    Image.fromarray(textured(4, 4)).save(tmp_path / "a.gif")
    assert load_animation(tmp_path / "a.gif", max_pixels=10**6) is None


def test_identical_frames_are_upscaled_once(library, tmp_path):
    first, second = frames()[:2]
    write(tmp_path / "a.webp", [first, second, first], loop=0, lossless=True)
    animation = load_animation(tmp_path / "a.webp", max_pixels=10**6)
    result, _ = run_job(upscale_animation_job(animation, library.load("smooth-x2"), device="cpu"))
    assert result.frames[0] is result.frames[2] and result.frames[1] is not result.frames[0]
    save_animation(result, tmp_path / "b.webp")
    assert timing(tmp_path / "b.webp")[:2] == (3, DURATIONS)


def test_cli_upscales_a_gif_frame_by_frame_or_only_its_first_frame(library, tmp_path, capsys):
    source = write(tmp_path / "a.gif", frames(), loop=0)
    assert main(["upscale", str(source), "-o", str(tmp_path / "b.gif"), "--model", "smooth-x2"]) == 0
    assert timing(tmp_path / "b.gif")[:3] == (3, DURATIONS, 0)
    code = main(
        ["upscale", str(source), "-o", str(tmp_path / "c.gif"), "--model", "smooth-x2", "--first-frame"]
    )
    assert code == 0
    with Image.open(tmp_path / "c.gif") as image:
        assert not getattr(image, "is_animated", False)
    capsys.readouterr()


def test_a_truncated_animation_keeps_the_frames_that_decode(tmp_path):
    whole = write(tmp_path / "whole.gif", frames((20, 20)), loop=0).read_bytes()
    (tmp_path / "end.gif").write_bytes(whole[:-200])  # the last frame cut short
    animation = load_animation(tmp_path / "end.gif", max_pixels=10**6)
    assert animation is not None and len(animation.frames) == 2
    assert animation.notes == ("frames 3-3 cannot be decoded: dropped",)
    (tmp_path / "middle.gif").write_bytes(whole[: len(whole) * 7 // 10])  # frames cannot even be counted
    assert load_animation(tmp_path / "middle.gif", max_pixels=10**6) is None


def test_gif_frames_are_requantised_close_to_the_upscaled_colours(tmp_path):
    pictures = frames((48, 40))
    animation = load_animation(write(tmp_path / "a.png", pictures, loop=0), max_pixels=10**6)
    save_animation(animation, tmp_path / "a.gif")
    with Image.open(tmp_path / "a.gif") as image:
        for index, original in enumerate(pictures):
            image.seek(index)
            error = np.abs(np.array(image.convert("RGB")).astype(int) - np.array(original).astype(int))
            assert error.mean() < 6, index  # a 256-colour palette per frame, dithered: close to true colour
