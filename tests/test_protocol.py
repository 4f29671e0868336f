"""The training protocol is declared once: the job, the GUI's process wrapper and the stop request use its
names, and the job's validation split is the rule the wizard previews."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from sr_studio.train import job, protocol, stop
from sr_studio.train.config import config_from_dict
from sr_studio.train.data import _split_off
from sr_studio.ui.wizard import plan as wizard_plan
from sr_studio.ui.wizard import training_process

SHARED = ("CHECKPOINT", "CONFIG", "EVENTS", "STOP_FILE", "TERMINAL_EVENTS", "BEST", "EXIT_STOPPED")


@pytest.mark.parametrize("module", [job, training_process, stop], ids=lambda m: m.__name__)
def test_the_job_and_its_faces_import_the_protocol_instead_of_declaring_copies(module):
    source = inspect.getsource(module)
    for name in SHARED:
        if hasattr(module, name):
            assert getattr(module, name) == getattr(protocol, name)
            assert f"\n{name} = " not in source, f"{module.__name__} declares its own {name}"
    for literal in ('"checkpoint.pt"', '"config.toml"', '"events.jsonl"', '"best.safetensors"'):
        assert literal not in source


def test_terminal_events_are_the_ends_of_a_run_and_of_a_probe():
    assert {protocol.DONE, protocol.STOPPED, protocol.ERROR, protocol.PROBE} == protocol.TERMINAL_EVENTS
    assert protocol.STEP not in protocol.TERMINAL_EVENTS


@pytest.mark.parametrize("share", [0.0, 0.05, 0.1, 0.125, 0.34, 0.5, 0.9])
def test_the_job_holds_back_as_many_images_as_the_protocol_and_the_wizard_say(tmp_path, share):
    config = config_from_dict({"data": {"train": ["x"], "val_share": share}}, tmp_path, "test")
    for count in range(0, 41):
        images = [np.zeros((1, 1, 3), np.uint8) for _ in range(count)]
        files = [tmp_path / f"{index}.png" for index in range(count)]
        val, val_files = _split_off(config, images, files)
        expected = protocol.validation_count(count, share)
        assert len(val) == len(val_files) == expected, (count, share)
        assert len(images) == count - expected
        assert wizard_plan.validation_count(count, share) == expected


def test_one_image_is_never_held_back():
    assert protocol.validation_count(1, 0.9) == 0 and protocol.validation_count(2, 0.5) == 1
