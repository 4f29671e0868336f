"""Which frame of an animation the split view shows: the current frame's original on the left and, once
upscaled, the same frame's result on the right, moved together by the frame bar.

Every frame's display copy is made in the worker that read or upscaled it, so a frame change here only
hands two ready QImages to the view (of one size each, so the view keeps its zoom and pan).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QImage

    from sr_studio.core.picture import Picture
    from sr_studio.ui.upscale.animation_jobs import Frames
    from sr_studio.ui.upscale.frame_bar import FrameBar
    from sr_studio.ui.upscale.split_view import SplitView


class FramesShown:
    """The animation open in the view (None: a still picture), its upscaled frames, and the frame bar."""

    def __init__(self, view: SplitView, bar: FrameBar) -> None:
        self.view = view
        self.bar = bar
        self.frames: Frames | None = None  # the originals
        self.results: Frames | None = None  # their upscaled frames, once there

    def open(self, frames: Frames | None) -> None:
        """A new picture: its frames (None: a still, and the bar hides), frame 1, no results."""
        self.frames, self.results = frames, None
        self.bar.set_durations(frames.animation.durations if frames is not None else ())

    def set_results(self, results: Frames | None) -> bool:
        """Show `results` (None: none) beside the originals; False if they are not this animation's."""
        if results is not None and (self.frames is None or results.count != self.frames.count):
            return False
        self.results = results
        if results is not None:
            self.show(self.bar.index)
        return True

    def current(self) -> tuple[Picture, QImage] | None:
        """The current frame's original and its display copy; None for a still picture."""
        if self.frames is None:
            return None
        index = self.bar.index
        return self.frames.animation.frames[index], self.frames.images[index]

    def show(self, index: int) -> None:
        """Frame `index`'s original and, if upscaled, its result."""
        if self.frames is None:
            return
        self.view.set_before(self.frames.images[index])
        if self.results is not None:
            self.view.set_after(self.results.images[index])
