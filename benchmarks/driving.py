"""Driving the real window from scripts (screenshots, benchmarks): wait while Qt's event loop runs.

Tests use qtbot for this; scripts have no qtbot, and a fixed sleep would either waste time or race.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer, SignalInstance

TIMEOUT_S = 600.0


def wait_for(signal: SignalInstance, action: Callable[[], Any], timeout_s: float = TIMEOUT_S) -> tuple:
    """Run `action`, then spin the event loop until `signal` fires; return its arguments."""
    loop = QEventLoop()
    received: list[tuple] = []

    def fired(*args: Any) -> None:
        received.append(args)
        loop.quit()

    signal.connect(fired)
    guard = QTimer(singleShot=True)
    guard.timeout.connect(loop.quit)
    guard.start(int(timeout_s * 1000))
    try:
        action()
        if not received:
            loop.exec()
    finally:
        signal.disconnect(fired)
        guard.stop()
    if not received:
        raise TimeoutError(f"no signal within {timeout_s:.0f} s")
    return received[0]


def wait_until(condition: Callable[[], bool], timeout_s: float = TIMEOUT_S, poll_ms: int = 20) -> None:
    """Spin the event loop until `condition()` holds (checked every `poll_ms` while events flow)."""
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    poll = QTimer(interval=poll_ms)
    poll.timeout.connect(lambda: (condition() or time.monotonic() > deadline) and loop.quit())
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    if not condition():
        raise TimeoutError(f"condition not met within {timeout_s:.0f} s")


def run_for(seconds: float) -> None:
    """Keep the event loop running for a while (a measuring window), without blocking it."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
