"""The main window, driven as a user would: drops, paste, recent files, settings, about, the wizard."""

from __future__ import annotations

import platform

import numpy as np
from PIL import Image
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox

import sr_studio
from sr_studio.core.images import Picture, load_image
from sr_studio.core.library import ModelLibrary
from sr_studio.ui.app.about import AboutDialog, about_text
from sr_studio.ui.app.main_window import MainWindow
from sr_studio.ui.app.settings import Settings
from sr_studio.ui.batch.dialog import BatchDialog
from sr_studio.ui.jobs import workers
from sr_studio.ui.upscale.qimage import picture_to_qimage
from tests.pictures import textured
from tests.window_helpers import choose, drop, file_mime, open_picture, run

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
