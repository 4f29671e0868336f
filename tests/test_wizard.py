"""The fine-tuning wizard drives real training child processes: a fine-tune that is stopped, resumed and
saved to the library, a GAN, a bad folder, a failed resume, the timing probe; and the JSON-lines
plumbing and the stop channel on their own.

Each child imports torch (seconds on this CPU), so the flows share children where they can: one upscaler
run is stopped twice (as the main window's close check does, then with Cancel) and resumed twice (from
page 1 of a new wizard, then with Resume) before it is saved.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from sr_studio.core.estimate import duration
from sr_studio.ui.jobs import workers
from sr_studio.ui.wizard.plan import (
    DATA,
    FINISH,
    PRESETS,
    SETTINGS,
    TRAIN,
    UPSCALE,
    Plan,
    write_recipe,
)
from sr_studio.ui.wizard.training_process import LineSplitter, TrainingProcess, parse_line, unfinished_runs
from sr_studio.ui.wizard.wizard import FineTuneWizard
from tests.pictures import textured

TIMEOUT_MS = 60_000  # a child imports torch first: seconds on this CPU, more under load
NEXT = QWizard.WizardButton.NextButton
BACK = QWizard.WizardButton.BackButton
COMMIT = QWizard.WizardButton.CommitButton
FINISH_BUTTON = QWizard.WizardButton.FinishButton


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    """Six small textured pictures, 64–96 pixels a side."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    for index in range(6):
        pixels = textured(64 + 6 * index, 96 - 5 * index, seed=index)
        Image.fromarray(pixels).save(folder / f"picture-{index}.png")
    return folder


@pytest.fixture
def make_wizard(qtbot, library, tmp_path, monkeypatch):
    # One BLAS/OpenMP thread in each child: with two cores shared with the test process, numpy's
    # threads spin against torch's and a GAN evaluation's eigendecompositions take seconds instead of ms.
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    def make() -> FineTuneWizard:
        wizard = FineTuneWizard(library, run_root=tmp_path / "runs", pool=workers.SynchronousPool())
        qtbot.addWidget(wizard)
        wizard.show()
        qtbot.waitExposed(wizard)
        return wizard

    return make


def click(qtbot, wizard: FineTuneWizard, which: QWizard.WizardButton) -> None:
    button = wizard.button(which)
    assert button.isEnabled(), f"{button.text()} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def to_settings(qtbot, wizard: FineTuneWizard, folder: Path, *, gan: bool = False) -> None:
    if gan:
        wizard.what_page.gan_radio.setChecked(True)
    click(qtbot, wizard, NEXT)
    assert wizard.currentId() == DATA
    wizard.data_page.set_folder(folder)  # the scan runs at once on the synchronous pool
    click(qtbot, wizard, NEXT)
    assert wizard.currentId() == SETTINGS


def short_run(
    wizard: FineTuneWizard, *, steps: int, eval_every: int, batch: int = 4, patch: int = 32
) -> None:
    page = wizard.settings_page
    page.steps_spin.setValue(steps)
    page.eval_spin.setValue(eval_every)
    page.batch_spin.setValue(batch)
    page.patch_spin.setValue(patch)
    page.threads_spin.setValue(1)


def start_training(qtbot, wizard: FineTuneWizard) -> None:
    click(qtbot, wizard, NEXT)  # "Start training"
    assert wizard.currentId() == TRAIN
    assert wizard.running


def wait_done(qtbot, wizard: FineTuneWizard) -> dict:
    page = wizard.train_page
    qtbot.waitUntil(lambda: not wizard.running, timeout=TIMEOUT_MS)
    assert page.error_label.isHidden(), page.error_label.text()
    assert page.isComplete()
    return page.done_event


def is_step(event: dict) -> bool:
    return event["event"] == "step"


STEPS = 150  # long enough that a stop lands before the end; each step takes milliseconds


