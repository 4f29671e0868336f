"""The Upscale tab's worker-side jobs for animations: read every frame, upscale them all, save the result.

An animated GIF, APNG or WebP is read whole by `core.animation` and each frame gets its display copy in the
worker, so moving the frame slider or playing only swaps ready QImages on the GUI thread. An animation too
big to hold frame by frame opens as its first frame, as it always did, with a note saying why.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QImage

from sr_studio.core.animation import Animation, load_animation, save_animation, upscale_animation_job
from sr_studio.core.errors import ImageError
from sr_studio.core.formats import is_animated_file
from sr_studio.core.images import DEFAULT_MAX_PIXELS
from sr_studio.core.jobs import CancelToken, Progress, relay
from sr_studio.core.upscale import UpscaleResult
from sr_studio.ui.upscale.qimage import picture_to_qimage

if TYPE_CHECKING:
    from sr_studio.core.library import LoadedModel

TOO_BIG_NOTE = "animation too large to upscale frame by frame: only the first frame is used"
FRAME_STAGE = "frame"  # the status line then reads "frame 3/40 — about 20 s left"


@dataclass(frozen=True)
class Frames:
    """An animation and one display copy per frame."""

    animation: Animation
    images: tuple[QImage, ...]

    @property
    def count(self) -> int:
        return len(self.images)


def frames_of(animation: Animation) -> Frames:
    """`animation` with a display copy of each frame (identical frames share one)."""
    copies: dict[int, QImage] = {}
    images = []
    for frame in animation.frames:
        key = id(frame)  # the upscale job hands back one Picture for each run of identical frames
        if key not in copies:
            copies[key] = picture_to_qimage(frame)
        images.append(copies[key])
    return Frames(animation, tuple(images))


def read_frames(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Frames | None, tuple[str, ...]]:
    """All frames of the animation at `path`, or None for a still picture; and the notes to show.

    One over `max_pixels` in all is None with `TOO_BIG_NOTE`: its first frame is then opened as a still.
    """
    if not is_animated_file(path):
        return None, ()
    try:
        animation = load_animation(path, max_pixels=max_pixels)
    except ImageError:  # too big, or unreadable: the still reader gives its first frame or the real error
        return None, (TOO_BIG_NOTE,)
    if animation is None:
        return None, ()
    return frames_of(animation), animation.notes


def upscale_frames_job(
    frames: Frames, model: LoadedModel, options: dict[str, Any], cancel: CancelToken
) -> Generator[Progress, None, tuple[UpscaleResult, Frames]]:
    """Upscale every frame with `upscale_animation_job` (progress counts frames, with an ETA; cancel is
    checked between and inside frames); `options` are `upscale_job`'s policy. Returns how it was made
    (its picture the first frame) and the upscaled frames."""
    started = time.perf_counter()
    job = upscale_animation_job(frames.animation, model, cancel=cancel, **options)
    upscaled, settings = yield from relay(job, lambda event: replace(event, stage=FRAME_STAGE))
    tile = settings.get("tile")
    result = UpscaleResult(
        picture=upscaled.frames[0],
        model=model.card.name,
        scale=int(model.scale or 1),
        device=str(settings.get("device", "")),
        precision=str(settings.get("precision", "")),
        tile=tile if isinstance(tile, int) else None,
        seconds=time.perf_counter() - started,
        ensemble=bool(options.get("ensemble", False)),
        backend=str(settings.get("backend", "torch")),
    )
    yield Progress(0, 1, "display", info={"text": "preparing the frames…"})
    return result, frames_of(upscaled)


def save_frames_job(
    animation: Animation, path: Path, quality: int | None, overwrite: bool, cancel: CancelToken
) -> Generator[Progress, None, list[Path]]:
    """Write `animation` as an animated GIF, PNG or WebP (durations and loop kept); the path written."""
    cancel.raise_if_cancelled()
    yield Progress(0, 1, "saving", info={"text": f"saving {path.name}…"})
    return [save_animation(animation, path, quality=quality, overwrite=overwrite)]
