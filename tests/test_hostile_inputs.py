"""One bad file never stops a batch: the hostile corpus through the real CLI, and failures no decoder test
meets (an unexpected exception, a file that vanishes, a full disk, a killed writer's temp file)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from sr_studio.core import batch_file
from sr_studio.core.atomic import remove_stale_temps
from sr_studio.core.batch import OutputOptions, batch_job, output_format, plan_batch
from sr_studio.core.errors import Cancelled, ImageError
from sr_studio.core.images import load_image
from sr_studio.core.jobs import CancelToken, run_job
from tests.corpus import OK, REFUSED, jpeg_with_exif, tiff_ifd, write_corpus
from tests.pictures import textured

SCALE = 2


def upscale_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SR_STUDIO_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "sr_studio", "upscale", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def test_the_corpus_through_the_cli_every_file_processed_or_refused_in_one_line(tmp_path, library, data_dir):
    expected = write_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    result = upscale_cli(
        str(tmp_path / "corpus"), "-o", str(out), "--model", "smooth-x2", "--device", "cpu", "--json",
        data_dir=data_dir,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    failed = {Path(row["file"]).name: row["error"] for row in summary["failed"]}
    written = {Path(path).name for path in summary["written"]}
    assert len(written) + len(failed) == len(expected)  # the batch reached its last file
    for path, expectation in expected.items():
        output = f"{path.stem}_x{SCALE}.{output_format(path, OutputOptions())}"
        if expectation == OK:
            assert output in written, (path.name, failed.get(path.name))
        elif expectation == REFUSED:
            assert path.name in failed, path.name
    for problem in failed.values():
        assert "\n" not in problem and "Traceback" not in problem and problem
    assert "Traceback" not in result.stderr and "Warning:" not in result.stderr
    assert all(line.startswith("sr-studio:") for line in result.stderr.splitlines()), result.stderr[-2000:]
    for path in map(Path, summary["written"]):
        with Image.open(path) as image:
            image.load()  # complete and decodable
    assert not list(out.rglob("*.tmp"))
    source = load_image(tmp_path / "corpus" / "orientation-6.jpg")
    with Image.open(out / "orientation-6_x2.jpg") as turned:
        assert turned.size == (source.width * SCALE, source.height * SCALE)


def test_broken_exif_costs_only_the_broken_tags_never_the_picture(tmp_path):
    text_resolution = tiff_ifd([(0x011A, 2, 4, b"72\x00\x00"), (0x010F, 2, 6, b"Canon\x00")])
    path = tmp_path / "phone.jpg"
    path.write_bytes(jpeg_with_exif(b"Exif\x00\x00" + text_resolution))
    with pytest.raises(TypeError):  # what Pillow itself does with this EXIF when asked to write it back
        Image.open(path).getexif().tobytes()
    picture = load_image(path)
    assert picture.notes == ("cannot read EXIF tag(s) XResolution: dropped",)
    kept = Image.Exif()
    kept.load(picture.metadata.exif)
    assert kept[0x010F] == "Canon" and 0x011A not in kept


def test_library_warnings_while_reading_become_notes(tmp_path, monkeypatch):
    import warnings

    from PIL import PngImagePlugin

    original = PngImagePlugin.PngImageFile._open

    def warn_then_open(self):
        warnings.warn("Invalid APNG, will use default PNG image if possible", UserWarning, stacklevel=1)
        return original(self)

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "_open", warn_then_open)
    path = tmp_path / "a.png"
    Image.fromarray(textured(5, 5)).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escaped load_image would fail the test
        picture = load_image(path)
    assert picture.notes == ("decoder warning: Invalid APNG, will use default PNG image if possible",)


@pytest.fixture
def three(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = [folder / f"{name}.png" for name in "abc"]
    for seed, path in enumerate(paths):
        Image.fromarray(textured(6, 7, seed=seed)).save(path)
    return paths


def run_batch(paths: list[Path], out: Path, library, cancel: CancelToken | None = None):
    jobs, _ = plan_batch(paths, out, OutputOptions(), scale=SCALE, model="smooth-x2")
    return run_job(batch_job(jobs, library.load("smooth-x2"), OutputOptions(), device="cpu", cancel=cancel))


@pytest.mark.parametrize(
    "error", [TypeError("bad operand"), NotImplementedError("pixel format"), IndexError("x"), MemoryError()]
)
def test_whatever_one_file_raises_is_that_files_failure(three, tmp_path, library, monkeypatch, error):
    real = batch_file.load_image

    def flaky(path, **options):
        if Path(path).name == "b.png":
            raise error
        return real(path, **options)

    monkeypatch.setattr(batch_file, "load_image", flaky)
    report = run_batch(three, tmp_path / "out", library)
    assert [p.name for p in report.written] == ["a_x2.png", "c_x2.png"]
    ((source, problem),) = report.failed
    assert source.name == "b.png" and "\n" not in problem
    if not isinstance(error, MemoryError):
        assert problem.startswith(f"internal error: {type(error).__name__}") and "details in" in problem


def test_cancel_still_ends_the_batch(three, tmp_path, library, monkeypatch):
    monkeypatch.setattr(batch_file, "load_image", lambda *a, **k: (_ for _ in ()).throw(Cancelled()))
    with pytest.raises(Cancelled):
        run_batch(three, tmp_path / "out", library)


def test_a_file_that_disappears_between_listing_and_reading(three, tmp_path, library):
    jobs, _ = plan_batch(three, tmp_path / "out", OutputOptions(), scale=SCALE, model="smooth-x2")
    three[0].unlink()
    report = run_job(batch_job(jobs, library.load("smooth-x2"), OutputOptions(), device="cpu"))
    assert report.failed == [(three[0], "no such file")] and len(report.written) == 2


def test_a_full_disk_mid_write_leaves_no_partial_output_and_the_batch_goes_on(
    three, tmp_path, library, monkeypatch
):
    real_save = Image.Image.save

    def save_half_then_fill_the_disk(self, fp, *args, **kwargs):
        if "b_x2" in str(fp):
            Path(fp).write_bytes(b"\x89PNG half a file")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save_half_then_fill_the_disk)
    out = tmp_path / "out"
    report = run_batch(three, out, library)
    assert [p.name for p in report.written] == ["a_x2.png", "c_x2.png"]
    ((source, problem),) = report.failed
    assert source.name == "b.png" and "No space left on device" in problem
    assert sorted(p.name for p in out.iterdir()) == ["a_x2.png", "c_x2.png"]  # no half file, no temp


def test_a_read_only_output_folder_is_each_files_one_line_failure(three, tmp_path, library, monkeypatch):
    out = tmp_path / "out"
    real_open = os.open

    def refuse_in_out(path, *args, **kwargs):
        if str(path).startswith(str(out)):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_in_out)  # root ignores chmod, so the refusal is simulated
    report = run_batch(three, out, library)
    assert len(report.failed) == 3 and not report.written
    assert all(problem.endswith("permission denied") for _, problem in report.failed), report.failed


def test_a_killed_writers_temp_file_is_removed_by_the_next_run(three, tmp_path, library):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".a_x2.png.0123abcd.tmp"
    stale.write_bytes(b"half")
    unrelated = out / ".a_x2.png.notours.tmp"
    unrelated.write_bytes(b"someone else's")
    run_batch(three, out, library)
    assert not stale.exists() and unrelated.exists()
    assert remove_stale_temps(out / "a_x2.png") == []


def test_load_image_turns_any_decoder_failure_into_one_image_error(tmp_path, monkeypatch):
    from PIL import PngImagePlugin

    def broken_decoder(self):
        raise struct_error("unpack requires a buffer of 4 bytes")

    struct_error = __import__("struct").error
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", broken_decoder)
    path = tmp_path / "a.png"
    Image.fromarray(textured(5, 5)).save(path)
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(path)

    def surprising(self):
        raise KeyError("tile")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", surprising)
    with pytest.raises(ImageError, match=r"cannot decode: KeyError: 'tile' \(details in "):
        load_image(path)


def test_the_wizards_scan_and_the_training_loader_skip_each_bad_file_with_a_reason(tmp_path):
    from sr_studio.train.config import config_from_dict
    from sr_studio.train.data import load_dataset, scan

    expected = write_corpus(tmp_path / "corpus")
    data = {"train": ["corpus"], "patch": 8, "val_share": 0.1}
    config = config_from_dict({"task": "upscale", "data": data}, tmp_path, "test")
    refused = {path.name for path, expectation in expected.items() if expectation == REFUSED}
    summary = scan(config, min_side=8)
    assert len(summary.usable) + len(summary.skipped) == len(expected)
    assert refused <= {path.name for path, _ in summary.skipped}
    dataset = load_dataset(config, min_side=8)
    assert len(dataset.train) + len(dataset.val) + len(dataset.skipped) == len(expected)
    assert refused <= {path.name for path, _ in dataset.skipped}
    assert all(reason and "\n" not in reason for _, reason in dataset.skipped)
