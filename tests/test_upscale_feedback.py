"""What the window tells the user about its work: the previewed region, huge jobs, which result is saved,
a status bar true to the view, the old result dimmed while a new one comes, and the model box's words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from sr_studio.core.images import Picture, load_image
from sr_studio.core.library import save_model_files
from sr_studio.models.msrresnet import MSRResNet
from sr_studio.ui.app.main_window import MainWindow
from sr_studio.ui.app.settings import Settings
from sr_studio.ui.jobs import workers
from sr_studio.ui.upscale import large_job
from sr_studio.ui.upscale.qimage import qimage_to_picture
from sr_studio.ui.upscale.save_dialog import SAVE_FILTERS
from tests.window_helpers import big_photo, choose, open_picture, run, shown

PSNR_RECIPE = '[data]\ntrain = ["/data/sr/photos-wikimedia"]\n[train]\nadversarial = 0.0\n'
GAN_RECIPE = '[data]\ntrain = ["/data/sr/photos-wikimedia"]\n[train]\nadversarial = 0.005\n'
SMALL_X4 = {"scale": 4, "blocks": 1, "channels": 8}


@pytest.fixture
def make_window(qtbot, library, tmp_path):
    def make(*, pool=workers.SynchronousPool(), settings=None) -> MainWindow:  # noqa: B008
        settings = settings or Settings.from_file(tmp_path / "settings.ini")
        window = MainWindow(library=library, settings=settings, pool=pool)
        qtbot.addWidget(window)
        return window

    return make


def add_x4(library, *, name="faithful-x4", builtin=False, recipe=None, description="") -> None:
    """A small ×4 upscaler, built in (with a recipe) or the user's."""
    folder = library.builtin_dir if builtin else library.user_dir
    fields = {"recipe": recipe} if recipe else {}
    network = MSRResNet(**SMALL_X4)
    save_model_files(
        folder,
        network,
        name=name,
        task="upscale",
        architecture="msrresnet",
        arguments=SMALL_X4,
        description=description,
        **fields,
    )


def outline_colours(window: MainWindow) -> list:
    """What the view paints along the preview's outline (the middle of its left and top edges)."""
    (outline,) = window.upscale_tab.view.preview_outline()
    image = window.upscale_tab.view.grab().toImage()
    middle = outline.center()
    return [
        image.pixelColor(round(x) + d, round(y) + d)
        for x, y in ((outline.left(), middle.y()), (middle.x(), outline.top()))
        for d in (-1, 0, 1)
    ]


# ---------------------------------------------------------------------------------------------- preview


def test_preview_outlines_its_region_and_says_how_big_it_is(qtbot, make_window, tmp_path):
    from sr_studio.ui.upscale.view_overlays import OUTLINE_COLOUR

    window = shown(qtbot, make_window())
    open_picture(qtbot, window, big_photo(tmp_path, side=320))  # fitted: all 320² pixels on screen
    choose(window.upscale_tab.toolbar.model_combo, "smooth-x2")
    choose(window.upscale_tab.toolbar.device_combo, "cpu")
    tip = window.upscale_tab.preview_action.toolTip()
    assert "256×256 input pixels" in tip and "outlined" in tip and "middle of what the view shows" in tip

    assert run(qtbot, window, window.upscale_tab.preview) == "finished"
    message = window.statusBar().currentMessage()
    assert message.startswith("Preview: 256×256 input pixels at the centre of the view")
    assert "smooth-x2" in message
    assert window.upscale_tab.previewed.region.size().width() == 512
    assert any(colour.name() == OUTLINE_COLOUR.name() for colour in outline_colours(window))


def test_the_status_bar_names_the_previews_model_not_the_last_results(qtbot, make_window, photo):
    window = make_window()
    open_picture(qtbot, window, photo)
    choose(window.upscale_tab.toolbar.model_combo, "smooth-x2")
    run(qtbot, window, window.upscale_tab.upscale)
    assert "smooth-x2" in window.upscale_tab.run_label.text() and "→" in window.upscale_tab.size_label.text()

    choose(window.upscale_tab.toolbar.model_combo, "tiny-x2")
    assert run(qtbot, window, window.upscale_tab.preview) == "finished"
    assert (
        "tiny-x2" in window.upscale_tab.run_label.text()
        and "smooth-x2" not in window.upscale_tab.run_label.text()
    )
    assert (
        window.upscale_tab.size_label.text() == "34×21"
    )  # the view shows the picture and a preview, no result
    assert window.upscale_tab.view._labels == ("Before", "Preview: tiny-x2")
    assert "all the view shows" in window.statusBar().currentMessage()


