"""`sr-studio --self-test` passes on this install, fails loudly on a broken one, and its reference is the
current upscaler's; the desktop entry points at this install and names only formats we read."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr_studio import desktop_entry, selftest
from sr_studio.core import paths
from sr_studio.core.formats import readable_formats
from sr_studio.core.library import ModelLibrary


def test_the_reference_was_made_with_the_shipped_weights() -> None:
    folder = selftest.selftest_files()
    made_with = json.loads((folder / selftest.REFERENCE_CARD).read_text(encoding="utf-8"))
    entry = ModelLibrary(user_dir=Path("/nonexistent")).find(made_with["model"])
    assert made_with["sha256"] == entry.card.sha256, "run packaging/make_selftest_reference.py"
    with Image.open(folder / selftest.SAMPLE) as sample, Image.open(folder / selftest.REFERENCE) as reference:
        assert reference.size == (sample.width * entry.card.scale, sample.height * entry.card.scale)


def test_self_test_passes_on_this_install(tmp_path: Path) -> None:
    environment = {**os.environ, "HOME": str(tmp_path)}  # whatever it writes, it must not be the user's
    environment.pop("QT_QPA_PLATFORM", None)  # it goes offscreen by itself
    done = subprocess.run(
        [sys.executable, "-m", "sr_studio", "--self-test"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split()[:2] for line in lines[:-1]] == [["ok", name] for name, _ in selftest.CHECKS]
    assert lines[-1].startswith("self-test: OK")
    assert not list(tmp_path.iterdir()), "the self-test wrote into the user's home"


def test_a_tampered_reference_fails_upscale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "selftest"
    shutil.copytree(selftest.selftest_files(), copy)
    with Image.open(copy / selftest.REFERENCE) as reference:
        pixels = np.asarray(reference).copy()
    pixels[::2] = 255 - pixels[::2]
    Image.fromarray(pixels).save(copy / selftest.REFERENCE)
    card = json.loads((copy / selftest.REFERENCE_CARD).read_text(encoding="utf-8"))
    card["sha256"] = ModelLibrary(user_dir=tmp_path / "none").find(card["model"]).card.sha256
    (copy / selftest.REFERENCE_CARD).write_text(json.dumps(card), encoding="utf-8")  # only the pixels lie
    monkeypatch.setattr(selftest, "selftest_files", lambda: copy)
    monkeypatch.setattr(selftest, "CHECKS", (("upscale", selftest.check_upscale),))
    out = io.StringIO()
    assert selftest.main(out) == 1
    first, verdict = out.getvalue().splitlines()
    assert first.startswith("FAIL  upscale srresnet-x4 differs from the reference")
    assert verdict.startswith("self-test: FAILED (upscale;")


def test_any_exception_is_one_failing_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_scratch: Path) -> str:
        raise KeyError("torch/lib/libtorch_cpu.so")

    monkeypatch.setattr(selftest, "CHECKS", (("broken", broken), ("models", selftest.check_models)))
    out = io.StringIO()
    assert selftest.main(out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("FAIL  broken  'torch/lib/libtorch_cpu.so'")
    assert lines[1].startswith("ok    models")
    assert len(lines) == 3


def test_the_desktop_entry_starts_this_install_and_lists_readable_types(tmp_path: Path) -> None:
    written = desktop_entry.install(tmp_path)
    entry = ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(tmp_path / "applications" / "sr-studio.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    command = section["Exec"].removesuffix(" %F")
    assert section["Icon"] == "sr-studio" and section["Type"] == "Application"
    assert Path(command.split()[0]).is_file()
    listed = {mime for mime in section["MimeType"].split(";") if mime}
    readable = {Image.MIME[name] for name in readable_formats() if name in Image.MIME}
    assert {"image/png", "image/jpeg", "image/webp", "image/tiff"} <= listed
    assert listed - readable <= {"image/x-dds", "image/heif", "image/heic"}
    assert "application/postscript" not in listed  # EPS is never opened
    packaged = ConfigParser(interpolation=None)
    packaged.optionxform = str
    packaged.read(paths.resources_dir() / "sr-studio.desktop", encoding="utf-8")
    assert set(packaged["Desktop Entry"]["MimeType"].strip(";").split(";")) <= listed
    icons = {path.parent.parent.name for path in written if path.suffix in (".png", ".svg")}
    assert {"16x16", "48x48", "256x256", "scalable"} <= icons
    with Image.open(tmp_path / "icons/hicolor/48x48/apps/sr-studio.png") as icon:
        assert icon.size == (48, 48)


def test_the_window_icon_comes_from_the_resources(qapp: object) -> None:
    from sr_studio.ui.app.launch import app_icon

    sizes = {size.width() for size in app_icon().availableSizes()}
    assert {16, 32, 256} <= sizes
    assert (paths.resources_dir() / "icons" / "sr-studio.svg").is_file()
