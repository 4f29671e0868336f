"""The result ledger: one JSON line per file's fate, in the output folder, only where outputs go to one."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sr_studio.core.batch import BatchRequest, OutputOptions, batch_request_job, ledger_folder
from sr_studio.core.jobs import run_job
from sr_studio.core.ledger import LEDGER_NAME, read_ledger
from sr_studio.core.shard import Shard
from tests.pictures import textured


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    """Two good pictures and one broken one."""
    folder = tmp_path / "pics"
    folder.mkdir()
    Image.fromarray(textured(9, 11, seed=1)).save(folder / "a.png")
    Image.fromarray(textured(7, 6, seed=2)).save(folder / "b.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return folder


def request(library, inputs, out, **fields) -> BatchRequest:
    return BatchRequest(
        inputs=tuple(inputs),
        output=out,
        options=OutputOptions(quality=90),
        model=library.find("smooth-x2"),
        device="cpu",
        precision="fp32",
        tile=16,
        **{"ledger": True, **fields},
    )


def test_every_fate_is_one_line_with_its_model_and_settings(library, pictures, tmp_path):
    out = tmp_path / "out"
    report = run_job(batch_request_job(request(library, [pictures], out), library))
    lines = read_ledger(out / LEDGER_NAME)
    fates = {Path(line["source"]).name: line for line in lines}
    assert len(lines) == 3 and {name: line["fate"] for name, line in fates.items()} == {
        "a.png": "written",
        "b.png": "written",
        "broken.png": "failed",
    }
    ((source, problem),) = report.failed
    assert fates["broken.png"]["reason"] == problem and source.name == "broken.png"
    written = fates["a.png"]
    assert written["output"] == str(out / "a_x2.png") and written["reason"] is None
    entry = library.find("smooth-x2")
    assert (written["model"], written["sha256"]) == ("smooth-x2", entry.card.sha256)
    settings = written["settings"]
    assert {key: settings[key] for key in ("device", "precision", "tile", "ensemble")} == {
        "device": "cpu",
        "precision": "fp32",
        "tile": report.settings["tile"],
        "ensemble": False,
    }
    assert settings["backend"] == report.settings["backend"]
    assert settings["output"]["quality"] == 90 and settings["output"]["pattern"] == "{stem}_x{scale}"
    assert all(line["time"].endswith("+00:00") for line in lines)


def test_a_rerun_appends_its_own_fates(library, pictures, tmp_path):
    out = tmp_path / "out"
    run_job(batch_request_job(request(library, [pictures], out), library))
    run_job(batch_request_job(request(library, [pictures], out), library))
    fates = [(Path(line["source"]).name, line["fate"]) for line in read_ledger(out / LEDGER_NAME)]
    assert sorted(fates[3:]) == [("a.png", "skipped"), ("b.png", "skipped"), ("broken.png", "failed")]


def test_a_killed_writers_torn_line_is_kept_apart_and_passed_over(library, pictures, tmp_path):
    out = tmp_path / "out"
    run_job(batch_request_job(request(library, [pictures], out), library))
    ledger = out / LEDGER_NAME
    whole = ledger.read_text(encoding="utf-8")
    ledger.write_text(whole + whole.splitlines()[0][:40], encoding="utf-8")  # killed mid-line
    run_job(batch_request_job(request(library, [pictures], out), library))
    lines = ledger.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 7 and lines[3] == whole.splitlines()[0][:40]
    assert [line["fate"] for line in read_ledger(ledger)].count("skipped") == 2  # the re-run's, all read


def test_a_ledger_in_a_scanned_folder_is_no_input(library, pictures, tmp_path):
    out = tmp_path / "out"
    run_job(batch_request_job(request(library, [pictures], out), library))
    assert (out / LEDGER_NAME).is_file()
    again = run_job(batch_request_job(request(library, [out], tmp_path / "again"), library))
    assert sorted(p.name for p in again.written) == ["a_x2_x2.png", "b_x2_x2.png"] and not again.failed


def test_planning_failures_are_in_the_ledger_too(library, pictures, tmp_path):
    out = tmp_path / "out"
    run_job(batch_request_job(request(library, [pictures, tmp_path / "nowhere.png"], out), library))
    (line,) = [line for line in read_ledger(out / LEDGER_NAME) if line["output"] is None]
    assert line["fate"] == "failed" and line["reason"] == "no such file or folder"


def test_where_the_ledger_goes(library, pictures, tmp_path):
    photo = pictures / "a.png"
    assert ledger_folder(request(library, [pictures], None)) == tmp_path / "pics_x2"
    assert ledger_folder(request(library, [pictures], tmp_path / "o")) == tmp_path / "o"
    assert ledger_folder(request(library, [photo], tmp_path / "big.png")) is None  # file to file
    assert ledger_folder(request(library, [photo], None)) is None  # beside the input
    assert ledger_folder(request(library, [photo], None, shard=Shard(1, 2))) == pictures
    assert ledger_folder(request(library, [photo], tmp_path / "big.png", cluster="local:1")) == tmp_path
    assert ledger_folder(request(library, [pictures], tmp_path / "o", ledger=False)) is None


def test_no_ledger_for_a_file_upscaled_beside_itself(library, pictures, tmp_path):
    run_job(batch_request_job(request(library, [pictures / "a.png"], None), library))
    assert (pictures / "a_x2.png").exists()
    assert not list(tmp_path.rglob("*.jsonl"))


def test_the_cli_keeps_a_ledger_for_a_folder_batch(library, pictures, tmp_path, capsys):
    from sr_studio.cli import main

    out = tmp_path / "out"
    code = main(["upscale", str(pictures), "-o", str(out), "--model", "smooth-x2", "--device", "cpu"])
    assert code == 1  # the broken file
    assert [line["fate"] for line in read_ledger(out / LEDGER_NAME)].count("written") == 2
    assert "broken.png" in capsys.readouterr().err
