"""The GAN tab: grids and interpolations match core sampling, clicks select, saves and upscale requests."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from sr_studio.core import sample as sampling
from sr_studio.core.errors import Cancelled
from sr_studio.core.images import load_image
from sr_studio.core.jobs import CancelToken
from sr_studio.ui.common import ModelCache
from sr_studio.ui.gan import tab as gan_tab
from sr_studio.ui.gan.tab import GanTab, Generation, GenerationRequest

TIMEOUT_MS = 15_000


@pytest.fixture
def tab(qtbot, library):
    widget = GanTab(library)
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def generate(qtbot, tab, *, seed=7, rows=2, columns=2):
    tab.seed_spin.setValue(seed)
    tab.rows_spin.setValue(rows)
    tab.columns_spin.setValue(columns)
    with qtbot.waitSignal(tab.samplesReady, timeout=TIMEOUT_MS):
        qtbot.mouseClick(tab.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.job is None, timeout=TIMEOUT_MS)


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x.pixels, y.pixels) for x, y in zip(a, b, strict=True))


def click_thumbnail(qtbot, tab, index):
    rect = tab.view.visualItemRect(tab.view.item_at(index))
    qtbot.mouseClick(tab.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def choose_save_path(monkeypatch, path):
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(path), "PNG image (*.png)")
    )


def test_the_combo_lists_samplers_with_size_and_the_description_in_the_tooltip(tab):
    assert tab.model_combo.count() == 1
    assert tab.model_combo.currentText() == "tiny-gan — 32×32"  # short: never clipped
    tooltip = tab.model_combo.itemData(0, Qt.ItemDataRole.ToolTipRole)
    assert tooltip == "tiny-gan — 32×32 — a tiny random test sampler"
    assert tab.hint_label.isHidden() and tab.generate_button.isEnabled()


def test_a_grid_shows_the_samples_core_sampling_draws(qtbot, tab, library):
    generate(qtbot, tab, seed=7)
    assert (tab.view.rowCount(), tab.view.columnCount()) == (2, 2)
    assert same(tab.samples, sampling.sample(library.load("tiny-gan"), 4, 7))
    assert tab.view.iconSize().width() == 96  # 32 px enlarged 3× for display
    assert tab.save_grid_button.isEnabled() and not tab.save_selected_button.isEnabled()


def test_same_seed_same_pictures_other_seed_other_pictures(qtbot, tab):
    generate(qtbot, tab, seed=3)
    first = tab.samples
    generate(qtbot, tab, seed=3)
    assert same(tab.samples, first)
    generate(qtbot, tab, seed=4)
    assert not np.array_equal(tab.samples[0].pixels, first[0].pixels)


def test_truncation_changes_the_samples(qtbot, tab, library):
    generate(qtbot, tab, seed=5)
    plain = tab.samples
    tab.truncation_check.setChecked(True)
    tab.truncation_spin.setValue(0.5)
    generate(qtbot, tab, seed=5)
    assert not same(tab.samples, plain)
    assert same(tab.samples, sampling.sample(library.load("tiny-gan"), 4, 5, truncation=0.5))


def test_interpolation_is_one_strip_from_seed_a_to_seed_b(qtbot, tab, library):
    tab.mode_combo.setCurrentIndex(tab.mode_combo.findData(gan_tab.INTERPOLATE))
    assert tab.form.isRowVisible(tab.frames_spin) and not tab.form.isRowVisible(tab.grid_options)
    tab.seed_b_spin.setValue(12)
    tab.frames_spin.setValue(5)
    generate(qtbot, tab, seed=11)
    model = library.load("tiny-gan")
    assert len(tab.samples) == 5 and (tab.view.rowCount(), tab.view.columnCount()) == (1, 5)
    assert np.array_equal(tab.samples[0].pixels, sampling.sample(model, 1, 11)[0].pixels)
    assert np.array_equal(tab.samples[-1].pixels, sampling.sample(model, 1, 12)[0].pixels)


def test_clicking_a_thumbnail_selects_that_sample(qtbot, tab):
    generate(qtbot, tab, seed=7)
    click_thumbnail(qtbot, tab, 2)
    assert tab.selected_index == 2
    assert tab.selection_label.text() == "seed 7, #2"
    assert tab.save_selected_button.isEnabled() and tab.upscale_button.isEnabled()


def test_save_selected_writes_the_sample_as_png(qtbot, tab, tmp_path, monkeypatch):
    generate(qtbot, tab)
    click_thumbnail(qtbot, tab, 1)
    target = tmp_path / "one"  # no extension: .png is added
    choose_save_path(monkeypatch, target)
    with qtbot.waitSignal(tab.saved, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(tab.save_selected_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [str(tmp_path / "one.png")]
    assert np.array_equal(load_image(tmp_path / "one.png").pixels, tab.samples[1].pixels)
    assert tab.status_label.text() == "Saved one.png"


def test_save_grid_writes_the_grid_picture(qtbot, tab, tmp_path, monkeypatch):
    generate(qtbot, tab, rows=2, columns=3)
    target = tmp_path / "grid.png"
    target.write_bytes(b"old")  # the file dialog asked already: replaced
    choose_save_path(monkeypatch, target)
    with qtbot.waitSignal(tab.saved, timeout=TIMEOUT_MS):
        qtbot.mouseClick(tab.save_grid_button, Qt.MouseButton.LeftButton)
    expected = sampling.grid(tab.samples, columns=3)
    assert np.array_equal(load_image(target).pixels, expected.pixels)


def test_a_failed_save_shows_inline(qtbot, tab, tmp_path, monkeypatch):
    generate(qtbot, tab)
    choose_save_path(monkeypatch, tmp_path / "missing" / "grid.png")
    qtbot.mouseClick(tab.save_grid_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.error_label.isHidden(), timeout=TIMEOUT_MS)
    assert "the folder does not exist" in tab.error_label.text()


def test_upscale_selected_emits_the_picture(qtbot, tab):
    generate(qtbot, tab)
    click_thumbnail(qtbot, tab, 3)
    with qtbot.waitSignal(tab.upscaleRequested) as blocker:
        qtbot.mouseClick(tab.upscale_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] is tab.samples[3]


def test_without_samplers_generate_is_disabled_with_a_hint(qtbot, library):
    library.remove("tiny-gan")
    widget = GanTab(library)
    qtbot.addWidget(widget)
    assert not widget.hint_label.isHidden()
    assert widget.hint_label.text() == "No GAN models yet — train one in the wizard"
    assert not widget.generate_button.isEnabled()
    assert not widget.save_grid_button.isEnabled()


def test_the_model_is_loaded_once_for_many_generates(qtbot, tab, library, monkeypatch):
    loads = []
    real_load = library.load
    monkeypatch.setattr(library, "load", lambda entry: loads.append(entry.name) or real_load(entry))
    generate(qtbot, tab, seed=1)
    generate(qtbot, tab, seed=2)
    assert loads == ["tiny-gan"]


def test_a_new_generate_cancels_the_running_one_and_ignores_its_results(qtbot, tab, library, monkeypatch):
    gate = threading.Event()  # holds the first job in its model load until the second has started
    real_get = tab.models.get
    calls = []

    def get(name):
        calls.append(name)
        if len(calls) == 1:
            gate.wait(TIMEOUT_MS / 1000)
        return real_get(name)

    monkeypatch.setattr(tab.models, "get", get)
    tab.seed_spin.setValue(1)
    qtbot.mouseClick(tab.generate_button, Qt.MouseButton.LeftButton)
    first = tab.job
    tab.seed_spin.setValue(2)
    with qtbot.waitSignals([tab.samplesReady, first.cancelled], timeout=TIMEOUT_MS):
        qtbot.mouseClick(tab.generate_button, Qt.MouseButton.LeftButton)
        gate.set()
    qtbot.waitUntil(lambda: tab.job is None, timeout=TIMEOUT_MS)
    model = library.load("tiny-gan")
    assert same(tab.samples, sampling.sample(model, 16, 2))
    assert tab.jobs.bar.isHidden()
    stale = Generation(GenerationRequest("tiny-gan", gan_tab.GRID, 1), sampling.sample(model, 16, 1))
    with qtbot.assertNotEmitted(tab.samplesReady):
        first.finished.emit(stale)  # a result that raced its cancel changes nothing
    assert same(tab.samples, sampling.sample(model, 16, 2))


def test_an_unusable_model_shows_its_error_inline(qtbot, tab, library):
    library.find("tiny-gan").weights_path.write_bytes(b"not weights")
    qtbot.mouseClick(tab.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.error_label.isHidden(), timeout=TIMEOUT_MS)
    assert "tiny-gan.safetensors" in tab.error_label.text()
    assert "do not match their card" in tab.error_label.text()
    assert tab.samples == []


def test_the_job_reports_each_batch_and_stops_when_cancelled(library):
    request = GenerationRequest(model="tiny-gan", mode=gan_tab.GRID, seed=0, rows=4, columns=5)
    job = gan_tab.generation_job(request, ModelCache(library), CancelToken())
    events = []
    while True:
        try:
            events.append(next(job))
        except StopIteration as stop:
            generation = stop.value
            break
    assert [(e.done, e.total) for e in events] == [(0, 20), (16, 20), (20, 20)]
    assert len(generation.pictures) == 20
    token = CancelToken()
    job = gan_tab.generation_job(request, ModelCache(library), token)
    next(job)
    token.cancel()
    with pytest.raises(Cancelled):
        next(job)


def fits_the_width(view) -> bool:
    """Whether every column of thumbnails is inside the view, none cut off at its right edge."""
    return sum(view.columnWidth(column) for column in range(view.columnCount())) <= view.viewport().width()


def test_a_big_grid_and_a_long_strip_fit_the_window(qtbot, tab):
    generate(qtbot, tab, rows=8, columns=8)
    assert (tab.view.rowCount(), tab.view.columnCount()) == (8, 8)
    assert fits_the_width(tab.view)
    assert tab.view.iconSize().width() % 32 == 0  # still a whole enlargement: crisp pixels

    tab.mode_combo.setCurrentIndex(tab.mode_combo.findData(gan_tab.INTERPOLATE))
    tab.frames_spin.setValue(32)
    generate(qtbot, tab, seed=3)
    assert tab.view.rowCount() > 1 and tab.view.columnCount() < 32  # the strip wraps
    assert fits_the_width(tab.view)
    click_thumbnail(qtbot, tab, 20)
    assert tab.selected_index == 20 and tab.selected_picture is tab.samples[20]

    tab.resize(600, 600)  # narrower: fewer to a row, still all in view, the selection kept
    qtbot.waitUntil(lambda: fits_the_width(tab.view))
    assert tab.selected_index == 20
