"""The wizard in the main window: Tools ▸ Fine-tune opens it, its new model is selected where it belongs,
and closing the window while a job runs asks first. Real training is covered by tests/test_wizard.py:
here a model "arrives" as the wizard announces it, and a running job is faked."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox

from sr_studio.models.srresnet import SRResNet
from sr_studio.ui.app.main_window import STOP_TRAINING_QUESTION, MainWindow
from sr_studio.ui.app.settings import Settings
from sr_studio.ui.jobs import workers
from sr_studio.ui.wizard.wizard import FineTuneWizard


@pytest.fixture
def window(qtbot, library, tmp_path: Path) -> MainWindow:
    window = MainWindow(
        library=library,
        settings=Settings.from_file(tmp_path / "settings.ini"),
        pool=workers.SynchronousPool(),
    )
    qtbot.addWidget(window)
    window.show()
    return window


class Questions:
    """Stands in for QMessageBox.question: records each question and gives a set answer."""

    def __init__(self, answer: QMessageBox.StandardButton) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def __call__(self, parent, title, text, *args) -> QMessageBox.StandardButton:
        self.asked.append(text)
        return self.answer


def test_tools_menu_opens_one_non_modal_wizard(qtbot, window, monkeypatch):
    (tools,) = [action.menu() for action in window.menuBar().actions() if action.text() == "&Tools"]
    assert window.fine_tune_action in tools.actions()
    assert window.fine_tune_action.shortcut() == QKeySequence("Ctrl+T")
    window.fine_tune_action.trigger()
    wizard = window.wizard
    assert isinstance(wizard, FineTuneWizard) and wizard.isVisible() and not wizard.isModal()
    window.fine_tune_action.trigger()
    assert window.wizard is wizard  # the open one is reused
    wizard.close()
    window.fine_tune_action.trigger()
    assert window.wizard is not wizard and window.wizard.isVisible()  # a closed one starts afresh

    questions = Questions(QMessageBox.StandardButton.No)
    monkeypatch.setattr(QMessageBox, "question", questions)
    assert window.close() and questions.asked == []  # no job: nothing to ask


def test_a_new_upscaler_is_listed_selected_and_shown(qtbot, window, library):
    arguments = {"scale": 4, "blocks": 1, "channels": 8}
    network = SRResNet(**arguments)
    library.add(
        network, name="tuned-x4", task="upscale", architecture="srresnet", arguments=arguments, scale=4
    )
    window.upscale_tab.toolbar.scale_combo.setCurrentIndex(
        window.upscale_tab.toolbar.scale_combo.findData(2)
    )  # a filter that hides ×4
    window.tabs.setCurrentWidget(window.gan_tab)
    window.fine_tune_action.trigger()
    window.wizard.modelReady.emit("tuned-x4")
    assert window.tabs.currentWidget() is window.upscale_tab
    assert (
        window.upscale_tab.current_model() == "tuned-x4"
        and window.upscale_tab.toolbar.scale_combo.currentData() == 0
    )
    assert window.settings.model == "tuned-x4"
    assert "tuned-x4" in window.statusBar().currentMessage()


def test_a_new_upscaler_keeps_a_filter_it_passes(qtbot, window, library):
    library.install(library.find("smooth-x2").card_path, name="smooth-tuned")
    window.upscale_tab.toolbar.scale_combo.setCurrentIndex(window.upscale_tab.toolbar.scale_combo.findData(2))
    window.fine_tune_action.trigger()
    window.wizard.modelReady.emit("smooth-tuned")
    assert (
        window.upscale_tab.current_model() == "smooth-tuned"
        and window.upscale_tab.toolbar.scale_combo.currentData() == 2
    )


def test_a_new_sampler_is_selected_in_the_gan_tab(qtbot, window, library):
    library.install(library.find("tiny-gan").card_path, name="my-gan")
    assert window.gan_tab.model_combo.findData("my-gan") < 0  # not listed until the wizard says so
    upscaler = window.upscale_tab.current_model()
    window.fine_tune_action.trigger()
    window.wizard.modelReady.emit("my-gan")
    assert window.tabs.currentWidget() is window.gan_tab
    assert window.gan_tab.model_combo.currentData() == "my-gan"
    assert window.upscale_tab.current_model() == upscaler  # the upscaler choice is left alone


def test_closing_while_training_asks_and_stops_the_job_only_on_yes(qtbot, window, monkeypatch):
    window.fine_tune_action.trigger()
    wizard = window.wizard
    monkeypatch.setattr(FineTuneWizard, "running", property(lambda self: True))
    stops: list[bool] = []
    monkeypatch.setattr(wizard, "stop_job", lambda: stops.append(True) or True)

    questions = Questions(QMessageBox.StandardButton.No)
    monkeypatch.setattr(QMessageBox, "question", questions)
    assert not window.close()
    assert window.isVisible() and questions.asked == [STOP_TRAINING_QUESTION] and stops == []

    questions.answer = QMessageBox.StandardButton.Yes
    assert window.close()
    assert not window.isVisible() and len(questions.asked) == 2 and stops == [True]
