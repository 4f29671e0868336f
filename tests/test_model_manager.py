"""Models ▸ Import… and Manage… and dropped weights, driven through the real window, its menus and dialogs."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from sr_studio.core.errors import ModelError
from sr_studio.core.library import save_model_files
from sr_studio.ui.app.main_window import MainWindow
from sr_studio.ui.app.settings import Settings
from sr_studio.ui.jobs import workers
from sr_studio.ui.models.importing import ModelImporter, split_weights
from sr_studio.ui.models.manager import COLUMNS, ModelManagerDialog
from tests.window_helpers import drop, file_mime

TINY_MSR = {"scale": 4, "blocks": 1, "channels": 8}


@pytest.fixture
def window(qtbot, library, tmp_path) -> MainWindow:
    window = MainWindow(
        library=library,
        settings=Settings.from_file(tmp_path / "settings.ini"),
        pool=workers.SynchronousPool(),
    )
    qtbot.addWidget(window)
    return window


def weights_file(folder: Path, stem: str, **arguments: int) -> Path:
    """A small real MSRResNet's weights, as a user would download them."""
    import torch
    from safetensors.torch import save_file

    from sr_studio.models.msrresnet import MSRResNet

    torch.manual_seed(1)
    path = folder / f"{stem}.safetensors"
    save_file(MSRResNet(**{**TINY_MSR, **arguments}).state_dict(), path)
    return path


def choose_files(monkeypatch, *paths: Path) -> None:
    monkeypatch.setattr(
        QFileDialog, "getOpenFileNames", lambda *args: ([str(path) for path in paths], "Model weights")
    )


def answer_names(monkeypatch, *answers: str | None) -> list[tuple]:
    """Answer the name questions in turn; the questions asked."""
    asked: list[tuple] = []
    replies = iter(answers)
    monkeypatch.setattr(ModelImporter, "ask_name", lambda self, *args: asked.append(args) or next(replies))
    return asked


def model_names(combo) -> list[str]:
    return [combo.itemData(index) for index in range(combo.count())]


def open_manager(window: MainWindow) -> ModelManagerDialog:
    window.models_menu.manage_action.trigger()
    dialog = window.models_menu.manager
    assert dialog is not None and dialog.isVisible()
    return dialog


def cells(dialog: ModelManagerDialog, name: str) -> dict[str, str]:
    row = [entry.name for entry in dialog.entries].index(name)
    return {column: dialog.table.item(row, index).text() for index, column in enumerate(COLUMNS)}


# ------------------------------------------------------------------------------------------- importing


def test_import_through_the_menu_lists_and_selects_the_model(window, monkeypatch, tmp_path, library):
    path = weights_file(tmp_path, "My Upscaler x4")
    choose_files(monkeypatch, path)
    window.upscale_tab.toolbar.scale_combo.setCurrentIndex(
        window.upscale_tab.toolbar.scale_combo.findData(2)
    )  # a filter that hides ×4

    window.models_menu.import_action.trigger()

    assert "my-upscaler-x4" in model_names(window.upscale_tab.toolbar.model_combo)
    assert window.upscale_tab.current_model() == "my-upscaler-x4"
    assert [
        window.upscale_tab.toolbar.scale_combo.itemData(i)
        for i in range(window.upscale_tab.toolbar.scale_combo.count())
    ] == [0, 2, 4]
    tip = window.upscale_tab.toolbar.model_combo.itemData(
        window.upscale_tab.toolbar.model_combo.currentIndex(), Qt.ItemDataRole.ToolTipRole
    )
    assert "×4" in tip and "msrresnet" in tip and "your model" in tip
    card = library.find("my-upscaler-x4").card
    assert (card.architecture, card.scale, card.source) == ("msrresnet", 4, str(path.resolve()))
    assert "my-upscaler-x4" in window.statusBar().currentMessage()


def test_a_name_clash_asks_for_another_name(window, monkeypatch, tmp_path, library):
    path = weights_file(tmp_path, "smooth-x2", scale=2)
    choose_files(monkeypatch, path, path)
    asked = answer_names(monkeypatch, "Not A Name!", "smooth-mine", None)

    window.models_menu.import_action.trigger()

    assert asked[0] == (path, "smooth-x2-2", "a model named smooth-x2 already exists")
    assert asked[1][1] == "not-a-name" and "invalid model name" in asked[1][2]  # asked again, saying why
    assert asked[2][2] == "a model named smooth-x2 already exists"  # the second copy: cancelled
    assert len(asked) == 3
    assert library.find("smooth-mine").card.source == str(path.resolve())
    assert [e.name for e in library.entries() if e.name.startswith("smooth")] == ["smooth-mine", "smooth-x2"]
    assert window.upscale_tab.current_model() == "smooth-mine"


def test_a_broken_file_gives_one_line_naming_it_and_the_rest_still_import(window, monkeypatch, tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"these are not weights")
    good = weights_file(tmp_path, "good")
    choose_files(monkeypatch, good, bad)

    window.models_menu.import_action.trigger()

    assert "good" in model_names(window.upscale_tab.toolbar.model_combo)
    message = window.statusBar().currentMessage()
    assert "bad.pth" in message and message.startswith("Cannot import")
    assert "\n" not in message and "Traceback" not in message
    assert window.upscale_tab.banner.text() == message