# ---------------------------------------------------------------------------------------- huge jobs


def test_a_huge_upscale_is_asked_about_first(qtbot, make_window, library, photo, monkeypatch):
    add_x4(library)
    asked = []
    answer = [large_job.CANCEL]

    def ask(estimate, name, smaller):
        asked.append((estimate, name, smaller))
        return answer[0]

    window = make_window()
    window.settings.large_job_mp = 0.01  # 34×21 at ×4 is 0.011 megapixels
    monkeypatch.setattr(window.upscale_tab, "ask_large_job", ask)
    open_picture(qtbot, window, photo)
    choose(window.upscale_tab.toolbar.model_combo, "faithful-x4")
    window.upscale_tab.upscale()  # cancelled: no job starts
    assert window.upscale_tab.result is None and not window.upscale_tab.busy
    assert window.statusBar().currentMessage() == "Not upscaled"
    estimate, name, smaller = asked[0]
    assert (estimate.width, estimate.height, name) == (136, 84, "faithful-x4")
    assert estimate.seconds > 0 and estimate.peak_bytes > 136 * 84 * 3 and not estimate.measured
    assert smaller == "smooth-x2"  # a ×2 model exists: it is offered

    answer[0] = large_job.SMALLER
    assert run(qtbot, window, window.upscale_tab.upscale) == "finished"
    assert window.upscale_tab.result.model == "smooth-x2" and window.upscale_tab.result.scale == 2
    assert window.upscale_tab.current_model() == "smooth-x2"  # the model box says what ran

    answer[0] = large_job.GO
    asked.clear()
    choose(window.upscale_tab.toolbar.model_combo, "faithful-x4")
    assert run(qtbot, window, window.upscale_tab.upscale) == "finished"
    assert window.upscale_tab.result.scale == 4 and len(asked) == 1

    choose(
        window.upscale_tab.toolbar.model_combo, "tiny-x2"
    )  # 0.003 megapixels: below the line, nothing asked
    assert run(qtbot, window, window.upscale_tab.upscale) == "finished"
    assert len(asked) == 1

    never = next(a for a in window.large_job_group.actions() if a.text() == "Never")
    never.trigger()  # Settings ▸ Ask before large outputs ▸ Never
    assert window.settings.large_job_mp == 0
    choose(window.upscale_tab.toolbar.model_combo, "faithful-x4")
    assert run(qtbot, window, window.upscale_tab.upscale) == "finished"
    assert len(asked) == 1


def test_the_question_shows_size_time_and_memory():
    from sr_studio.core.estimate import estimate_upscale

    text = large_job.large_job_text(estimate_upscale(6000, 6000, 4), "srresnet-x4")
    assert "24000×24000" in text and "576 megapixels" in text
    assert "about 38 min" in text and "a guess" in text and "GB" in text


# --------------------------------------------------------------------------------- compare and save


def test_after_a_compare_save_asks_which_result_and_both_makes_two_named_files(
    qtbot, make_window, photo, monkeypatch
):
    window = make_window()
    open_picture(qtbot, window, photo)
    choose(window.upscale_tab.toolbar.model_combo, "tiny-x2")
    run(qtbot, window, window.upscale_tab.compare, "smooth-x2")
    a, b = window.upscale_tab.compared.a.result, window.upscale_tab.compared.b.result
    answers, offered = ["B"], []
    monkeypatch.setattr(window.upscale_tab, "ask_which_result", lambda model_a, model_b: answers[0])

    def dialog(parent, caption, directory, filters, selected, options):
        offered.append(Path(directory))
        return str(photo.parent / Path(directory).name), SAVE_FILTERS["png"]

    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    assert run(qtbot, window, window.upscale_tab.save_as) == "finished"
    assert offered[-1].name == "photo_x2_smooth-x2.png"  # named after the model it holds
    np.testing.assert_array_equal(
        load_image(photo.parent / "photo_x2_smooth-x2.png").pixels, b.picture.pixels
    )

    answers[0] = "both"  # B's file is there already: replacing it is asked, once
    questions = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *args: questions.append(args) or QMessageBox.StandardButton.Yes
    )
    assert run(qtbot, window, window.upscale_tab.save_as) == "finished"
    assert len(questions) == 1 and "photo_x2_smooth-x2.png already exists" in questions[0][2]
    assert offered[-1].name == "photo_x2.png"
    for result in (a, b):
        saved = load_image(photo.parent / f"photo_x2_{result.model}.png")
        np.testing.assert_array_equal(saved.pixels, result.picture.pixels)
    assert not (photo.parent / "photo_x2.png").exists()

    answers[0] = None
    window.upscale_tab.save_as()
    assert window.statusBar().currentMessage() == "Not saved"