def test_fine_tune_measure_stop_resume_and_save_to_the_library(
    qtbot, make_wizard, library, pictures, tmp_path
):
    wizard = make_wizard()
    to_settings(qtbot, wizard, pictures)
    settings = wizard.settings_page
    assert settings.probe.running  # measuring starts when the page shows
    assert settings.patch_spin.value() == 64  # the largest patch every picture holds
    settings.base_combo.setCurrentIndex(settings.base_combo.findData("tiny-x2"))
    short_run(wizard, steps=STEPS, eval_every=STEPS // 2)
    assert settings.estimate_label.text() == "The settings changed: measuring again…"

    qtbot.waitUntil(lambda: settings.measured, timeout=TIMEOUT_MS)  # measured again once settled
    estimate = settings.estimate_label.text()
    assert estimate.startswith("≈ ") and f"for {STEPS} steps" in estimate and "3 evaluations" in estimate
    assert "s/step, measured for tiny-x2, batch 4, patch 32" in estimate
    rate, quick = settings.seconds_per_step, PRESETS[UPSCALE][0]  # the preset at the rate just measured
    assert settings.preset_radios[0].text() == f"Quick — {quick.steps(rate)} steps, ≈ " + duration(
        quick.steps(rate) * rate
    )
    assert not any(radio.isChecked() for radio in settings.preset_radios)  # a custom count: no preset

    # The main window's close check: stop, and wait for the checkpoint.
    train = wizard.train_page
    with qtbot.waitSignal(train.process.event, timeout=TIMEOUT_MS, check_params_cb=is_step):
        start_training(qtbot, wizard)
    assert not wizard.button(BACK).isEnabled()
    assert wizard.stop_job() and not wizard.running and train.stopped
    assert train.resume_button.isVisible() and wizard.button(BACK).isEnabled() and not train.isComplete()
    first_stop = train.progress_bar.value()
    assert 0 < first_stop < STEPS
    wizard.close()

    # A new wizard lists the unfinished run on page 1, shows its curves so far, and resumes it.
    (run,) = unfinished_runs(tmp_path / "runs")
    assert (run.steps, run.step) == (STEPS, first_stop)
    wizard = make_wizard()
    what = wizard.what_page
    assert what.runs_list.count() == 1 and what.resume_radio.isVisible()
    what.resume_radio.setChecked(True)
    assert what.selected_run() == run
    train = wizard.train_page
    with qtbot.waitSignal(train.process.event, timeout=TIMEOUT_MS, check_params_cb=is_step):
        click(qtbot, wizard, NEXT)
        assert wizard.currentId() == TRAIN and wizard.running
        assert train.loss_plot.points("loss") and train.progress_bar.value() == first_stop  # replayed

    # Cancel checkpoints again; Resume runs on to the same total number of steps.
    qtbot.mouseClick(train.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not wizard.running, timeout=TIMEOUT_MS)
    assert (
        train.stopped and train.resume_button.isVisible() and "Stopped at step" in train.status_label.text()
    )
    # The step the job checkpointed at, as it said it (the progress bar may not have shown that step yet).
    second_stop = int(re.search(r"Stopped at step (\d+)", train.status_label.text()).group(1))
    assert first_stop < second_stop < STEPS
    qtbot.mouseClick(train.resume_button, Qt.MouseButton.LeftButton)
    assert wizard.running and not train.resume_button.isVisible()
    done = wait_done(qtbot, wizard)
    assert done["step"] == STEPS and train.progress_bar.value() == train.progress_bar.maximum() == STEPS
    # Every step once: the replayed curve, then each resumed run's steps after its checkpoint.
    assert [x for x, _ in train.loss_plot.points("loss")] == list(range(1, STEPS + 1))
    assert [x for x, _ in train.quality_plot.points("fine-tuned")] == [STEPS // 2, STEPS]
    assert set(train.quality_plot.references()) == {"bicubic", "base model"}
    assert train.preview_path is not None and train.preview_path.endswith(f"step-{STEPS:07d}.png")
    assert not train.preview_label.pixmap().isNull()
    log = train.log_view.toPlainText()
    assert f"Resumed at step {second_stop}: 5 training and 1 validation images" in log
    assert "expect overfitting" in log
    assert unfinished_runs(tmp_path / "runs") == []

    click(qtbot, wizard, COMMIT)
    assert wizard.currentId() == FINISH
    finish = wizard.finish_page
    text = finish.metrics_label.text()
    assert all(word in text for word in ("Bicubic", "Base model", "Fine-tuned", "over the base model"))
    assert finish.name_edit.text() == "tiny-x2-pictures"
    finish.name_edit.setText("tiny-x2")
    assert not wizard.button(FINISH_BUTTON).isEnabled() and "already exists" in finish.name_error.text()
    finish.name_edit.setText("Not A Name")
    assert not wizard.button(FINISH_BUTTON).isEnabled() and "invalid model name" in finish.name_error.text()
    finish.name_edit.setText("my-tuned")
    with qtbot.waitSignal(wizard.modelReady, timeout=TIMEOUT_MS) as ready:
        click(qtbot, wizard, FINISH_BUTTON)
    assert ready.args == ["my-tuned"]
    assert "my-tuned" in {entry.name for entry in library.entries("upscale")}
    loaded = library.load("my-tuned")  # the weights match their card
    assert loaded.scale == 2 and loaded.card.metrics["after"]["psnr"] == pytest.approx(
        done["metrics"]["model"]["psnr"]
    )
    assert not wizard.isVisible()


def test_gan_run_shows_the_frechet_curve_and_sample_grid(qtbot, make_wizard, library, pictures):
    wizard = make_wizard()
    to_settings(qtbot, wizard, pictures, gan=True)
    settings = wizard.settings_page
    assert settings.patch_spin.isHidden() and settings.base_combo.isHidden()
    assert settings.lr_spin.value() == pytest.approx(2e-4)
    settings.size_combo.setCurrentIndex(settings.size_combo.findData(32))
    settings.width_spin.setValue(8)
    settings.latent_spin.setValue(16)
    short_run(wizard, steps=10, eval_every=5)
    start_training(qtbot, wizard)
    done = wait_done(qtbot, wizard)
    train = wizard.train_page
    assert done["step"] == 10 and "frechet" in done["metrics"]["model"]
    assert [x for x, _ in train.quality_plot.points("Fréchet")] == [5, 10]
    assert set(train.quality_plot.references()) == {"untrained", "real vs real"}
    assert train.loss_plot.points("generator") and train.loss_plot.points("discriminator")
    grid = train.preview_label.pixmap()
    assert not grid.isNull() and grid.width() == grid.height()  # the square 8×8 sample grid

    click(qtbot, wizard, COMMIT)
    text = wizard.finish_page.metrics_label.text()
    assert "Fréchet distance" in text and "untrained generator" in text
    assert wizard.finish_page.name_edit.text() == "gan-pictures"
    with qtbot.waitSignal(wizard.modelReady, timeout=TIMEOUT_MS):
        click(qtbot, wizard, FINISH_BUTTON)
    card = library.find("gan-pictures").card
    assert card.task == "sample" and card.arguments == {"latent_dim": 16, "image_size": 32, "width": 8}


def test_a_folder_of_broken_files_keeps_next_disabled_and_says_why(qtbot, make_wizard, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "b.jpg").write_bytes(b"hello")
    wizard = make_wizard()
    click(qtbot, wizard, NEXT)
    data = wizard.data_page
    data.set_folder(folder)
    assert not wizard.button(NEXT).isEnabled()
    reasons = [data.skipped_list.item(i).text() for i in range(data.skipped_list.count())]
    assert len(reasons) == 2 and all("not a readable image" in reason for reason in reasons)
    assert "no usable images" in data.warnings_label.text() and data.skipped_list.isVisible()
    data.set_folder(tmp_path / "missing")
    assert not wizard.button(NEXT).isEnabled() and "no such folder" in data.warnings_label.text()


def test_a_resume_that_fails_shows_the_job_error_inline(qtbot, make_wizard, pictures, tmp_path):
    run_dir = tmp_path / "runs" / "broken-run"
    run_dir.mkdir(parents=True)
    plan = Plan("upscale", pictures, 0.2, steps=30, batch=4, lr=1e-4, eval_every=10, patch=32, base="tiny-x2")
    write_recipe(plan, "broken", run_dir / "config.toml", run_dir / "model")
    torch.save({"format": 1}, run_dir / "checkpoint.pt")  # loads, but holds no training state
    (run_dir / "events.jsonl").write_text(json.dumps({"event": "checkpoint", "step": 10}) + "\n")
    wizard = make_wizard()
    what = wizard.what_page
    assert what.runs_list.item(0).text().startswith("broken (upscaler) — step 10 of 30")
    what.resume_radio.setChecked(True)
    click(qtbot, wizard, NEXT)
    train = wizard.train_page
    qtbot.waitUntil(lambda: not wizard.running, timeout=TIMEOUT_MS)
    assert train.error_label.isVisible() and "cannot resume from the checkpoint" in train.error_label.text()
    assert not train.isComplete() and not wizard.button(COMMIT).isEnabled()


def test_lines_are_split_across_chunks_and_non_events_are_kept_apart():
    splitter = LineSplitter()
    assert splitter.feed(b'{"event": "st') == []
    assert splitter.feed(b'ep", "step": 3}\nWarn') == ['{"event": "step", "step": 3}']
    assert splitter.feed(b"ing: \xc3\xa9\r\n") == ["Warning: é"]
    assert splitter.feed(b'{"event": "done"}') == []
    assert splitter.flush() == ['{"event": "done"}'] and splitter.flush() == []
    assert parse_line('{"event": "step", "step": 3}') == {"event": "step", "step": 3}
    for line in ("Warning: é", "{not json", '{"no": "event"}', "[1, 2]", ""):
        assert parse_line(line) is None


def test_the_command_runs_the_module_or_the_frozen_app(monkeypatch):
    assert TrainingProcess.command(["x.toml"]) == (sys.executable, ["-m", "sr_studio.train", "x.toml"])
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert TrainingProcess.command(["--resume", "run"]) == (sys.executable, ["train", "--resume", "run"])


CHUNKED_CHILD = """
import sys, time
sys.stdout.write('{"event": "st'); sys.stdout.flush(); time.sleep(0.2)  # a line split across two reads
sys.stdout.write('ep", "step": 1}\\nnot json\\n{"event": "step", "step": 2}\\n'); sys.stdout.flush()
sys.stderr.write("a warning\\n"); sys.stderr.flush()
sys.stdout.write(sys.argv[1])  # the last line has no newline
sys.exit(int(sys.argv[2]))
"""


class Recorder:
    """Collects what a TrainingProcess reports."""

    def __init__(self, process: TrainingProcess) -> None:
        self.events, self.messages, self.failures, self.codes = [], [], [], []
        process.event.connect(self.events.append)
        process.message.connect(self.messages.append)
        process.failed.connect(self.failures.append)
        process.finished.connect(self.codes.append)


@pytest.mark.parametrize(
    ("last_line", "exit_code", "failure"),
    [
        ('{"event": "done", "step": 2}', 0, None),
        ('{"event": "probe", "seconds_per_step": 0.5}', 0, None),  # how `--probe` ends: a normal end
        ("Traceback: boom", 3, "(exit code 3): a warning"),
    ],
)
def test_a_child_process_s_chunks_become_events_and_messages(
    qtbot, monkeypatch, last_line, exit_code, failure
):
    child = (sys.executable, ["-c", CHUNKED_CHILD, last_line, str(exit_code)])
    monkeypatch.setattr(TrainingProcess, "command", staticmethod(lambda args: child))
    process = TrainingProcess()
    seen = Recorder(process)
    with qtbot.waitSignal(process.finished, timeout=TIMEOUT_MS):
        process.start([])
        assert process.running
    assert not process.running and seen.codes == [exit_code]
    steps = [event["step"] for event in seen.events if event["event"] == "step"]
    assert steps == [1, 2]
    assert "not json" in seen.messages and "a warning" in seen.messages
    if failure is None:
        assert seen.events[-1]["event"] in ("done", "probe") and seen.failures == []
    else:
        assert "Traceback: boom" in seen.messages
        assert len(seen.failures) == 1 and failure in seen.failures[0]


STOP_FILE_CHILD = """
import pathlib, sys, time
stop = pathlib.Path(sys.argv[1]) / "stop"
print('{"event": "start"}', flush=True)
deadline = time.monotonic() + 60
while not stop.exists() and time.monotonic() < deadline:  # how the job watches for the file
    time.sleep(0.01)
print('{"event": "stopped"}' if stop.exists() else '{"event": "error"}', flush=True)
sys.exit(130)
"""


def test_on_windows_stop_leaves_a_stop_file_in_the_run_folder(qtbot, monkeypatch, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "stop").touch()  # left by an earlier stop of the same run
    child = (sys.executable, ["-c", STOP_FILE_CHILD, str(run_dir)])
    monkeypatch.setattr(TrainingProcess, "command", staticmethod(lambda args: child))
    monkeypatch.setattr(sys, "platform", "win32")
    process = TrainingProcess()
    seen = Recorder(process)
    with qtbot.waitSignal(process.event, timeout=TIMEOUT_MS):
        process.start(["--resume", str(run_dir)], run_dir=run_dir)
    assert process.running and not (run_dir / "stop").exists()  # the old file would stop it at once
    with qtbot.waitSignal(process.finished, timeout=TIMEOUT_MS):
        process.stop()  # SIGTERM would end this child without a `stopped` event
    assert [event["event"] for event in seen.events] == ["start", "stopped"]
    assert seen.codes == [130] and seen.failures == [] and process.stop_requested
