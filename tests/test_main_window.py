"""The main window, driven as a user would: drops, paste, menus, upscale, preview, compare, save, cancel."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMessageBox

import sr_studio
from sr_studio.core.images import Picture, load_image
from sr_studio.core.library import ModelLibrary
from sr_studio.core.upscale import upscale
from sr_studio.ui.app.about import AboutDialog, about_text
from sr_studio.ui.app.main_window import MainWindow
from sr_studio.ui.app.settings import Settings
from sr_studio.ui.batch.dialog import BatchDialog
from sr_studio.ui.jobs import workers
from sr_studio.ui.jobs.job_status import progress_text
from sr_studio.ui.upscale.jobs import preview_crop
from sr_studio.ui.upscale.qimage import picture_to_qimage, qimage_to_picture
from sr_studio.ui.upscale.save_dialog import SAVE_FILTERS, default_save_name
from tests.pictures import textured


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "settings.ini"


@pytest.fixture
def make_window(qtbot, library, settings_file):
    """A window over the test library and a private settings file; synchronous jobs unless told."""

    def make(paths=(), *, pool=workers.SynchronousPool(), settings=None) -> MainWindow:  # noqa: B008
        window = MainWindow(
            paths, library=library, settings=settings or Settings.from_file(settings_file), pool=pool
        )
        qtbot.addWidget(window)
        return window

    return make


def choose(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, f"{data!r} is not in the combo"
    combo.setCurrentIndex(index)


def open_picture(qtbot, window: MainWindow, path: Path) -> None:
    with qtbot.waitSignal(window.jobEnded) as ended:
        window.upscale_tab.open_file(path)
    assert ended.args == ["finished"]


def run(qtbot, window: MainWindow, action, *args, timeout: int = 5000) -> str:
    """Start a job through `action` and wait for it to end; the outcome."""
    with qtbot.waitSignal(window.jobEnded, timeout=timeout) as ended:
        action(*args)
    return ended.args[0]


def drop(window: MainWindow, mime: QMimeData) -> QDropEvent:
    """Drag `mime` over the window and drop it, as Qt delivers a real drag and drop."""
    enter = QDragEnterEvent(
        QPointF(40, 40),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(
        QPointF(40, 40),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, event)
    return event


def file_mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    return mime


def big_photo(tmp_path: Path, side: int = 320) -> Path:
    path = tmp_path / "big.png"
    Image.fromarray(textured(side, side, seed=3)).save(path)
    return path


# ------------------------------------------------------------------------------------------- opening


def test_dropping_an_image_file_shows_it(qtbot, make_window, photo, settings_file):
    window = make_window()
    with qtbot.waitSignal(window.jobEnded):
        event = drop(window, file_mime(photo))
    assert event.isAccepted()
    before = window.upscale_tab.view.before
    assert before is not None and (before.width(), before.height()) == (34, 21)
    assert "photo.png" in window.windowTitle() and "34×21" in window.windowTitle()
    assert window.upscale_tab.size_label.text() == "34×21"
    np.testing.assert_array_equal(window.upscale_tab.opened.picture.pixels, load_image(photo).pixels)
    assert Settings.from_file(settings_file).recent_files == [str(photo)]


def test_a_bad_file_gives_one_status_line_naming_it(qtbot, make_window, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not a picture")
    window = make_window()
    with qtbot.waitSignal(window.jobEnded) as ended:
        drop(window, file_mime(bad))
    assert ended.args == ["failed"]
    message = window.statusBar().currentMessage()
    assert "bad.png" in message and "not a picture" in message
    assert "\n" not in message and "Traceback" not in message
    assert window.upscale_tab.banner.text() == message
    assert window.upscale_tab.view.before is None and window.upscale_tab.opened is None
    assert window.upscale_tab.upscale_action.isEnabled() is False


def test_the_command_line_path_opens_at_start(qtbot, make_window, photo):
    window = make_window([str(photo)])  # synchronous: loaded before the constructor returns
    assert window.upscale_tab.opened is not None and window.upscale_tab.opened.path == photo
    assert window.upscale_tab.upscale_action.isEnabled()


def test_dropping_a_folder_or_several_files_opens_the_batch_dialog(qtbot, make_window, photo, monkeypatch):
    shown = []
    monkeypatch.setattr(BatchDialog, "show", lambda dialog: shown.append(dialog))
    window = make_window()
    choose(window.upscale_tab.toolbar.model_combo, "smooth-x2")
    drop(window, file_mime(photo.parent))
    assert shown == [window.batch_dialog]
    assert window.batch_dialog.input_paths() == [photo.parent]
    assert window.batch_dialog.selected_model().name == "smooth-x2"

    second = photo.parent / "second.png"
    Image.fromarray(textured(8, 8)).save(second)
    drop(window, file_mime(photo, second))
    assert len(shown) == 2 and window.batch_dialog is shown[1]
    assert window.batch_dialog.input_paths() == [photo, second]
    assert window.upscale_tab.view.before is None  # nothing was opened in the view

    window.batch_action.trigger()  # File ▸ Batch…: an empty dialog with the current model
    assert len(shown) == 3 and window.batch_dialog.input_paths() == []
    assert window.batch_dialog.selected_model().name == "smooth-x2"


def test_pasting_an_image_from_the_clipboard(qtbot, make_window):
    pixels = textured(12, 17, seed=5)
    QGuiApplication.clipboard().setImage(picture_to_qimage(Picture(pixels)))
    window = make_window()
    assert run(qtbot, window, window.paste) == "finished"
    np.testing.assert_array_equal(window.upscale_tab.opened.picture.pixels, pixels)
    assert window.upscale_tab.opened.path is None
    assert "pasted" in window.windowTitle()


def test_pasting_file_urls_opens_the_file(qtbot, make_window, photo):
    QGuiApplication.clipboard().setMimeData(file_mime(photo))
    window = make_window()
    assert run(qtbot, window, window.paste) == "finished"
    assert window.upscale_tab.opened.path == photo


def test_recent_files_menu_lists_and_reopens(qtbot, make_window, photo, tmp_path):
    other = tmp_path / "other.png"
    Image.fromarray(textured(9, 11)).save(other)
    window = make_window()
    open_picture(qtbot, window, photo)
    open_picture(qtbot, window, other)

    window.recent_menu.aboutToShow.emit()
    actions = [action for action in window.recent_menu.actions() if action.data()]
    assert [action.data() for action in actions] == [str(other), str(photo)]
    assert "photo.png" in actions[1].text()

    with qtbot.waitSignal(window.jobEnded):
        actions[1].trigger()
    assert window.upscale_tab.opened.path == photo
    window.recent_menu.aboutToShow.emit()
    assert window.recent_menu.actions()[0].data() == str(photo)


# ----------------------------------------------------------------------------------------- upscaling


def test_upscale_shows_exactly_the_core_result(qtbot, make_window, library, photo):
    window = make_window()
    open_picture(qtbot, window, photo)
    choose(window.upscale_tab.toolbar.model_combo, "smooth-x2")
    choose(window.upscale_tab.toolbar.device_combo, "cpu")
    assert run(qtbot, window, window.upscale_tab.upscale) == "finished"

    expected = upscale(load_image(photo), library.load("smooth-x2"), device="cpu").picture.pixels
    np.testing.assert_array_equal(window.upscale_tab.result.picture.pixels, expected)
    np.testing.assert_array_equal(qimage_to_picture(window.upscale_tab.view.after).pixels, expected)
    assert window.upscale_tab.result.device == "cpu"
    assert "34×21 → 68×42" in window.upscale_tab.size_label.text()
    assert (
        "cpu" in window.upscale_tab.run_label.text()
        and window.upscale_tab.result.precision in window.upscale_tab.run_label.text()
    )
    assert window.upscale_tab.save_action.isEnabled()


def test_max_quality_upscales_with_the_self_ensemble_and_is_remembered(
    qtbot, make_window, library, photo, settings_file
):
    window = make_window()
    open_picture(qtbot, window, photo)
    choose(window.upscale_tab.toolbar.model_combo, "tiny-x2")
    choose(window.upscale_tab.toolbar.device_combo, "cpu")
    window.upscale_tab.ensemble_action.trigger()
    assert run(qtbot, window, window.upscale_tab.upscale) == "finished"
    expected = upscale(load_image(photo), library.load("tiny-x2"), device="cpu", ensemble=True)
    np.testing.assert_array_equal(window.upscale_tab.result.picture.pixels, expected.picture.pixels)
    assert window.upscale_tab.result.ensemble and "max quality" in window.upscale_tab.run_label.text()
    assert Settings.from_file(settings_file).upscale_ensemble is True


def test_cancel_stops_a_running_upscale_and_the_window_stays_usable(qtbot, make_window, tmp_path):
    settings = Settings.from_file(tmp_path / "cancel.ini")
    settings.upscale_tile = "16"  # hundreds of tiles: the job is still running when the cancel arrives
    window = make_window(pool=None, settings=settings)
    choose(window.upscale_tab.toolbar.model_combo, "tiny-x2")
    choose(window.upscale_tab.toolbar.device_combo, "cpu")
    open_picture(qtbot, window, big_photo(tmp_path))

    tiles = []

    def cancel_on_first_tile(event):
        if event.stage == "colour" and not tiles:
            tiles.append(event)
            window.upscale_tab.cancel()

    window.jobProgress.connect(cancel_on_first_tile)
    assert run(qtbot, window, window.upscale_tab.upscale, timeout=20000) == "cancelled"
    assert tiles and tiles[0].done < tiles[0].total
    assert window.upscale_tab.result is None and window.upscale_tab.view.after is None
    assert not window.upscale_tab.busy and not window.upscale_tab.cancel_action.isEnabled()
    assert window.upscale_tab.upscale_action.isEnabled() and window.upscale_tab.preview_action.isEnabled()
    assert window.statusBar().currentMessage() == "Cancelled"

    settings.upscale_tile = "none"
    assert run(qtbot, window, window.upscale_tab.upscale, timeout=20000) == "finished"
    assert window.upscale_tab.result.picture.width == 640


@pytest.mark.parametrize("error", [RuntimeError("boom"), MemoryError(), KeyError("tile")])
def test_any_worker_failure_is_one_line_and_the_window_stays_usable(
    qtbot, make_window, photo, monkeypatch, error
):
    from sr_studio.ui.upscale import jobs as upscale_jobs

    real = upscale_jobs.upscale_job

    def failing(*args, **kwargs):
        raise error
        yield  # a generator, as the real job is

    window = make_window()
    open_picture(qtbot, window, photo)
    choose(window.upscale_tab.toolbar.model_combo, "smooth-x2")
    choose(window.upscale_tab.toolbar.device_combo, "cpu")
    monkeypatch.setattr(upscale_jobs, "upscale_job", failing)
    assert run(qtbot, window, window.upscale_tab.upscale) == "failed"
    message = window.statusBar().currentMessage()
    assert message and "\n" not in message and "Traceback" not in message
    assert (
        not window.upscale_tab.busy
        and window.upscale_tab.upscale_action.isEnabled()
        and window.upscale_tab.preview_action.isEnabled()
    )

    monkeypatch.setattr(upscale_jobs, "upscale_job", real)
    assert run(qtbot, window, window.upscale_tab.upscale) == "finished"
    assert window.upscale_tab.result.picture.width == 68


def test_closing_the_window_cancels_the_running_upscale(qtbot, make_window, tmp_path):
    settings = Settings.from_file(tmp_path / "close.ini")
    settings.upscale_tile = "16"
    window = make_window(pool=None, settings=settings)
    choose(window.upscale_tab.toolbar.model_combo, "tiny-x2")
    choose(window.upscale_tab.toolbar.device_combo, "cpu")
    open_picture(qtbot, window, big_photo(tmp_path))
    window.show()
    with qtbot.waitSignal(window.jobEnded, timeout=20000) as ended:
        with qtbot.waitSignal(window.jobProgress):
            window.upscale_tab.upscale()
        window.close()
    assert ended.args == ["cancelled"]
    assert window.upscale_tab.result is None


def test_preview_upscales_only_the_visible_region(qtbot, make_window, library, tmp_path):
    path = tmp_path / "wide.png"
    Image.fromarray(textured(90, 120, seed=2)).save(path)
    window = make_window()
    window.resize(900, 700)
    window.show()
    qtbot.waitExposed(window)
    open_picture(qtbot, window, path)
    choose(window.upscale_tab.toolbar.model_combo, "smooth-x2")
    choose(window.upscale_tab.toolbar.device_combo, "cpu")
    window.upscale_tab.view.set_zoom(6.0)  # about a quarter of the picture on screen
    assert run(qtbot, window, window.upscale_tab.preview) == "finished"

    previewed = window.upscale_tab.previewed
    region = previewed.region
    assert window.upscale_tab.view.preview is previewed.image
    assert 0 < region.width() * region.height() < 240 * 180  # a part of the ×2 output, not all of it
    visible = window.upscale_tab.view.visible_region()
    assert region.contains(visible.toAlignedRect().center())
    # With the receptive radius as context, the preview's pixels are exactly the full upscale's there.
    full = upscale(load_image(path), library.load("smooth-x2"), device="cpu").picture.pixels
    crop = full[region.top() : region.bottom() + 1, region.left() : region.right() + 1]
    np.testing.assert_array_equal(qimage_to_picture(previewed.image).pixels, crop)


def test_preview_crop_keeps_at_most_256_pixels_a_side_around_the_centre_and_pads_for_context():
    crop = preview_crop((0, 0, 1000, 50), 1000, 600, pad=10)
    assert crop.core == (372, 0, 628, 50)
    assert crop.padded == (362, 0, 638, 60)
    small = preview_crop((2.4, 3.6, 20.2, 30.0), 40, 40, pad=8)
    assert small.core == (2, 3, 21, 30)
    assert small.padded == (0, 0, 29, 38)


def test_compare_shows_model_a_left_and_b_right(qtbot, make_window, photo):
    window = make_window()
    open_picture(qtbot, window, photo)
    choose(window.upscale_tab.toolbar.model_combo, "tiny-x2")
    window.upscale_tab.toolbar.compare_menu.aboutToShow.emit()
    names = [action.data() for action in window.upscale_tab.toolbar.compare_menu.actions()]
    assert names == ["smooth-x2"]
    with qtbot.waitSignal(window.jobEnded):
        window.upscale_tab.toolbar.compare_menu.actions()[0].trigger()
    assert (window.upscale_tab.view.before.width(), window.upscale_tab.view.after.width()) == (68, 68)
    assert window.upscale_tab.view._labels == ("A: tiny-x2", "B: smooth-x2")
    assert window.upscale_tab.result.model == "tiny-x2"
    assert (
        qimage_to_picture(window.upscale_tab.view.before).pixels.tolist()
        != qimage_to_picture(window.upscale_tab.view.after).pixels.tolist()
    )


def test_a_gan_sample_is_upscaled_in_the_upscale_tab(qtbot, make_window):
    window = make_window()
    window.tabs.setCurrentIndex(1)
    sample = Picture(textured(32, 32, seed=9))
    with qtbot.waitSignal(window.jobEnded):
        window.gan_tab.upscaleRequested.emit(sample)
    assert window.tabs.currentIndex() == 0
    np.testing.assert_array_equal(window.upscale_tab.opened.picture.pixels, sample.pixels)
    assert window.upscale_tab.result is not None and window.upscale_tab.result.picture.width == 64


def test_progress_text_says_tile_and_time_left():
    from sr_studio.core.jobs import Progress

    assert progress_text(Progress(3, 12, "colour", 20.0)) == "tile 3/12 — about 20 s left"
    assert progress_text(Progress(1, 4, "colour", None, {"label": "B"})).startswith("B: tile 1/4")
    assert progress_text(Progress(0, 1, "model", None, {"text": "loading x…"})) == "loading x…"


# -------------------------------------------------------------------------------------------- saving


def test_save_writes_the_result_and_never_overwrites_without_asking(qtbot, make_window, photo, monkeypatch):
    window = make_window()
    open_picture(qtbot, window, photo)
    choose(window.upscale_tab.toolbar.model_combo, "smooth-x2")
    run(qtbot, window, window.upscale_tab.upscale)

    target = photo.parent / "chosen.png"
    offered = []

    def fake_dialog(parent, caption, directory, filters, selected, options):
        offered.append((directory, selected))
        return str(target), SAVE_FILTERS["png"]

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_dialog)
    questions = []
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: questions.append(args) or answer[0])

    assert run(qtbot, window, window.upscale_tab.save) == "finished"
    assert offered[0] == (str(photo.parent / default_save_name("photo", 2, "png")), SAVE_FILTERS["png"])
    np.testing.assert_array_equal(load_image(target).pixels, window.upscale_tab.result.picture.pixels)
    assert questions == []

    target.write_bytes(b"precious")
    window.upscale_tab.save_as()
    assert len(questions) == 1 and target.read_bytes() == b"precious"
    assert window.statusBar().currentMessage() == "Not saved"

    answer[0] = QMessageBox.StandardButton.Yes
    assert run(qtbot, window, window.upscale_tab.save_as) == "finished"
    np.testing.assert_array_equal(load_image(target).pixels, window.upscale_tab.result.picture.pixels)


def test_save_as_jpeg_asks_for_quality_and_remembers_format(
    qtbot, make_window, photo, monkeypatch, settings_file
):
    window = make_window()
    open_picture(qtbot, window, photo)
    run(qtbot, window, window.upscale_tab.upscale)
    target = photo.parent / "out"  # no extension: the chosen filter's is added
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(target), SAVE_FILTERS["jpg"]))
    monkeypatch.setattr(QInputDialog, "getInt", lambda *args: (70, True))
    assert run(qtbot, window, window.upscale_tab.save_as) == "finished"
    assert Image.open(photo.parent / "out.jpg").format == "JPEG"
    settings = Settings.from_file(settings_file)
    assert (settings.output_format, settings.output_quality) == ("jpg", 70)
    assert settings.last_save_folder == str(photo.parent)


def test_save_without_a_result_says_so(qtbot, make_window):
    window = make_window()
    window.upscale_tab.save()
    assert "nothing to save" in window.statusBar().currentMessage()


# ------------------------------------------------------------------------------------------ settings


def test_settings_survive_closing_and_reopening(qtbot, make_window, settings_file):
    window = make_window()
    choose(window.upscale_tab.toolbar.model_combo, "smooth-x2")
    choose(window.upscale_tab.toolbar.device_combo, "cpu")
    window.upscale_tab.side_by_side_action.trigger()
    window.upscale_tab.smooth_action.trigger()
    window.close()

    again = make_window()
    assert again.upscale_tab.current_model() == "smooth-x2"
    assert again.upscale_tab.current_device() == "cpu"
    assert again.upscale_tab.view.mode == "side_by_side" and again.upscale_tab.side_by_side_action.isChecked()
    assert again.upscale_tab.view.smooth_before is False and not again.upscale_tab.smooth_action.isChecked()
    assert Settings.from_file(settings_file).window_geometry  # the geometry was kept too


def test_without_upscaling_models_the_window_says_how_to_get_one(qtbot, tmp_path, photo):
    empty = ModelLibrary(builtin_dir=tmp_path / "none", user_dir=tmp_path / "nothing")
    window = MainWindow(
        [photo],
        library=empty,
        settings=Settings.from_file(tmp_path / "s.ini"),
        pool=workers.SynchronousPool(),
    )
    qtbot.addWidget(window)
    assert window.upscale_tab.opened is not None
    assert (
        not window.upscale_tab.toolbar.model_combo.isEnabled()
        and not window.upscale_tab.upscale_action.isEnabled()
    )
    window.upscale_tab.upscale()
    assert "sr-studio models import" in window.statusBar().currentMessage()
    assert window.upscale_tab.result is None


def test_scale_filter_limits_the_model_list(qtbot, make_window):
    window = make_window()
    assert [
        window.upscale_tab.toolbar.scale_combo.itemData(i)
        for i in range(window.upscale_tab.toolbar.scale_combo.count())
    ] == [0, 2]
    choose(window.upscale_tab.toolbar.scale_combo, 2)
    assert window.upscale_tab.toolbar.model_combo.count() == 2
    text = window.upscale_tab.toolbar.model_combo.itemText(
        window.upscale_tab.toolbar.model_combo.findData("smooth-x2")
    )
    assert text == "smooth-x2 ×2 — bilinear ×2 in MSRResNet's clothing"


def test_reset_asks_then_restores_defaults(qtbot, make_window, monkeypatch, settings_file):
    window = make_window()
    choose(window.upscale_tab.toolbar.device_combo, "cpu")
    window.upscale_tab.side_by_side_action.trigger()
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.No)
    window.reset_settings()
    assert Settings.from_file(settings_file).device == "cpu"

    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Yes)
    window.reset_settings()
    assert Settings.from_file(settings_file).device == "auto"
    assert window.upscale_tab.current_device() == "auto"
    assert window.upscale_tab.view.mode == "split" and not window.upscale_tab.side_by_side_action.isChecked()


def test_devices_are_listed_after_the_window_shows(qtbot, make_window):
    window = make_window()
    assert window.devices == []
    window.show()
    qtbot.waitUntil(lambda: "cpu" in window.devices)
    assert window.upscale_tab.toolbar.device_combo.findData("cpu") >= 0


# --------------------------------------------------------------------------------------------- about


def test_about_names_the_versions_and_the_device():
    import PySide6
    import torch

    text = about_text("cpu")
    for version in (sr_studio.__version__, torch.__version__, PySide6.__version__, platform.python_version()):
        assert version in text
    assert "Device: cpu" in text and "RAM" in text


def test_about_box_copies_its_text(qtbot, make_window):
    window = make_window()
    window.about_action.trigger()
    dialog = window.about_dialog
    assert isinstance(dialog, AboutDialog) and dialog.isVisible()
    qtbot.addWidget(dialog)
    assert dialog.text.isReadOnly()
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == dialog.text.toPlainText()
    assert "PyTorch" in dialog.text.toPlainText()


def test_the_wizard_gets_the_settings_and_one_training_in_the_background_comes_back(
    qtbot, make_window, monkeypatch
):
    from sr_studio.ui.wizard.wizard import FineTuneWizard

    window = make_window()
    window.open_wizard()
    first = window.wizard
    assert first.settings is window.settings  # so the last data folder is remembered
    first.hide()
    monkeypatch.setattr(FineTuneWizard, "running", property(lambda self: True))  # kept training
    window.open_wizard()
    assert window.wizard is first and first.isVisible()
    monkeypatch.setattr(FineTuneWizard, "running", property(lambda self: False))
    first.hide()
    window.open_wizard()
    assert window.wizard is not first
    window.wizard.close()
