"""The Upscale tab's worker-side jobs: open a picture, upscale, compare, preview a crop, save.

Opening a file reads an animation whole (`animation_jobs`), so its frames can be shown and upscaled.

Each runs in a worker (see `workers`), so everything that touches pixels — loading, converting to a
QImage, the network — happens off the GUI thread; the tab only moves the finished results into the view.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QRect
from PySide6.QtGui import QImage

from sr_studio.core.images import ANIMATED_NOTE, Picture, load_image, save_image
from sr_studio.core.jobs import CancelToken, Progress, relay
from sr_studio.core.upscale import UpscaleResult, parse_tile, upscale_job
from sr_studio.ui.upscale.animation_jobs import Frames, read_frames, upscale_frames_job
from sr_studio.ui.upscale.qimage import picture_to_qimage, qimage_to_picture

if TYPE_CHECKING:
    from sr_studio.core.library import LoadedModel
    from sr_studio.ui.app.settings import Settings
    from sr_studio.ui.common import ModelCache

PREVIEW_MAX_SIDE = 256  # input pixels a side: a preview answers in a second or two on a CPU


@dataclass(frozen=True)
class Opened:
    """A picture ready to show: the pixels, their display copy and what to call it; for an animation also
    all its frames (`picture` and `image` are then its first)."""

    picture: Picture
    image: QImage
    name: str
    path: Path | None = None
    frames: Frames | None = None


@dataclass(frozen=True)
class Upscaled:
    """A finished upscale and its display copy; of an animation also all its frames (`result.picture` and
    `image` are then the first's)."""

    result: UpscaleResult
    image: QImage
    frames: Frames | None = None


@dataclass(frozen=True)
class Compared:
    """Two models' results on the same picture: A shown left, B right."""

    a: Upscaled
    b: Upscaled


@dataclass(frozen=True)
class Previewed:
    """An upscaled crop, where it sits in the output, and how it was made (its picture is the crop)."""

    image: QImage
    region: QRect
    result: UpscaleResult
    whole: bool  # the crop is all the view showed, not a part around its centre

    def describe(self) -> str:
        """The status line under the preview: how much of the picture it is, and where."""
        result, scale = self.result, self.result.scale
        where = "all the view shows" if self.whole else "at the centre of the view"
        return (
            f"Preview: {self.region.width() // scale}×{self.region.height() // scale} input pixels {where} "
            f"(outlined), ×{scale} with {result.model} in {result.seconds:.1f} s; "
            "Upscale does the whole picture"
        )


@dataclass(frozen=True)
class Crop:
    """A preview crop in input pixels: the core the user sees and the padded area given to the network."""

    core: tuple[int, int, int, int]  # x0, y0, x1, y1
    padded: tuple[int, int, int, int]
    whole: bool  # the core is all of the visible region (none of it was cut to max_side)


def preview_crop(
    visible: tuple[float, float, float, float],
    width: int,
    height: int,
    pad: int,
    max_side: int = PREVIEW_MAX_SIDE,
) -> Crop:
    """The input region behind a visible region (x0, y0, x1, y1 in input pixels), at most max_side² pixels
    around its centre, plus `pad` pixels of context on each side (the network's receptive radius)."""
    x0, y0, x1, y1 = visible
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

    def span(low: float, high: float, centre: float, size: int) -> tuple[int, int, bool]:
        start, stop = max(0, math.floor(low)), min(size, math.ceil(high))
        whole = stop - start <= max_side
        if not whole:
            start = min(max(0, round(centre - max_side / 2)), size - max_side)
            stop = start + max_side
        if stop <= start:  # nothing visible: the middle of the picture
            start = max(0, min(size - 1, int(centre)))
            stop = start + 1
        return start, stop, whole

    cx0, cx1, whole_x = span(x0, x1, cx, width)
    cy0, cy1, whole_y = span(y0, y1, cy, height)
    padded = (max(0, cx0 - pad), max(0, cy0 - pad), min(width, cx1 + pad), min(height, cy1 + pad))
    return Crop((cx0, cy0, cx1, cy1), padded, whole_x and whole_y)


def upscale_options(settings: Settings, device: str) -> dict[str, Any]:
    """`upscale_job`'s policy from the settings, on `device`."""
    return {
        "device": device,
        "tile": parse_tile(settings.upscale_tile),
        "ensemble": settings.upscale_ensemble,
        "backend": settings.upscale_backend,
    }


def open_file_job(path: Path, cancel: CancelToken) -> Generator[Progress, None, Opened]:
    yield Progress(0, 1, "loading", info={"text": f"opening {path.name}…"})
    frames, notes = read_frames(path)
    cancel.raise_if_cancelled()
    if frames is not None:
        first = replace(frames.animation.frames[0], notes=notes)
        return Opened(first, frames.images[0], path.name, path, frames)
    picture = load_image(path)
    if notes:  # the note saying why only the first frame is used replaces the plain one
        picture = replace(picture, notes=notes + tuple(n for n in picture.notes if n != ANIMATED_NOTE))
    cancel.raise_if_cancelled()
    return Opened(picture, picture_to_qimage(picture), path.name, path)


def open_image_job(image: QImage, name: str, cancel: CancelToken) -> Generator[Progress, None, Opened]:
    yield Progress(0, 1, "loading", info={"text": f"reading the {name} picture…"})
    picture = qimage_to_picture(image)
    return Opened(picture, picture_to_qimage(picture), name)


def _labelled(job: Generator[Progress, None, Any], label: str) -> Generator[Progress, None, Any]:
    """`job`'s events tagged with `label` (A or B in a comparison)."""
    return (yield from relay(job, lambda event: replace(event, info={**event.info, "label": label})))


def _load_model(models: ModelCache, name: str) -> Generator[Progress, None, LoadedModel]:
    yield Progress(0, 1, "model", info={"text": f"loading {name}…"})
    return models.get(name)


def upscale_picture_job(
    picture: Picture, models: ModelCache, name: str, options: dict[str, Any], cancel: CancelToken
) -> Generator[Progress, None, Upscaled]:
    """Load (or reuse) model `name` and upscale the whole picture; `options` are `upscale_job`'s policy."""
    model = yield from _load_model(models, name)
    result = yield from upscale_job(picture, model, cancel=cancel, **options)
    return Upscaled(result, picture_to_qimage(result.picture))


def upscale_opened_job(
    opened: Opened, models: ModelCache, name: str, options: dict[str, Any], cancel: CancelToken
) -> Generator[Progress, None, Upscaled]:
    """Upscale the picture opened, or every frame of the animation opened."""
    if opened.frames is None:
        return (yield from upscale_picture_job(opened.picture, models, name, options, cancel))
    model = yield from _load_model(models, name)
    result, frames = yield from upscale_frames_job(opened.frames, model, options, cancel)
    return Upscaled(result, frames.images[0], frames)


def compare_job(
    picture: Picture, models: ModelCache, names: tuple[str, str], options: dict[str, Any], cancel: CancelToken
) -> Generator[Progress, None, Compared]:
    """Upscale with model A, then B; their progress is labelled so the status line says which runs."""
    a = yield from _labelled(upscale_picture_job(picture, models, names[0], options, cancel), "A")
    b = yield from _labelled(upscale_picture_job(picture, models, names[1], options, cancel), "B")
    return Compared(a, b)


def preview_job(
    picture: Picture,
    models: ModelCache,
    name: str,
    visible: tuple[float, float, float, float],
    options: dict[str, Any],
    cancel: CancelToken,
) -> Generator[Progress, None, Previewed]:
    """Upscale the crop behind the view (`visible`, in input pixels), with context around it, and keep
    only the core: with the receptive radius as context, its pixels are exactly the full upscale's."""
    model = yield from _load_model(models, name)
    scale, pad = int(model.scale or 1), int(model.receptive_radius or 0)
    crop = preview_crop(visible, picture.width, picture.height, pad)
    # A pixel-unshuffle network (Real-ESRGAN ×2/×1) groups pixels from the picture's origin: the context
    # must start and end on that grid for the preview to be the full upscale's pixels.
    step = model.architecture.alignment(model.card.arguments)
    px0, py0, px1, py1 = crop.padded
    px0, py0 = px0 - px0 % step, py0 - py0 % step
    px1, py1 = min(picture.width, -(-px1 // step) * step), min(picture.height, -(-py1 // step) * step)
    x0, y0, x1, y1 = crop.core
    piece = replace(picture, pixels=np.ascontiguousarray(picture.pixels[py0:py1, px0:px1]))
    result = yield from upscale_job(piece, model, cancel=cancel, **options)
    top, left = (y0 - py0) * scale, (x0 - px0) * scale
    core = result.picture.pixels[top : top + (y1 - y0) * scale, left : left + (x1 - x0) * scale]
    result = replace(result, picture=replace(result.picture, pixels=np.ascontiguousarray(core)))
    region = QRect(x0 * scale, y0 * scale, (x1 - x0) * scale, (y1 - y0) * scale)
    return Previewed(picture_to_qimage(result.picture), region, result, crop.whole)


def save_job(
    files: Sequence[tuple[Picture, Path, bool]], quality: int | None, cancel: CancelToken
) -> Generator[Progress, None, list[Path]]:
    """Write each (picture, path, overwrite) in turn; the paths written."""
    written = []
    for done, (picture, path, overwrite) in enumerate(files):
        cancel.raise_if_cancelled()
        yield Progress(done, len(files), "saving", info={"text": f"saving {path.name}…"})
        written.append(save_image(picture, path, quality=quality, overwrite=overwrite))
    return written
