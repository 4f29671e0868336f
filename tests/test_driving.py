"""The event-loop waits that scripts (screenshots, benchmarks) use instead of sleeps."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QTimer, Signal


def _load_driving():  # a script helper in benchmarks/, not part of the package
    spec = importlib.util.spec_from_file_location(
        "driving", Path(__file__).parent.parent / "benchmarks" / "driving.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_driving = _load_driving()
run_for, wait_for, wait_until = _driving.run_for, _driving.wait_for, _driving.wait_until


class Emitter(QObject):
    fired = Signal(int)


def test_wait_for_returns_the_signal_arguments_after_the_action(qapp):
    emitter = Emitter()
    assert wait_for(emitter.fired, lambda: QTimer.singleShot(10, lambda: emitter.fired.emit(7))) == (7,)


def test_wait_for_times_out_with_a_clear_error(qapp):
    emitter = Emitter()
    with pytest.raises(TimeoutError, match="no signal"):
        wait_for(emitter.fired, lambda: None, timeout_s=0.05)


def test_wait_until_runs_the_event_loop_until_the_condition_holds(qapp):
    seen: list[int] = []
    QTimer.singleShot(20, lambda: seen.append(1))
    wait_until(lambda: bool(seen), timeout_s=5)
    assert seen == [1]
    with pytest.raises(TimeoutError, match="condition"):
        wait_until(lambda: False, timeout_s=0.05)


def test_run_for_keeps_events_flowing(qapp):
    ticks: list[float] = []
    timer = QTimer(interval=5)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    run_for(0.1)
    timer.stop()
    assert len(ticks) >= 3
