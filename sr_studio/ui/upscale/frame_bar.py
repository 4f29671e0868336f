"""The bar under the split view for an animation: a frame slider, the frame's number and duration, and
play/pause.

Playing waits each frame's own duration (a single-shot timer restarted per frame, as frames differ) and
loops. It only moves the frame index: the tab shows the frame, so the slider, playback and the view can
never disagree. For a still picture the bar is hidden and never ticks.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QWidget

# Browsers play a GIF frame of 0-10 ms at 100 ms; a file asking for that means "as the viewer likes".
MIN_DURATION_MS = 20
DEFAULT_DURATION_MS = 100


def play_duration(duration: int) -> int:
    """How long a frame stays on screen when playing, in ms: its own duration, or 100 ms for a tiny one."""
    return duration if duration >= MIN_DURATION_MS else DEFAULT_DURATION_MS


class FrameBar(QWidget):
    """Frame slider (1..N) with play/pause for an animation's frames."""

    frameChanged = Signal(int)  # the frame now current, 0-based

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._durations: tuple[int, ...] = ()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.advance)
        self.play_button = QToolButton()
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._set_playing)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setMinimum(1)
        self.slider.valueChanged.connect(self._slider_moved)
        self.label = QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.play_button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self._show_play_state()
        self.set_durations(())

    @property
    def count(self) -> int:
        return len(self._durations)

    @property
    def index(self) -> int:
        """The current frame, 0-based."""
        return self.slider.value() - 1

    @property
    def playing(self) -> bool:
        return self.play_button.isChecked()

    def set_durations(self, durations: Sequence[int]) -> None:
        """A new animation's frame durations (ms): frame 1, paused; fewer than two frames hide the bar."""
        self.pause()
        self._durations = tuple(int(d) for d in durations)
        self.slider.blockSignals(True)  # the tab shows the first frame itself
        self.slider.setMaximum(max(1, self.count))
        self.slider.setValue(1)
        self.slider.blockSignals(False)
        self.setVisible(self.count > 1)
        self._show_label()

    def set_index(self, index: int) -> None:
        """Go to frame `index` (0-based); `frameChanged` follows if it moved."""
        self.slider.setValue(index + 1)

    def play(self) -> None:
        self.play_button.setChecked(True)

    def pause(self) -> None:
        self.play_button.setChecked(False)

    def advance(self) -> None:
        """The next frame, after the last the first (the timer's tick; playback continues from there)."""
        if self.count > 1:
            self.set_index((self.index + 1) % self.count)  # which schedules the frame after it

    def _set_playing(self, playing: bool) -> None:
        self._show_play_state()
        if playing and self.count > 1:
            self._schedule()
        else:
            self.timer.stop()
            if playing:  # nothing to play
                self.play_button.setChecked(False)

    def _schedule(self) -> None:
        """While playing, wait the current frame's duration before the next."""
        if self.playing and self.count > 1:
            self.timer.start(play_duration(self._durations[self.index]))

    def _slider_moved(self) -> None:
        self._show_label()
        self._schedule()  # a frame picked while playing gets its whole duration
        self.frameChanged.emit(self.index)

    def _show_label(self) -> None:
        if self.count:
            duration = self._durations[self.index]
            self.label.setText(f"Frame {self.index + 1}/{self.count} · {duration} ms")
        else:
            self.label.clear()

    def _show_play_state(self) -> None:
        playing = self.playing
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setToolTip("Pause" if playing else "Play the animation (loops)")
        self.play_button.setText("Pause" if playing else "Play")
