"""The batch dialog drives the core batch from a worker: summary, failures, resume, cancel, close, prefill."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from sr_studio.core.estimate import eta_text
from sr_studio.ui.batch.dialog import BatchDialog
from sr_studio.ui.jobs import workers
from tests.pictures import textured

SIZES = {"a.png": (12, 16), "b.png": (10, 10), "c.jpg": (9, 14)}
TIMEOUT_MS = 30_000


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    """Three small pictures and one corrupt file."""
    folder = tmp_path / "pics"
    folder.mkdir()
    for seed, (name, (height, width)) in enumerate(SIZES.items()):
        Image.fromarray(textured(height, width, seed=seed)).save(folder / name)
    (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\ngarbage, not a picture")
    return folder


class HeldPool:
    """A pool that holds a job until `release`, so a test can act while the job is certainly unfinished."""

    def __init__(self) -> None:
        self.held: list = []

    def start(self, runnable) -> None:
        self.held.append(runnable)

    def release(self) -> None:
        for runnable in self.held:
            runnable.run()


def make_dialog(qtbot, library, **kwargs) -> BatchDialog:
    kwargs.setdefault("devices", ["cpu"])
    kwargs.setdefault("device", "cpu")
    dialog = BatchDialog(library, **kwargs)
    qtbot.addWidget(dialog)
    return dialog


def run_to_end(qtbot, dialog: BatchDialog):
    """Start the batch on the real thread pool and wait until it has ended; return the report."""
    with qtbot.waitSignals([dialog.batchFinished, dialog.batchEnded], timeout=TIMEOUT_MS):
        dialog.start()
    return dialog.report


def output_sizes(folder: Path) -> dict[str, tuple[int, int]]:
    sizes = {}
    for path in sorted(folder.iterdir()):
        with Image.open(path) as image:
            sizes[path.name] = image.size
    return sizes


def test_a_folder_is_upscaled_and_the_corrupt_file_listed_with_its_reason(qtbot, library, pictures):
    dialog = make_dialog(qtbot, library, inputs=[pictures], model="smooth-x2")
    report = run_to_end(qtbot, dialog)

    assert dialog.summary_label.text() == "3 written, 0 skipped (already done), 1 failed"
    assert dialog.summary_box.isVisibleTo(dialog)
    assert dialog.failures_list.topLevelItemCount() == 1
    failure = dialog.failures_list.topLevelItem(0)
    assert failure.text(0) == "bad.png"
    assert failure.text(1) == "not a picture SR Studio can read (format not recognised)"
    assert [(source.name, problem) for source, problem in report.failed] == [("bad.png", failure.text(1))]

    out = pictures.parent / "pics_x2"
    assert output_sizes(out) == {
        f"{Path(name).stem}_x2{Path(name).suffix}": (width * 2, height * 2)
        for name, (height, width) in SIZES.items()
    }
    assert dialog.overall_bar.value() == dialog.overall_bar.maximum() == 4 * 100
    assert dialog.file_bar.value() == dialog.file_bar.maximum()
    assert dialog.eta_label.text().startswith("done in")
    assert dialog.settings_box.isEnabled()
    assert dialog.start_button.isEnabled()
    assert not dialog.cancel_button.isEnabled()


def test_a_rerun_skips_done_files_and_overwrite_replaces_them(qtbot, library, pictures):
    dialog = make_dialog(qtbot, library, inputs=[pictures], model="smooth-x2")
    run_to_end(qtbot, dialog)
    out = pictures.parent / "pics_x2"
    done = {path: path.stat().st_mtime_ns for path in out.iterdir()}

    again = run_to_end(qtbot, dialog)
    assert dialog.summary_label.text() == "0 written, 3 skipped (already done), 1 failed"
    assert sorted(path.name for path in again.skipped) == ["a_x2.png", "b_x2.png", "c_x2.jpg"]
    assert {path: path.stat().st_mtime_ns for path in out.iterdir()} == done

    Image.new("RGB", (1, 1)).save(out / "a_x2.png")  # a stale output that only overwrite replaces
    dialog.overwrite_check.setChecked(True)
    run_to_end(qtbot, dialog)
    assert dialog.summary_label.text() == "3 written, 0 skipped (already done), 1 failed"
    assert output_sizes(out)["a_x2.png"] == (32, 24)


def test_a_rerun_with_another_model_lists_the_outputs_it_did_not_make(qtbot, library, pictures):
    dialog = make_dialog(qtbot, library, inputs=[pictures], model="smooth-x2")
    run_to_end(qtbot, dialog)
    dialog.model_combo.setCurrentIndex(dialog.model_combo.findData("tiny-x2"))
    again = run_to_end(qtbot, dialog)
    assert dialog.summary_label.text() == "0 written, 0 skipped (already done), 4 failed"
    problems = {source.name: problem for source, problem in again.failed}
    assert problems["a.png"].startswith("a_x2.png was made by smooth-x2, not tiny-x2:")


def test_an_invalid_pattern_disables_start_with_an_inline_message(qtbot, library, pictures):
    dialog = make_dialog(qtbot, library, inputs=[pictures])
    assert dialog.start_button.isEnabled()
    assert not dialog.pattern_error.isVisibleTo(dialog)

    dialog.pattern_edit.setText("{stem}_{size}")
    assert not dialog.start_button.isEnabled()
    assert dialog.pattern_error.isVisibleTo(dialog)
    assert "size" in dialog.pattern_error.text()
    assert "\n" not in dialog.pattern_error.text()

    dialog.pattern_edit.setText("sub/{stem}")
    assert not dialog.start_button.isEnabled()
    assert "plain file name" in dialog.pattern_error.text()

    dialog.pattern_edit.setText("{stem}-{model}")
    assert dialog.start_button.isEnabled()
    assert not dialog.pattern_error.isVisibleTo(dialog)


def test_the_fields_make_the_request_pattern_format_and_quality(qtbot, library, pictures, tmp_path):
    dialog = make_dialog(qtbot, library, inputs=[pictures], model="smooth-x2")
    assert not dialog.quality_spin.isEnabled()  # "keep"
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("png"))
    assert not dialog.quality_spin.isEnabled()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("webp"))
    assert dialog.quality_spin.isEnabled()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("jpg"))
    dialog.quality_spin.setValue(70)
    dialog.pattern_edit.setText("{stem}-{model}")
    dialog.output_edit.setText(str(tmp_path / "chosen"))

    request = dialog.request()
    assert (request.options.format, request.options.quality, request.options.overwrite) == ("jpg", 70, False)
    assert request.device == "cpu" and request.ensemble is False
    dialog.ensemble_check.setChecked(True)
    assert dialog.request().ensemble is True
    run_to_end(qtbot, dialog)
    assert sorted(path.name for path in (tmp_path / "chosen").iterdir()) == [
        "a-smooth-x2.jpg",
        "b-smooth-x2.jpg",
        "c-smooth-x2.jpg",
    ]


def test_cancel_mid_run_leaves_complete_files_and_a_rerun_finishes(qtbot, library, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    count = 8
    for seed in range(count):
        Image.fromarray(textured(96, 96, seed=seed)).save(folder / f"p{seed}.png")
    dialog = make_dialog(qtbot, library, inputs=[folder], model="tiny-x2")

    def cancel_once_a_file_is_written(event):  # the first progress signal that reports a finished file
        if event.info.get("status") == "written":
            dialog.cancel()

    dialog.progressChanged.connect(cancel_once_a_file_is_written)

    with qtbot.waitSignal(dialog.batchEnded, timeout=TIMEOUT_MS):
        dialog.start()

    assert dialog.report is None
    summary = dialog.summary_label.text()
    assert summary.startswith("Cancelled after ")
    assert summary.endswith("— run again to finish the rest (done files are skipped)")
    finished = int(summary.removeprefix("Cancelled after ").split()[0])
    assert 1 <= finished < count
    out = tmp_path / "many_x2"
    outputs = output_sizes(out)  # hidden temp files would be listed (and fail to open) here too
    assert len(outputs) == finished
    assert set(outputs.values()) == {(192, 192)}
    assert dialog.start_button.isEnabled()

    dialog.progressChanged.disconnect(cancel_once_a_file_is_written)
    run_to_end(qtbot, dialog)
    resumed = f"{count - finished} written, {finished} skipped (already done), 0 failed"
    assert dialog.summary_label.text() == resumed
    assert len(output_sizes(out)) == count


def test_open_output_folder_opens_the_default_sibling_folder(qtbot, library, pictures, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    dialog = make_dialog(qtbot, library, inputs=[pictures])
    assert not dialog.open_output_button.isEnabled()
    run_to_end(qtbot, dialog)

    assert dialog.open_output_button.isEnabled()
    qtbot.mouseClick(dialog.open_output_button, Qt.MouseButton.LeftButton)
    assert [url.toLocalFile() for url in opened] == [str(pictures.parent / "pics_x2")]
    assert dialog.status_label.isHidden()

    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)  # no file manager here
    qtbot.mouseClick(dialog.open_output_button, Qt.MouseButton.LeftButton)
    assert not dialog.status_label.isHidden()
    assert dialog.status_label.text() == (
        f"No file manager could be started: the results are in {pictures.parent / 'pics_x2'}"
    )


def test_one_folder_prefills_the_folder_field_and_the_default_output(qtbot, library, pictures):
    dialog = make_dialog(qtbot, library, inputs=[pictures], model="tiny-x2")
    assert dialog.input_edit.text() == str(pictures)
    assert dialog.folder_row.isVisibleTo(dialog)
    assert not dialog.files_box.isVisibleTo(dialog)
    assert dialog.output_edit.text() == ""
    assert dialog.output_edit.placeholderText() == f"default: {pictures.parent / 'pics_x2'}"
    assert dialog.model_combo.currentData() == "tiny-x2"
    assert dialog.device_combo.currentData() == "cpu"


def test_dropped_files_are_listed_and_written_beside_themselves(qtbot, library, pictures, tmp_path):
    files = [pictures / "a.png", pictures / "b.png"]
    dialog = make_dialog(qtbot, library, inputs=files, model="smooth-x2")
    assert [dialog.file_list.item(row).text() for row in range(dialog.file_list.count())] == [
        str(path) for path in files
    ]
    assert dialog.files_box.isVisibleTo(dialog)
    assert not dialog.folder_row.isVisibleTo(dialog)
    assert dialog.output_edit.placeholderText() == "default: beside each file"

    report = run_to_end(qtbot, dialog)
    assert sorted(report.written) == [pictures / "a_x2.png", pictures / "b_x2.png"]
    assert dialog.summary_label.text() == "2 written, 0 skipped (already done), 0 failed"

    dialog.use_folder_button.click()
    assert dialog.file_list.count() == 0
    assert dialog.folder_row.isVisibleTo(dialog)
    assert not dialog.start_button.isEnabled()  # no folder chosen yet


def test_an_output_dir_and_a_model_are_prefilled(qtbot, library, pictures, tmp_path):
    dialog = make_dialog(qtbot, library, inputs=[pictures], output_dir=tmp_path / "out", model="tiny-x2")
    assert dialog.output_edit.text() == str(tmp_path / "out")
    labels = [dialog.model_combo.itemText(row) for row in range(dialog.model_combo.count())]
    assert labels == [
        "smooth-x2 ×2 — bilinear ×2 in MSRResNet's clothing",
        "tiny-x2 ×2 — a tiny random ×2 test model",
    ]  # the sampler is not offered; labels as in the Upscale tab's model box
    assert "bilinear" in dialog.model_combo.itemData(0, Qt.ItemDataRole.ToolTipRole)
    assert dialog.request().output == tmp_path / "out"


def test_a_missing_folder_is_an_inline_message_not_a_run(qtbot, library, tmp_path):
    dialog = make_dialog(qtbot, library)
    assert not dialog.start_button.isEnabled()
    dialog.input_edit.setText(str(tmp_path / "nowhere"))
    dialog.start()
    assert dialog.handle is None
    assert dialog.status_label.isVisibleTo(dialog)
    assert dialog.status_label.text() == f"{tmp_path / 'nowhere'}: no such folder"


def test_a_failed_job_shows_its_one_line_reason(qtbot, library, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    dialog = make_dialog(qtbot, library, inputs=[empty])
    with qtbot.waitSignal(dialog.batchEnded, timeout=TIMEOUT_MS):
        dialog.start()
    assert dialog.summary_label.text() == f"Stopped after 0 files: no images found in {empty}"
    assert dialog.report is None
    assert dialog.settings_box.isEnabled()


def test_closing_while_running_asks_then_cancels(qtbot, library, pictures, monkeypatch):
    pool = HeldPool()
    dialog = make_dialog(qtbot, library, inputs=[pictures], pool=pool)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.start()
    assert not dialog.settings_box.isEnabled()
    assert dialog.running

    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *args: answers.pop(0))
    dialog.close()
    assert dialog.isVisible()
    assert not dialog.handle.token.cancelled
    dialog.close()
    assert not dialog.isVisible()
    assert dialog.handle.token.cancelled

    with qtbot.waitSignal(dialog.batchEnded, timeout=TIMEOUT_MS):
        pool.release()
    assert dialog.summary_label.text().startswith("Cancelled after 0 files")
    assert not (pictures.parent / "pics_x2").exists()


def test_a_dialog_deleted_while_running_cancels_its_job(qtbot, library, pictures):
    pool = HeldPool()
    dialog = BatchDialog(library, inputs=[pictures], devices=["cpu"], pool=pool)
    dialog.start()
    handle = dialog.handle
    dialog.deleteLater()
    qtbot.waitUntil(lambda: handle.token.cancelled, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(handle.cancelled, timeout=TIMEOUT_MS):
        pool.release()


def test_devices_are_listed_lazily_once_the_dialog_shows(qtbot, library):
    dialog = BatchDialog(library, pool=workers.SynchronousPool())
    qtbot.addWidget(dialog)
    assert [dialog.device_combo.itemData(row) for row in range(dialog.device_combo.count())] == ["auto"]
    dialog.show()
    qtbot.waitUntil(lambda: dialog.device_combo.findData("cpu") >= 0, timeout=TIMEOUT_MS)
    assert dialog.device_combo.currentData() == "auto"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "estimating time left…"),
        (3.2, "a few seconds left"),
        (47, "about 45 s left"),
        (110, "about 2 min left"),
        (2 * 3600 + 9 * 60, "about 2 h 9 min left"),
    ],
)
def test_eta_text_is_rough_and_human(seconds, text):
    assert eta_text(seconds) == text