def test_dropping_weights_imports_them_and_pictures_still_open(qtbot, window, tmp_path, photo):
    path = weights_file(tmp_path, "dropped-x4")
    with qtbot.waitSignal(window.jobEnded):  # the picture opens as before
        event = drop(window, file_mime(path, photo))
    assert event.isAccepted()
    assert "dropped-x4" in model_names(window.upscale_tab.toolbar.model_combo)
    assert window.upscale_tab.opened is not None and window.upscale_tab.opened.name == "photo.png"


def test_dropping_only_weights_opens_no_picture(window, tmp_path):
    event = drop(window, file_mime(weights_file(tmp_path, "alone")))
    assert event.isAccepted()
    assert (
        window.upscale_tab.current_model() == "alone"
        and window.upscale_tab.opened is None
        and window.batch_dialog is None
    )


def test_split_weights_keeps_pictures_and_folders_apart(tmp_path):
    paths = [tmp_path / "a.PTH", tmp_path / "b.png", tmp_path / "c.pt", tmp_path / "d.safetensors", tmp_path]
    assert split_weights(paths) == ([paths[0], paths[2], paths[3]], [paths[1], tmp_path])


# -------------------------------------------------------------------------------------------- managing


@pytest.fixture
def builtin_model(library):
    """A built-in upscaler next to the fixture's user models, and a broken user card."""
    from sr_studio.models.msrresnet import MSRResNet

    save_model_files(
        library.builtin_dir,
        MSRResNet(**TINY_MSR),
        name="shipped-x4",
        task="upscale",
        architecture="msrresnet",
        arguments=TINY_MSR,
        description="a built-in test model",
        metrics={"after": {"psnr": 30.5}, "images": 3},
    )
    (library.user_dir / "broken.json").write_text("not a card", encoding="utf-8")
    return "shipped-x4"


def test_manage_lists_built_in_and_user_models_and_problems(window, builtin_model):
    dialog = open_manager(window)

    assert [entry.name for entry in dialog.entries] == ["shipped-x4", "smooth-x2", "tiny-gan", "tiny-x2"]
    shipped = cells(dialog, "shipped-x4")
    assert (shipped["Task"], shipped["Scale"], shipped["Architecture"], shipped["Kind"]) == (
        "upscale",
        "×4",
        "msrresnet",
        "built in",
    )
    assert shipped["Quality"] == "val 30.50 dB on 3 images" and shipped["Size"].endswith("KB")
    assert cells(dialog, "tiny-gan")["Scale"] == "—" and cells(dialog, "tiny-x2")["Kind"] == "yours"
    assert cells(dialog, "smooth-x2")["Description"] == "bilinear ×2 in MSRResNet's clothing"
    problems = [dialog.problems_list.item(i).text() for i in range(dialog.problems_list.count())]
    assert len(problems) == 1 and "broken.json" in problems[0] and "malformed" in problems[0]


def test_remove_asks_then_deletes_a_user_model_and_the_pickers_follow(window, monkeypatch, builtin_model):
    window.upscale_tab.toolbar.select_model("smooth-x2")
    dialog = open_manager(window)
    answers = [False, True]
    asked: list[str] = []
    monkeypatch.setattr(
        ModelManagerDialog, "ask_remove", lambda self, name: asked.append(name) or answers.pop(0)
    )
    dialog.select("smooth-x2")
    assert dialog.remove_button.isEnabled()

    dialog.remove_button.click()  # "no": nothing happens
    assert window.library.find("smooth-x2") and "smooth-x2" in model_names(
        window.upscale_tab.toolbar.model_combo
    )
    dialog.remove_button.click()

    assert asked == ["smooth-x2", "smooth-x2"]
    with pytest.raises(ModelError, match="no model named"):
        window.library.find("smooth-x2")
    assert "smooth-x2" not in model_names(window.upscale_tab.toolbar.model_combo)
    assert window.upscale_tab.current_model() in model_names(window.upscale_tab.toolbar.model_combo)
    assert "smooth-x2" not in [entry.name for entry in dialog.entries]


def test_a_built_in_model_cannot_be_removed(window, monkeypatch, builtin_model):
    dialog = open_manager(window)
    monkeypatch.setattr(ModelManagerDialog, "ask_remove", lambda self, name: pytest.fail("asked"))
    dialog.select("shipped-x4")
    assert not dialog.remove_button.isEnabled() and "built in" in dialog.remove_button.toolTip()
    dialog.remove_selected()
    assert window.library.find("shipped-x4").builtin


def test_the_open_manager_lists_a_model_imported_meanwhile(window, monkeypatch, tmp_path):
    dialog = open_manager(window)
    choose_files(monkeypatch, weights_file(tmp_path, "later"))
    window.models_menu.import_action.trigger()
    assert "later" in [entry.name for entry in dialog.entries]
