"""The command line: exit codes, one-line errors, JSON output, models and sample commands, lazy torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sr_studio.cli import EXIT_BROKEN_PIPE, main
from sr_studio.ui.app import launch
from tests.pictures import textured


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_and_import_do_not_load_torch():
    probe = (
        "import sys, contextlib, io\n"
        "import sr_studio\n"
        "from sr_studio.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "assert 'upscale' in out.getvalue()\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_upscale_one_file_to_a_file_with_json(library, photo, tmp_path, capsys):
    target = tmp_path / "result.png"
    code, out, _ = cli(
        capsys,
        "upscale",
        photo,
        "-o",
        target,
        "--model",
        "smooth-x2",
        "--device",
        "cpu",
        "--precision",
        "fp32",
        "--json",
    )
    assert code == 0
    summary = json.loads(out)
    assert summary["written"] == [str(target)]
    assert (summary["device"], summary["precision"], summary["model"]) == ("cpu", "fp32", "smooth-x2")
    assert Image.open(target).size == (68, 42)


def test_auto_precision_is_reported(library, photo, tmp_path, capsys):
    from sr_studio.core.engine import resolve_precision

    code, out, _ = cli(capsys, "upscale", photo, "-o", tmp_path / "r.png", "--model", "smooth-x2", "--json")
    assert code == 0
    assert json.loads(out)["precision"] == resolve_precision("auto", torch.device("cpu"))


def test_a_folder_with_a_corrupt_file_exits_1_and_names_it(library, tmp_path, capsys):
    folder = tmp_path / "scans"
    folder.mkdir()
    Image.fromarray(textured(8, 9)).save(folder / "good.png")
    (folder / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    code, _, err = cli(
        capsys, "upscale", folder, "-o", tmp_path / "out", "--model", "smooth-x2", "--device", "cpu"
    )
    assert code == 1
    error_lines = [line for line in err.splitlines() if "bad.jpg" in line]
    assert len(error_lines) == 1 and "Traceback" not in err
    assert (tmp_path / "out" / "good_x2.png").exists()
    assert "1 written" in err and "1 failed" in err


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"hello, I am text",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\xff\xff\x00\x00\xff\xff\x08\x02",
    ],
    ids=["empty", "text", "huge-header"],
)
def test_hostile_inputs_give_one_line_and_exit_1(library, tmp_path, capsys, content):
    hostile = tmp_path / "hostile.png"
    hostile.write_bytes(content)
    code, _, err = cli(capsys, "upscale", hostile, "--model", "smooth-x2", "--device", "cpu")
    assert code == 1
    lines = [line for line in err.splitlines() if "hostile.png" in line]
    assert len(lines) == 1 and "Traceback" not in err
    assert not (tmp_path / "hostile_x2.png").exists()


def test_existing_outputs_are_kept_unless_overwrite(library, photo, capsys):
    target = photo.with_name("photo_x2.png")
    target.write_bytes(b"keep me")
    code, _, err = cli(capsys, "upscale", photo, "--model", "smooth-x2", "--device", "cpu")
    assert code == 0 and target.read_bytes() == b"keep me" and "1 skipped" in err
    code, _, _ = cli(capsys, "upscale", photo, "--model", "smooth-x2", "--device", "cpu", "--overwrite")
    assert code == 0 and Image.open(target).size == (68, 42)


@pytest.mark.parametrize(
    "extra",
    [["--name", "{nope}"], ["--quality", "0"], ["--tile", "huge"], ["--format", "psd"], ["--scale", "3"]],
)
def test_usage_errors_exit_2(library, photo, capsys, extra):
    code, _, err = cli(capsys, "upscale", photo, "--model", "smooth-x2", *extra)
    assert code == 2 and err.count("\n") == 1


def test_argument_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["upscale", "x.png", "--precision", "fp8"])
    assert raised.value.code == 2


def test_a_folder_without_images_says_so(library, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = cli(capsys, "upscale", tmp_path / "empty", "--model", "smooth-x2")
    assert code == 1 and "no images found" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", [["upscale", "PHOTO"], ["sample", "-o", "OUT"]])
def test_an_unknown_model_is_a_usage_error_in_one_line(library, photo, tmp_path, capsys, command):
    arguments = [{"PHOTO": photo, "OUT": tmp_path / "out"}.get(a, a) for a in command]
    code, _, err = cli(capsys, *arguments, "--model", "no-such-model")
    assert code == 2
    assert err.count("\n") == 1 and "no-such-model" in err


def test_a_broken_model_is_a_model_problem_not_a_usage_error(library, photo, capsys):
    card = json.loads(library.find("tiny-x2").card_path.read_text())
    (library.user_dir / "broken-x2.json").write_text(json.dumps({**card, "name": "broken-x2"}))
    code, _, err = cli(capsys, "upscale", photo, "--model", "broken-x2")
    assert code == 1 and "weights file broken-x2.safetensors is missing" in err


@pytest.mark.parametrize(
    ("word", "hint"), [("upscal", "did you mean 'upscale'?"), ("frobnicate", "commands: upscale, models")]
)
def test_a_mistyped_command_is_a_usage_error_not_the_app(capsys, monkeypatch, word, hint):
    monkeypatch.setattr(launch, "run_gui", lambda paths: pytest.fail("the app was opened"))
    code, _, err = cli(capsys, word)
    assert code == 2 and err.count("\n") == 1
    assert f"{word!r} is neither a command nor an existing file" in err and hint in err


def test_an_existing_file_still_opens_the_app(photo, capsys, monkeypatch):
    opened = []
    monkeypatch.setattr(launch, "run_gui", lambda paths: opened.append(paths) or 0)
    assert cli(capsys, photo)[0] == 0
    assert opened == [[str(photo)]]


def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path):
    reader, writer = os.pipe()
    os.close(reader)  # as `| head -c 10` does once it has its bytes
    env = {**os.environ, "SR_STUDIO_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "sr_studio", "models", "list", "--json"]
    try:
        result = subprocess.run(
            command, stdout=writer, stderr=subprocess.PIPE, text=True, env=env, timeout=60
        )
    finally:
        os.close(writer)
    assert result.returncode == EXIT_BROKEN_PIPE == 141
    assert "BrokenPipeError" not in result.stderr and "Exception ignored" not in result.stderr


def test_models_list_show_import_remove(library, tmp_path, capsys):
    code, out, _ = cli(capsys, "models", "list")
    assert code == 0 and "tiny-x2" in out and "tiny-gan" in out
    code, out, _ = cli(capsys, "models", "list", "--json")
    listed = {m["name"]: m for m in json.loads(out)}
    assert listed["tiny-x2"]["scale"] == 2 and listed["tiny-gan"]["task"] == "sample"
    code, out, _ = cli(capsys, "models", "show", "tiny-x2")
    assert json.loads(out)["architecture"] == "srresnet"

    code, _, _ = cli(capsys, "models", "import", library.find("tiny-x2").weights_path, "--name", "copy-x2")
    assert code == 0 and library.find("copy-x2").card.arguments["blocks"] == 2
    code, _, err = cli(capsys, "models", "import", library.find("tiny-x2").weights_path, "--name", "copy-x2")
    assert code == 1 and "already exists" in err
    code, _, _ = cli(capsys, "models", "remove", "copy-x2")
    assert code == 0 and not library.find("tiny-x2").weights_path.with_name("copy-x2.safetensors").exists()


def test_sample_grid_and_interpolation(library, tmp_path, capsys):
    out = tmp_path / "samples"
    code, _, _ = cli(
        capsys,
        "sample",
        "--model",
        "tiny-gan",
        "-n",
        "4",
        "--seed",
        "7",
        "--grid",
        "-o",
        out,
        "--device",
        "cpu",
    )
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["seed7_000.png", "seed7_000_grid.png", "seed7_001.png", "seed7_002.png", "seed7_003.png"]
    assert Image.open(out / "seed7_001.png").size == (32, 32)
    code, _, _ = cli(
        capsys,
        "sample",
        "--model",
        "tiny-gan",
        "--interpolate",
        "1",
        "2",
        "--frames",
        "5",
        "-o",
        out,
        "--device",
        "cpu",
    )
    assert code == 0 and len(list(out.glob("interp_1_2_*.png"))) == 5


def test_an_internal_error_is_one_line_and_logged(library, photo, capsys, monkeypatch, data_dir):
    import sr_studio.core.batch as batch

    def explode(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(batch, "plan_batch", explode)
    code, _, err = cli(capsys, "upscale", photo, "--model", "smooth-x2")
    assert code == 1
    assert err.count("\n") == 1 and "internal error" in err and "Traceback" not in err
    log = (data_dir / "logs" / "sr-studio.log").read_text()
    assert "Traceback" in log and "a bug" in log


def test_sr_studio_entry_point_runs(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "sr_studio", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.startswith("sr-studio ")


def test_ensemble_flag_reaches_the_engine_and_the_json(library, photo, tmp_path, capsys):
    args = ["upscale", photo, "-o", tmp_path / "e.png", "--model", "tiny-x2", "--device", "cpu", "--json"]
    code, out, _ = cli(capsys, *args, "--ensemble")
    assert code == 0 and json.loads(out)["ensemble"] is True
    code, out, _ = cli(capsys, *[a if a != tmp_path / "e.png" else tmp_path / "p.png" for a in args])
    assert code == 0 and json.loads(out)["ensemble"] is False
    assert not np.array_equal(
        np.asarray(Image.open(tmp_path / "e.png")), np.asarray(Image.open(tmp_path / "p.png"))
    )


def test_a_huge_output_is_announced_with_size_time_and_memory_before_it_starts(library, tmp_path, capsys):
    from tests.corpus import png_bomb

    huge = tmp_path / "huge.png"
    huge.write_bytes(png_bomb(width=8000, height=7000))
    arguments = ["upscale", huge, "-o", tmp_path / "out.png", "--model", "smooth-x2", "--max-pixels", "10"]
    code, _, err = cli(capsys, *arguments)
    note = next(line for line in err.splitlines() if "note:" in line)
    assert "huge.png: output 16000×14000 (224 MP), about" in note and "of memory" in note
    assert code == 1  # then refused: 56 MP is over --max-pixels 10
