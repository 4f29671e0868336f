"""The typed settings: every option round-trips, reset restores defaults, the recent list keeps its rules,
and values read back from an INI file (strings, as a fresh process sees them) come back typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from sr_studio.ui.app.settings import RECENT_MAX, Option, Settings

CHANGED = {
    "window_geometry": b"\x01\xd9\xd0\xcb\x00geometry",
    "window_state": b"\x00\x00\x00\xffstate",
    "last_open_folder": "/pictures/in",
    "last_save_folder": "/pictures/out",
    "last_train_folder": "/pictures/train",
    "output_format": "webp",
    "output_quality": 77,
    "model": "smooth-x2",
    "scale_filter": 4,
    "device": "cuda:1",
    "upscale_tile": "128",
    "upscale_ensemble": True,
    "upscale_backend": "openvino",
    "large_job_mp": 400.0,
    "smooth_before": False,
    "view_mode": "side_by_side",
}


def public_options() -> dict[str, Option]:
    return {name: value for name, value in vars(Settings).items() if isinstance(value, Option)}


def test_every_option_round_trips_through_a_fresh_settings_object(tmp_path: Path):
    assert set(CHANGED) == {name for name in public_options() if not name.startswith("_")}
    settings = Settings.from_file(tmp_path / "s.ini")
    for name, value in CHANGED.items():
        assert getattr(settings, name) != value, f"{name}'s default must differ from the test value"
        setattr(settings, name, value)
    settings.sync()

    again = Settings.from_file(tmp_path / "s.ini")
    for name, value in CHANGED.items():
        assert getattr(again, name) == value, name
        assert type(getattr(again, name)) is type(value), name


def test_reset_restores_every_default(tmp_path: Path, photo: Path):
    settings = Settings.from_file(tmp_path / "s.ini")
    defaults = {name: getattr(settings, name) for name in CHANGED}
    for name, value in CHANGED.items():
        setattr(settings, name, value)
    settings.add_recent_file(photo)

    settings.reset()

    assert {name: getattr(settings, name) for name in CHANGED} == defaults
    assert settings.recent_files == []
    assert Settings.from_file(tmp_path / "s.ini").device == "auto"


def test_recent_files_most_recent_first_without_duplicates_or_missing_files(tmp_path: Path):
    files = []
    for index in range(RECENT_MAX + 3):
        path = tmp_path / f"picture{index}.png"
        path.write_bytes(b"x")
        files.append(path)
    settings = Settings.from_file(tmp_path / "s.ini")
    for path in files:
        settings.add_recent_file(path)
    settings.add_recent_file(files[-3])  # opened again: moves to the front, once

    recent = settings.recent_files
    assert recent[0] == str(files[-3])
    assert len(recent) == RECENT_MAX
    assert len(set(recent)) == RECENT_MAX
    assert recent[1:3] == [str(files[-1]), str(files[-2])]

    files[-1].unlink()
    assert str(files[-1]) not in Settings.from_file(tmp_path / "s.ini").recent_files
    settings.clear_recent_files()
    assert settings.recent_files == []


def test_values_stored_as_text_come_back_typed(tmp_path: Path, photo: Path):
    # What QSettings hands back from an INI file in a new process: every value is a string, a one-item list
    # a plain string and an empty list nothing at all.
    ini = tmp_path / "hand-written.ini"
    ini.write_text(
        "[output]\nquality=80\nformat=jpg\n"
        "[upscale]\nscale_filter=2\ndevice=cpu\ntile=none\n"
        "[view]\nsmooth_before=false\nmode=side_by_side\n"
        f"[recent]\nfiles={photo}\n",
        encoding="utf-8",
    )
    settings = Settings.from_file(ini)
    assert settings.output_quality == 80
    assert settings.scale_filter == 2
    assert settings.smooth_before is False
    assert settings.view_mode == "side_by_side"
    assert settings.upscale_tile == "none"
    assert settings.recent_files == [str(photo)]


def test_unreadable_or_disallowed_stored_values_fall_back_to_defaults(tmp_path: Path):
    ini = tmp_path / "broken.ini"
    ini.write_text(
        "[output]\nquality=loud\nformat=bmp\n[upscale]\ntile=3\n[view]\nsmooth_before=maybe\nmode=sideways\n"
        "[recent]\nfiles=@Invalid()\n",
        encoding="utf-8",
    )
    settings = Settings.from_file(ini)
    assert settings.output_quality == 95
    assert settings.output_format == "png"
    assert settings.upscale_tile == "auto"
    assert settings.smooth_before is True
    assert settings.view_mode == "split"
    assert settings.recent_files == []


def test_writing_a_wrong_type_or_value_is_refused(tmp_path: Path):
    settings = Settings.from_file(tmp_path / "s.ini")
    with pytest.raises(TypeError):
        settings.output_quality = "90"  # type: ignore[assignment]
    with pytest.raises(TypeError):
        settings.output_quality = True  # type: ignore[assignment]
    with pytest.raises(ValueError):
        settings.output_quality = 101
    with pytest.raises(ValueError):
        settings.view_mode = "sideways"
    assert settings.output_quality == 95
