"""The shared job pieces: the worker hands the exception itself to the GUI thread, `relay` passes a job's
events on changed, the device combo every face uses, and the one GAN file-name rule."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from sr_studio.core import sample as sampling
from sr_studio.core.errors import UsageError
from sr_studio.core.jobs import CancelToken, Progress, relay, run_job
from sr_studio.ui.jobs import workers
from sr_studio.ui.jobs.devices import DeviceCombo


def failing(error: Exception):
    def job(cancel: CancelToken) -> Generator[Progress, None, None]:
        yield Progress(0, 1, "work")
        raise error

    return job


@pytest.mark.parametrize("error", [UsageError("tile must be at least 16 pixels"), ValueError("a bug")])
def test_the_exception_itself_reaches_the_gui_thread_and_the_user_reads_one_line(qtbot, data_dir, error):
    errors, messages, ended = [], [], []
    workers.start_job(
        failing(error),
        workers.SynchronousPool(),
        errored=errors.append,
        failed=messages.append,
        ended=lambda: ended.append(True),
    )
    assert errors == [error] and errors[0] is error and ended == [True]
    if isinstance(error, UsageError):
        assert messages == ["tile must be at least 16 pixels"]
    else:
        assert messages[0].startswith("internal error: ValueError: a bug (details in ")


def test_relay_converts_each_event_and_returns_the_result():
    def job() -> Generator[int, None, str]:
        yield 1
        yield 2
        return "done"

    def outer() -> Generator[int, None, str]:
        result = yield from relay(job(), lambda n: n * 10)
        return result + "!"

    seen: list[int] = []
    assert run_job(outer(), seen.append) == "done!"
    assert seen == [10, 20]


def test_the_device_combo_starts_with_auto_keeps_a_remembered_device_and_lists_torch_s_once(qtbot):
    combo = DeviceCombo()
    qtbot.addWidget(combo)
    assert [combo.itemData(i) for i in range(combo.count())] == ["auto"]
    combo.select("cuda:3")  # remembered from another session: offered before the probe
    assert combo.current_device() == "cuda:3"
    with qtbot.waitSignal(combo.listed) as listed:
        combo.probe(workers.SynchronousPool())
    assert ("cpu", "CPU") in listed.args[0] and combo.findData("cpu") >= 0
    assert combo.current_device() == "cuda:3"  # the choice stays
    with qtbot.assertNotEmitted(combo.listed):
        combo.probe(workers.SynchronousPool())  # once


def test_gan_file_names_are_the_cli_s():
    assert sampling.file_name(7, 3) == "seed7_003.png"
    assert sampling.file_name(7, None) == "seed7_000_grid.png"
    assert sampling.file_name(1, 4, 2) == "interp_1_2_004.png"
    assert sampling.file_name(1, None, 2) == "interp_1_2_000_grid.png"
