"""The main window's upscale tab, driven as a user would: upscale, cancel, preview, compare, save."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from sr_studio.core.images import Picture, load_image
from sr_studio.core.upscale import upscale
from sr_studio.ui.app.settings import Settings
from sr_studio.ui.jobs.job_status import progress_text
from sr_studio.ui.upscale.jobs import preview_crop
from sr_studio.ui.upscale.qimage import qimage_to_picture
from sr_studio.ui.upscale.save_dialog import SAVE_FILTERS, default_save_name
from tests.pictures import textured
from tests.window_helpers import big_photo, choose, open_picture, run, shown

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
    window = shown(qtbot, make_window())
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
