"""What the wizard chooses and asks, against a stand-in job: the probe's estimate, presets sized by the
measured rate, the default base model, the question on closing mid-run, and the remembered data folder.

The stand-in is a small Python child in place of `sr_studio.train` (no torch: it starts in a blink). Its
probe reads the recipe it was given and reports a rate that grows with batch × patch², echoing what it
measured; its training run reports steps until SIGTERM, then `stopped` and exit 130, as the job does.
Real training children are covered by tests/test_wizard.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWizard

from sr_studio.core.estimate import duration
from sr_studio.ui.app.settings import Settings
from sr_studio.ui.jobs import workers
from sr_studio.ui.wizard.plan import DATA, PRESETS, SETTINGS, TRAIN, UPSCALE
from sr_studio.ui.wizard.training_process import TrainingProcess
from sr_studio.ui.wizard.wizard import KEEP, STAY, STOP, FineTuneWizard
from tests.pictures import textured

TIMEOUT_MS = 30_000
NEXT = QWizard.WizardButton.NextButton

STAND_IN_JOB = r"""
import json, pathlib, signal, sys, time, tomllib

def say(**event):
    print(json.dumps(event), flush=True)

args = sys.argv[1:]
if "--probe" in args:
    recipe = tomllib.loads(pathlib.Path(args[0]).read_text(encoding="utf-8"))
    batch, patch = recipe["train"]["batch"], recipe["data"]["patch"]
    say(event="probe", seconds_per_step=batch * patch**2 / 100_000, task=recipe["task"],
        base=recipe["model"].get("base"), batch=batch, patch=patch)
    sys.exit(0)
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
say(event="start", steps=100_000, step=0)
step, deadline = 0, time.monotonic() + 60
while not stopping and time.monotonic() < deadline:
    step += 1
    say(event="step", step=step, of=100_000, loss=0.1)
    time.sleep(0.02)
