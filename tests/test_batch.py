"""Batches: bad files do not stop them, outputs mirror the tree, a cancelled or killed batch resumes."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from sr_studio.core.batch import (
    BatchRequest,
    OutputOptions,
    batch_job,
    batch_request_job,
    default_output_dir,
    plan_batch,
    validate_pattern,
)
from sr_studio.core.errors import Cancelled, SRStudioError, UsageError
from sr_studio.core.images import made_by
from sr_studio.core.jobs import CancelToken, run_job
from tests.pictures import textured


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    """A folder tree: two good pictures, one nested, one corrupt file, one text file to ignore."""
    folder = tmp_path / "scans"
    (folder / "nested").mkdir(parents=True)
    Image.fromarray(textured(10, 12, seed=1)).save(folder / "a.png")
    Image.fromarray(textured(9, 8, seed=2)).save(folder / "b.jpg")
    Image.fromarray(textured(7, 7, seed=3)).save(folder / "nested" / "c.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "notes.txt").write_text("not an image")
    return folder


DEFAULTS = OutputOptions()


def run_batch(
    library, inputs, out, options=DEFAULTS, *, recursive=False, cancel=None, progress=None, model="smooth-x2"
):
    jobs, missing = plan_batch(inputs, out, options, scale=2, model=model, recursive=recursive)
    model = library.load(model)
    report = run_job(batch_job(jobs, model, options, device="cpu", cancel=cancel), progress)
    return jobs, missing, report


def test_a_bad_file_is_reported_and_the_rest_written(library, scans, tmp_path):
    out = tmp_path / "out"
    _, missing, report = run_batch(library, [scans], out, recursive=True)
    assert not missing
    assert sorted(p.relative_to(out).as_posix() for p in report.written) == [
        "a_x2.png",
        "b_x2.jpg",
        "nested/c_x2.png",
    ]
    assert [(p.name, "\n" in reason) for p, reason in report.failed] == [("broken.png", False)]
    assert "corrupt" in report.failed[0][1] or "truncated" in report.failed[0][1]
    assert Image.open(out / "nested" / "c_x2.png").size == (14, 14)
    assert report.settings["device"] == "cpu"


def test_a_rerun_skips_finished_outputs(library, scans, tmp_path):
    out = tmp_path / "out"
    run_batch(library, [scans], out)
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    _, _, again = run_batch(library, [scans], out)
    assert sorted(p.name for p in again.skipped) == ["a_x2.png", "b_x2.jpg"]
    assert not again.written
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before
    _, _, forced = run_batch(library, [scans], out, OutputOptions(overwrite=True))
    assert len(forced.written) == 2


def test_a_rerun_with_another_model_names_the_maker_instead_of_skipping(library, scans, tmp_path):
    out = tmp_path / "out"
    run_batch(library, [scans], out)
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    _, _, other = run_batch(library, [scans], out, model="tiny-x2")
    assert not other.skipped and not other.written
    assert [(source.name, problem) for source, problem in other.failed[:2]] == [
        ("a.png", "a_x2.png was made by smooth-x2, not tiny-x2: use --overwrite or another --name"),
        ("b.jpg", "b_x2.jpg was made by smooth-x2, not tiny-x2: use --overwrite or another --name"),
    ]
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before
    _, _, same = run_batch(library, [scans], out)  # the first model's re-run still resumes
    assert sorted(p.name for p in same.skipped) == ["a_x2.png", "b_x2.jpg"]
    _, _, forced = run_batch(library, [scans], out, OutputOptions(overwrite=True), model="tiny-x2")
    assert len(forced.written) == 2 and {made_by(p) for p in forced.written} == {"tiny-x2"}


@pytest.mark.parametrize("extension", ["png", "jpg", "webp", "tif"])
def test_every_output_format_names_its_model_and_keeps_the_source_exif(library, tmp_path, extension):
    source = tmp_path / "in" / "photo.jpg"
    source.parent.mkdir()
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    Image.fromarray(textured(8, 8)).save(source, exif=exif.tobytes())
    _, _, report = run_batch(library, [source.parent], tmp_path / "out", OutputOptions(format=extension))
    (target,) = report.written
    assert made_by(target) == "smooth-x2"
    with Image.open(target) as image:
        assert image.getexif()[0x010F] == "Canon"


def test_cancel_then_resume_finishes_the_rest(library, scans, tmp_path):
    out = tmp_path / "out"
    cancel = CancelToken()

    def cancel_after_first_file(event):
        if event.info.get("status") == "written":
            cancel.cancel()

    with pytest.raises(Cancelled):
        run_batch(library, [scans], out, recursive=True, cancel=cancel, progress=cancel_after_first_file)
    assert [p.name for p in out.rglob("*") if p.is_file()] == ["a_x2.png"]
    _, _, resumed = run_batch(library, [scans], out, recursive=True)
    assert [p.name for p in resumed.skipped] == ["a_x2.png"]
    assert len(resumed.written) == 2


KILLED_BATCH = """
import os, signal, sys
from pathlib import Path
from sr_studio.core.batch import OutputOptions, batch_job, plan_batch
from sr_studio.core.library import ModelLibrary
library = ModelLibrary(builtin_dir=Path(sys.argv[1]), user_dir=Path(sys.argv[2]))
jobs, _ = plan_batch([Path(sys.argv[3])], Path(sys.argv[4]), OutputOptions(), scale=2, model="smooth-x2")
for event in batch_job(jobs, library.load("smooth-x2"), OutputOptions(), device="cpu"):
    if event.info.get("status") == "written":
        os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_batch_resumes(library, scans, tmp_path):
    out = tmp_path / "out"
    args = [str(tmp_path / "builtin"), str(library.user_dir), str(scans), str(out)]
    killed = subprocess.run([sys.executable, "-c", KILLED_BATCH, *args], capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["a_x2.png"]
    _, _, resumed = run_batch(library, [scans], out)
    assert [p.name for p in resumed.skipped] == ["a_x2.png"]
    assert [p.name for p in resumed.written] == ["b_x2.jpg"]
    assert not list(out.glob(".*"))  # no temp files left behind


def test_outputs_inside_the_input_folder_are_not_taken_as_inputs(library, scans):
    out = scans / "upscaled"
    run_batch(library, [scans], out)
    jobs, _, report = run_batch(library, [scans], out)
    assert all("upscaled" not in item.source.parts for item, _ in jobs)
    assert not report.written


def test_files_and_default_destinations(library, scans, tmp_path):
    jobs, missing = plan_batch([scans / "a.png"], None, OutputOptions(), scale=2, model="m")
    assert jobs[0][1] == scans / "a_x2.png"
    jobs, _ = plan_batch([scans / "a.png"], tmp_path / "one.webp", OutputOptions(), scale=2, model="m")
    assert jobs[0][1] == tmp_path / "one.webp"
    jobs, _ = plan_batch(
        [scans], None, OutputOptions(format="tif", pattern="{model}-{stem}"), scale=2, model="m"
    )
    assert sorted(t.relative_to(tmp_path).as_posix() for _, t in jobs) == [
        "scans_x2/m-a.tif",
        "scans_x2/m-b.tif",
        "scans_x2/m-broken.tif",
    ]
    _, missing = plan_batch([tmp_path / "nope.png"], None, OutputOptions(), scale=2, model="m")
    assert missing == [(tmp_path / "nope.png", "no such file or folder")]


def test_clashing_output_names_are_reported(tmp_path):
    folder = tmp_path / "clash"
    folder.mkdir()
    for name in ("a.png", "a.jpg"):
        Image.fromarray(textured(4, 4)).save(folder / name)
    jobs, failures = plan_batch([folder], tmp_path / "out", OutputOptions(format="png"), scale=2, model="m")
    assert len(jobs) == 1
    assert "clash" in failures[0][1]


@pytest.mark.parametrize("pattern", ["{stem}_{size}", "{stem", "sub/{stem}", ""])
def test_bad_patterns_are_usage_errors(pattern):
    with pytest.raises(UsageError):
        validate_pattern(pattern)


def test_a_request_is_planned_loaded_and_run_with_planning_failures_first(library, scans, tmp_path):
    missing = tmp_path / "nope.png"
    request = BatchRequest((scans, missing), None, DEFAULTS, library.find("smooth-x2"), device="cpu")
    events = []
    report = run_job(batch_request_job(request, library), events.append)
    assert sorted(p.name for p in report.written) == ["a_x2.png", "b_x2.jpg"]
    assert {p.parent for p in report.written} == {tmp_path / "scans_x2"}
    assert [source.name for source, _ in report.failed] == ["nope.png", "broken.png"]
    assert report.failed[0][1] == "no such file or folder"
    assert (events[-1].done, events[-1].total) == (3, 3)


def test_a_request_passes_its_policy_to_every_file(library, scans, tmp_path):
    request = BatchRequest((scans,), tmp_path / "out", DEFAULTS, library.find("smooth-x2"), max_pixels=50)
    report = run_job(batch_request_job(request, library))
    assert not report.written
    assert all("limit" in problem for source, problem in report.failed if source.name != "broken.png")


def test_a_request_without_images_fails_before_loading_the_model(library, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(library, "load", lambda entry: pytest.fail("a model was loaded for nothing"))
    request = BatchRequest((empty,), None, DEFAULTS, library.find("smooth-x2"))
    with pytest.raises(SRStudioError, match="no images found"):
        run_job(batch_request_job(request, library))


def test_the_output_folder_follows_the_planning_rule(library, scans, tmp_path):
    entry = library.find("smooth-x2")
    folder = BatchRequest((scans,), None, DEFAULTS, entry)
    assert folder.output_folder() == default_output_dir(scans, 2) == tmp_path / "scans_x2"
    jobs, _ = plan_batch([scans], None, DEFAULTS, scale=2, model=entry.name)
    assert {target.parent for _, target in jobs} == {folder.output_folder()}
    files = BatchRequest((scans / "a.png", scans / "nested" / "c.png"), None, DEFAULTS, entry)
    assert files.output_folder() == scans
    chosen = BatchRequest((scans,), tmp_path / "out", DEFAULTS, entry)
    assert chosen.output_folder() == tmp_path / "out"


def test_a_batch_prepares_the_network_once_not_once_per_file(library, scans, tmp_path, monkeypatch):
    """Moving and casting a copy of the network costs more than a small picture's upscale (issue 17)."""
    from sr_studio.core import engine

    calls = []
    prepare = engine.prepare_network
    monkeypatch.setattr(engine, "prepare_network", lambda *args: calls.append(args) or prepare(*args))
    jobs, _ = plan_batch([scans], tmp_path / "out", DEFAULTS, scale=2, model="smooth-x2")
    report = run_job(batch_job(jobs, library.load("smooth-x2"), DEFAULTS, device="cpu", backend="torch"))
    assert len(report.written) >= 2
    assert len(calls) == 1