def test_the_gan_tab_shows_nothing_about_the_upscale(qtbot, make_window, photo):
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    open_picture(qtbot, window, photo)
    run(qtbot, window, window.upscale_tab.upscale)
    assert window.upscale_tab.run_label.isVisible() and window.upscale_tab.size_label.isVisible()

    window.tabs.setCurrentWidget(window.gan_tab)
    assert not window.upscale_tab.run_label.isVisible() and not window.upscale_tab.size_label.isVisible()
    assert not window.upscale_tab.jobs.isVisible()
    assert window.statusBar().currentMessage() == ""
    window.upscale_tab.statusMessage.emit("Upscaled ×2 with tiny-x2", 8000)  # a late upscale message
    assert window.statusBar().currentMessage() == ""

    window.tabs.setCurrentWidget(window.upscale_tab)
    assert (
        window.upscale_tab.run_label.isVisible()
        and window.upscale_tab.result.model in window.upscale_tab.run_label.text()
    )


def test_a_running_job_keeps_the_old_result_visible_dimmed(qtbot, make_window, photo, tmp_path):
    settings = Settings.from_file(tmp_path / "threads.ini")
    window = make_window(pool=None, settings=settings)  # real worker threads
    open_picture(qtbot, window, photo)
    choose(window.upscale_tab.toolbar.model_combo, "smooth-x2")
    choose(window.upscale_tab.toolbar.device_combo, "cpu")
    assert run(qtbot, window, window.upscale_tab.upscale, timeout=20000) == "finished"
    old = window.upscale_tab.view.after

    seen = []
    window.jobProgress.connect(
        lambda event: seen.append((window.upscale_tab.view.after, window.upscale_tab.view.dimmed))
    )
    choose(window.upscale_tab.toolbar.model_combo, "tiny-x2")
    settings.upscale_tile = "16"  # several tiles: several looks at the view while the job runs
    assert run(qtbot, window, window.upscale_tab.upscale, timeout=20000) == "finished"
    assert seen and all(after is old and dimmed for after, dimmed in seen)
    assert window.upscale_tab.view.after is not old and not window.upscale_tab.view.dimmed

    seen.clear()
    assert run(qtbot, window, window.upscale_tab.preview, timeout=20000) == "finished"  # a preview, too
    assert seen and all(after is not None and dimmed for after, dimmed in seen)
    assert window.upscale_tab.view.preview is not None and not window.upscale_tab.view.dimmed


# ---------------------------------------------------------------------------------------- model box


def test_the_model_box_says_what_each_model_is_for(qtbot, make_window, library):
    add_x4(library, name="psnr-x4", builtin=True, recipe=PSNR_RECIPE, description="MSRResNet: 1 block")
    add_x4(library, name="gan-x4", builtin=True, recipe=GAN_RECIPE, description="SRGAN ×4: adversarial")
    window = make_window()
    combo = window.upscale_tab.toolbar.model_combo
    labels = {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}
    assert labels["psnr-x4"] == "Photos, faithful ×4 (psnr-x4)"
    assert labels["gan-x4"] == "Photos, sharper textures ×4 (gan-x4)"
    assert labels["tiny-x2"] == "tiny-x2 ×2 — a tiny random ×2 test model"  # the user's own words
    choose(combo, "psnr-x4")
    assert "MSRResNet: 1 block" in combo.toolTip()
    assert "MSRResNet: 1 block" in combo.itemData(combo.currentIndex(), Qt.ItemDataRole.ToolTipRole)


def test_a_long_model_name_is_not_clipped(qtbot, make_window, library):
    long_name = "my-very-long-fine-tuned-model-name-for-old-family-photos-x4"
    add_x4(library, name=long_name, description="fine-tuned on the family album")
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    choose(window.upscale_tab.toolbar.model_combo, long_name)
    combo = window.upscale_tab.toolbar.model_combo
    qtbot.waitUntil(lambda: combo.width() > combo.fontMetrics().horizontalAdvance(combo.currentText()))


# -------------------------------------------------------------------------------------- small things