say(event="stopped", step=step)
sys.exit(130)
"""


def stand_in_rate(batch: int, patch: int) -> float:
    return batch * patch**2 / 100_000


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    folder = tmp_path / "pictures"
    folder.mkdir()
    for index in range(4):
        Image.fromarray(textured(64 + 8 * index, 80, seed=index)).save(folder / f"picture-{index}.png")
    return folder


@pytest.fixture
def make_wizard(qtbot, library, tmp_path, monkeypatch) -> Callable[..., FineTuneWizard]:
    monkeypatch.setattr(
        TrainingProcess, "command", staticmethod(lambda args: (sys.executable, ["-c", STAND_IN_JOB, *args]))
    )

    def make(settings: Settings | None = None) -> FineTuneWizard:
        wizard = FineTuneWizard(
            library, run_root=tmp_path / "runs", pool=workers.SynchronousPool(), settings=settings
        )
        qtbot.addWidget(wizard, before_close_func=end_jobs)
        wizard.show()
        qtbot.waitExposed(wizard)
        return wizard

    return make


def end_jobs(wizard: FineTuneWizard) -> None:
    """A job a test left running (kept in the background) ends before the wizard is closed, unasked."""
    for process in (wizard.train_page.process, wizard.settings_page.probe):
        process.kill()
        process.wait(10_000)


def click(qtbot, wizard: FineTuneWizard, which: QWizard.WizardButton) -> None:
    button = wizard.button(which)
    assert button.isEnabled(), f"{button.text()} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def to_settings(qtbot, wizard: FineTuneWizard, folder: Path) -> dict:
    """Go to the settings page and wait for the probe it starts; its event."""
    click(qtbot, wizard, NEXT)
    wizard.data_page.set_folder(folder)
    with qtbot.waitSignal(wizard.settings_page.probe.event, timeout=TIMEOUT_MS) as measured:
        click(qtbot, wizard, NEXT)
        assert wizard.currentId() == SETTINGS
    qtbot.waitUntil(lambda: not wizard.settings_page.probe.running, timeout=TIMEOUT_MS)
    return measured.args[0]


def start_training(qtbot, wizard: FineTuneWizard) -> None:
    train = wizard.train_page
    with qtbot.waitSignal(train.process.event, timeout=TIMEOUT_MS, check_params_cb=is_step):
        click(qtbot, wizard, NEXT)
    assert wizard.currentId() == TRAIN and wizard.running


def is_step(event: dict) -> bool:
    return event["event"] == "step"


def test_the_probe_ends_normally_and_shows_the_estimate_for_the_user_s_settings(qtbot, make_wizard, pictures):
    wizard = make_wizard()
    settings = wizard.settings_page
    failures: list[str] = []
    settings.probe.failed.connect(failures.append)
    codes: list[int] = []
    settings.probe.finished.connect(codes.append)
    to_settings(qtbot, wizard, pictures)
    assert codes == [0] and failures == []
    plan = settings.plan()
    rate = stand_in_rate(plan.batch, plan.patch)
    text = settings.estimate_label.text()
    assert text.startswith(f"≈ {duration(plan.steps * rate)} for {plan.steps} steps"), text
    assert f"{rate:.3g} s/step, measured for {plan.base}, batch {plan.batch}, patch {plan.patch}" in text


def test_presets_are_sized_by_the_rate_measured_for_what_they_run(qtbot, make_wizard, pictures):
    wizard = make_wizard()
    settings = wizard.settings_page
    measured = to_settings(qtbot, wizard, pictures)
    plan = settings.plan()
    assert (measured["task"], measured["base"], measured["batch"], measured["patch"]) == (
        plan.task,
        plan.base,
        plan.batch,
        plan.patch,
    )
    quick, standard, _ = PRESETS[UPSCALE]
    rate = stand_in_rate(plan.batch, plan.patch)
    steps = quick.steps(rate)
    assert steps > quick.floor and steps % 10 == 0
    assert settings.preset_radios[0].isChecked() and settings.steps_spin.value() == steps
    assert settings.preset_radios[0].text() == f"Quick — {steps} steps, ≈ 5 min"

    # A smaller batch: once measured again, the chosen preset's steps follow the new rate.
    with qtbot.waitSignal(settings.probe.finished, timeout=TIMEOUT_MS):
        settings.batch_spin.setValue(4)
        assert settings.preset_radios[0].text() == "Quick — about 5 min"  # no time from the old rate
    rate = stand_in_rate(4, plan.patch)
    steps = quick.steps(rate)
    assert settings.measured and settings.preset_radios[0].isChecked()
    assert settings.steps_spin.value() == steps
    assert settings.preset_radios[0].text() == f"Quick — {steps} steps, ≈ {duration(steps * rate)}"

    # Choosing another preset gives its own label's steps, at the same rate.
    settings.preset_radios[1].click()
    steps = standard.steps(rate)
    assert settings.steps_spin.value() == steps
    assert settings.preset_radios[1].text() == f"Standard — {steps} steps, ≈ {duration(steps * rate)}"
    settings.steps_spin.setValue(123)  # a custom count: no preset, and the rate stays
    assert not any(radio.isChecked() for radio in settings.preset_radios)
    assert settings.estimate_label.text().startswith(f"≈ {duration(123 * rate)} for 123 steps")


def test_the_base_model_defaults_to_the_library_s_default_upscaler(qtbot, make_wizard, library, pictures):
    for name in ("srgan-x4", "srresnet-x4"):  # after smooth-x2 alphabetically; srresnet-x4 is the default
        library.install(library.find("tiny-x2").card_path, name=name)
    wizard = make_wizard()
    measured = to_settings(qtbot, wizard, pictures)
    assert wizard.settings_page.base_combo.currentData() == "srresnet-x4" == measured["base"]


@pytest.mark.parametrize("choice", [STAY, KEEP, STOP])
def test_closing_while_training_asks_first_and_does_what_was_chosen(qtbot, make_wizard, pictures, choice):
    wizard = make_wizard()
    to_settings(qtbot, wizard, pictures)
    start_training(qtbot, wizard)
    train = wizard.train_page
    asked: list[bool] = []
    wizard.ask_close = lambda: asked.append(True) or choice  # type: ignore[method-assign]
    closed = wizard.close()
    assert asked == [True]
    if choice == STAY:
        assert not closed and wizard.isVisible() and wizard.running and not train.process.stop_requested
    elif choice == KEEP:
        assert closed and not wizard.isVisible() and wizard.running
        with qtbot.waitSignal(train.process.event, timeout=TIMEOUT_MS, check_params_cb=is_step):
            pass  # it goes on
        wizard.show()  # shown again, the wizard is still on the running job's page
        assert wizard.currentId() == TRAIN and train.progress_bar.value() > 0
    else:
        assert closed and not wizard.isVisible() and not wizard.running and train.stopped


@pytest.mark.parametrize(("button", "choice"), [("Keep", KEEP), ("Stop", STOP), ("Cancel", STAY)])
def test_the_close_question_names_the_run_folder_and_how_to_resume(
    qtbot, make_wizard, pictures, button, choice
):
    wizard = make_wizard()
    to_settings(qtbot, wizard, pictures)
    start_training(qtbot, wizard)
    shown: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, answer)  # not open yet
            return
        shown.append(f"{box.text()}\n{box.informativeText()}")
        (chosen,) = [b for b in box.buttons() if b.text().replace("&", "").startswith(button)]
        chosen.click()

    QTimer.singleShot(0, answer)
    assert wizard.ask_close() == choice
    run_dir = str(wizard.train_page.run_dir)
    assert run_dir in shown[0] and f"sr-studio train --resume {run_dir}" in shown[0] and "Resume" in shown[0]
    assert wizard.running  # asking changes nothing


def test_the_last_data_folder_is_remembered_across_sessions(qtbot, make_wizard, pictures, tmp_path):
    path = tmp_path / "settings.ini"
    settings = Settings.from_file(path)
    wizard = make_wizard(settings)
    to_settings(qtbot, wizard, pictures)
    assert wizard.close()
    settings.sync()

    wizard = make_wizard(Settings.from_file(path))
    click(qtbot, wizard, NEXT)
    assert wizard.currentId() == DATA
    assert wizard.data_page.folder == pictures and wizard.button(NEXT).isEnabled()  # scanned, too
