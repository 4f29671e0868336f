"""Animations in the Upscale tab: every frame opened, shown by a frame slider and play/pause, upscaled in
the background frame by frame (cancellable), and saved as an animation with its timing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QFileDialog, QInputDialog

from sr_studio.ui.app.main_window import MainWindow
from sr_studio.ui.app.settings import Settings
from sr_studio.ui.jobs import workers
from sr_studio.ui.upscale.qimage import qimage_to_picture
from sr_studio.ui.upscale.save_dialog import ANIMATION_FILTERS
from tests.window_helpers import choose, open_picture, run

COLOURS = [(200, 30, 30), (30, 180, 40), (40, 60, 220), (230, 210, 20)]
DURATIONS = [50, 120, 80, 200]


@pytest.fixture
def make_window(qtbot, library, tmp_path):
    def make(*, pool=workers.SynchronousPool()) -> MainWindow:  # noqa: B008
        window = MainWindow(library=library, settings=Settings.from_file(tmp_path / "s.ini"), pool=pool)
        qtbot.addWidget(window)
        choose(window.upscale_tab.toolbar.model_combo, "smooth-x2")
        choose(window.upscale_tab.toolbar.device_combo, "cpu")
        return window

    return make


@pytest.fixture
def animation(tmp_path: Path) -> Path:
    """A 4-frame 24×24 GIF, one colour a frame, each frame its own duration, looping."""
    path = tmp_path / "in" / "anim.gif"
    path.parent.mkdir(parents=True)
    frames = [Image.new("RGB", (24, 24), colour) for colour in COLOURS]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=DURATIONS, loop=0)
    return path


def shown(image) -> tuple[int, int, int]:
    """The colour at the middle of a view image."""
    colour = image.pixelColor(image.width() // 2, image.height() // 2)
    return colour.red(), colour.green(), colour.blue()


def test_an_animation_opens_with_a_frame_bar_whose_slider_moves_the_original(qtbot, make_window, animation):
    window = make_window()
    open_picture(qtbot, window, animation)
    tab = window.upscale_tab
    bar = tab.frame_bar
    assert not bar.isHidden() and bar.count == 4
    assert (bar.slider.minimum(), bar.slider.maximum()) == (1, 4)
    assert bar.label.text() == "Frame 1/4 · 50 ms"
    assert shown(tab.view.before) == COLOURS[0]
    assert "4 frames" in window.statusBar().currentMessage()
    assert not tab.toolbar.compare_button.isEnabled()  # comparing is for still pictures

    bar.slider.setValue(3)
    assert bar.index == 2 and bar.label.text() == "Frame 3/4 · 80 ms"
    assert shown(tab.view.before) == COLOURS[2]


def test_upscale_runs_frame_by_frame_and_each_frames_result_follows_the_slider(qtbot, make_window, animation):
    window = make_window(pool=None)  # a real worker thread, as in the app
    open_picture(qtbot, window, animation)
    tab = window.upscale_tab
    events = []
    window.jobProgress.connect(events.append)
    assert run(qtbot, window, tab.upscale, timeout=20000) == "finished"
    qtbot.waitUntil(lambda: not tab.busy)

    frames = [event for event in events if event.stage == "frame"]
    assert frames and {event.total for event in frames} == {4} and frames[-1].done == 4
    assert "4 frames" in window.statusBar().currentMessage()
    results = tab.frames.results
    assert results is not None and results.count == 4
    for index in (0, 3, 1, 2):
        tab.frame_bar.set_index(index)
        assert shown(tab.view.before) == COLOURS[index]
        after = tab.view.after
        assert (after.width(), after.height()) == (48, 48)
        np.testing.assert_array_equal(qimage_to_picture(after).pixels, results.animation.frames[index].pixels)
        assert np.abs(np.subtract(shown(after), COLOURS[index])).max() <= 2  # smooth-x2 keeps a flat colour


def test_play_advances_frame_by_frame_with_each_frames_duration_and_loops(qtbot, make_window, animation):
    window = make_window()
    open_picture(qtbot, window, animation)
    tab, bar = window.upscale_tab, window.upscale_tab.frame_bar
    bar.play()
    assert bar.playing and bar.timer.isActive() and bar.timer.interval() == DURATIONS[0]

    for step in range(1, 6):  # past the last frame: back to the first
        bar.timer.stop()
        bar.timer.timeout.emit()
        index = step % 4
        assert bar.index == index and bar.timer.interval() == DURATIONS[index]
        assert shown(tab.view.before) == COLOURS[index]

    qtbot.waitUntil(lambda: bar.index == 3, timeout=5000)  # the real timer moves on by itself
    bar.pause()
    assert not bar.playing and not bar.timer.isActive()


def test_save_writes_an_animation_with_the_frame_count_and_durations(
    qtbot, make_window, animation, monkeypatch
):
    window = make_window()
    open_picture(qtbot, window, animation)
    tab = window.upscale_tab
    assert run(qtbot, window, tab.upscale) == "finished"

    target = animation.parent / "moving.gif"
    offered = []

    def fake_dialog(parent, caption, directory, filters, selected, options):
        offered.append((Path(directory).name, filters, selected))
        return chosen[0], ANIMATION_FILTERS["gif"]

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_dialog)
    monkeypatch.setattr(QInputDialog, "getInt", lambda *args: pytest.fail("a GIF has no quality to ask"))
    chosen = [str(animation.parent / "still.jpg")]
    tab.save_as()  # a format that cannot animate is refused, not saved as one frame
    assert "cannot save an animation as .jpg" in tab.banner.text()
    assert not (animation.parent / "still.jpg").exists()
    assert offered[0] == ("anim_x2.gif", ";;".join(ANIMATION_FILTERS.values()), ANIMATION_FILTERS["gif"])

    chosen[0] = str(target)
    assert run(qtbot, window, tab.save_as) == "finished"
    with Image.open(target) as saved:
        assert saved.is_animated and saved.n_frames == 4 and saved.size == (48, 48)
        durations = []
        for index in range(saved.n_frames):
            saved.seek(index)
            durations.append(saved.info["duration"])
            middle = saved.convert("RGB").getpixel((24, 24))
            assert np.abs(np.subtract(middle, COLOURS[index])).max() <= 8  # GIF's palette
        assert durations == DURATIONS and saved.info.get("loop") == 0
    assert Settings.from_file(animation.parent.parent / "s.ini").output_format == "png"  # stills' own


def test_a_still_picture_hides_the_frame_bar(qtbot, make_window, animation, photo):
    window = make_window()
    open_picture(qtbot, window, animation)
    tab = window.upscale_tab
    tab.frame_bar.play()
    open_picture(qtbot, window, photo)
    assert tab.frame_bar.isHidden() and not tab.frame_bar.timer.isActive() and tab.frames.frames is None
    assert tab.toolbar.compare_button.isEnabled()
    assert run(qtbot, window, tab.upscale) == "finished"
    assert tab.frames.results is None and tab.view.after.width() == 68


def test_cancel_during_an_animation_upscale_leaves_no_result_and_the_tab_usable(
    qtbot, make_window, animation
):
    window = make_window()
    open_picture(qtbot, window, animation)
    tab = window.upscale_tab
    seen = []

    def cancel_on_first_frame(event):
        if event.stage == "frame" and not seen:
            seen.append(event)
            tab.cancel()

    window.jobProgress.connect(cancel_on_first_frame)
    assert run(qtbot, window, tab.upscale) == "cancelled"
    assert seen and seen[0].done < seen[0].total
    assert tab.result is None and tab.frames.results is None and tab.view.after is None
    assert not tab.busy and tab.upscale_action.isEnabled() and not tab.save_action.isEnabled()
    assert window.statusBar().currentMessage() == "Cancelled"

    window.jobProgress.disconnect(cancel_on_first_frame)
    assert run(qtbot, window, tab.upscale) == "finished"
    assert tab.frames.results is not None and tab.frames.results.count == 4