def test_opening_another_picture_puts_the_divider_back_in_the_middle(qtbot, make_window, photo, tmp_path):
    window = shown(qtbot, make_window())
    open_picture(qtbot, window, photo)
    run(qtbot, window, window.upscale_tab.upscale)
    view = window.upscale_tab.view
    start = QPoint(round(view.divider_x()), view.height() // 3)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, start + QPoint(150, 0))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=start + QPoint(150, 0))
    assert view.divider > 0.6

    other = tmp_path / "other.png"
    Image.fromarray(np.zeros((21, 34, 3), np.uint8)).save(other)  # the same size as the last one
    open_picture(qtbot, window, other)
    assert view.divider == 0.5


def test_an_empty_clipboard_is_a_hint_not_an_error(qtbot, make_window):
    QGuiApplication.clipboard().clear()
    window = make_window()
    window.paste()
    assert window.upscale_tab.banner.isHidden()
    assert "clipboard holds no picture" in window.statusBar().currentMessage()


def test_a_previewed_crop_is_exactly_the_full_upscale_there(qtbot, make_window, photo):
    window = shown(qtbot, make_window())
    open_picture(qtbot, window, photo)
    choose(window.upscale_tab.toolbar.model_combo, "smooth-x2")
    choose(window.upscale_tab.toolbar.device_combo, "cpu")
    run(qtbot, window, window.upscale_tab.compare, "tiny-x2")  # the view shows results in output pixels
    window.upscale_tab.view.set_zoom(16.0)
    assert run(qtbot, window, window.upscale_tab.preview) == "finished"
    region = window.upscale_tab.previewed.region
    full = window.upscale_tab.compared.a.result.picture.pixels
    crop = full[region.top() : region.bottom() + 1, region.left() : region.right() + 1]
    np.testing.assert_array_equal(qimage_to_picture(window.upscale_tab.view.preview).pixels, crop)


def click_in_next_box(label: str, seen: list) -> None:
    """Click the button whose text holds `label` in the message box about to open (and note them all)."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, click)
            return
        seen.extend(button.text() for button in box.buttons())
        next(button for button in box.buttons() if label in button.text()).click()

    QTimer.singleShot(0, click)


def test_the_message_boxes_answer_what_was_clicked(qtbot):
    from sr_studio.core.estimate import estimate_upscale
    from sr_studio.ui.upscale.save_dialog import ask_which_result

    huge, seen = estimate_upscale(6000, 6000, 4), []
    click_in_next_box("×2", seen)
    assert large_job.ask_large_job(None, huge, "srresnet-x4", "srresnet-x2") == large_job.SMALLER
    assert "Upscale anyway" in seen and "Upscale ×2 with srresnet-x2" in seen
    seen.clear()
    click_in_next_box("Cancel", seen)
    assert large_job.ask_large_job(None, huge, "srresnet-x4", None) == large_job.CANCEL
    assert not any("×2" in text for text in seen)  # no ×2 model, no such offer
    click_in_next_box("Both", seen)
    assert ask_which_result(None, "tiny-x2", "smooth-x2") == "both"
    click_in_next_box("B: smooth-x2", seen)
    assert ask_which_result(None, "tiny-x2", "smooth-x2") == "B"


@pytest.mark.parametrize("origin", [(0.0, 0.0), (101.3, 77.6), (102.0, 78.0)])
def test_a_pixel_unshuffle_models_preview_is_exactly_its_full_upscale(library, origin):
    import torch

    from sr_studio.core.jobs import CancelToken, run_job
    from sr_studio.core.upscale import upscale
    from sr_studio.models.rrdbnet import RRDBNet
    from sr_studio.ui.common import ModelCache
    from sr_studio.ui.upscale.jobs import preview_job
    from tests.pictures import textured

    arguments = {"scale": 2, "num_feat": 4, "num_block": 1, "num_grow_ch": 4}
    torch.manual_seed(3)
    network = RRDBNet(**arguments)
    for parameter in network.parameters():  # weights that make every output pixel depend on the grid
        torch.nn.init.normal_(parameter, std=0.1)
    save_model_files(
        library.user_dir, network, name="rrdb-x2", task="upscale", architecture="rrdbnet",
        arguments=arguments,
    )  # fmt: skip
    picture = Picture(textured(301, 423, seed=8))  # odd sides: the unshuffle grid matters
    options = {"device": "cpu", "precision": "fp32", "tile": None}
    full = upscale(picture, library.load("rrdb-x2"), **options).picture.pixels
    x0, y0 = origin
    visible = (x0, y0, x0 + 41, y0 + 37)
    job = preview_job(picture, ModelCache(library), "rrdb-x2", visible, options, CancelToken())
    previewed = run_job(job)
    region = previewed.region
    crop = full[region.top() : region.bottom() + 1, region.left() : region.right() + 1]
    np.testing.assert_array_equal(previewed.result.picture.pixels, crop)
