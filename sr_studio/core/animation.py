"""Animated GIF, APNG and WebP: every frame through the same tiled engine, timing and looping kept.

Pillow hands each frame over already composed (the previous frames and their disposal applied), so every
frame is a whole picture and is upscaled as one; identical frames (common in GIFs) are upscaled once. On
writing, durations, the loop count and (GIF and APNG) each frame's disposal are written as read; APNG frames
replace what is under them (blend "source") and a transparent GIF's frames clear to the background, since
the frames are whole pictures. GIF is re-quantised frame by frame (`saving.to_palette`).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from sr_studio.core.errors import ImageError
from sr_studio.core.formats import ANIMATED_FORMATS, format_for_path, format_name, readable_formats
from sr_studio.core.jobs import CancelToken, Progress, check_cancel
from sr_studio.core.metadata import Metadata, dpi_of, profile_fits
from sr_studio.core.picture import Picture
from sr_studio.core.saving import encoder_options, to_palette, writing

if TYPE_CHECKING:
    from sr_studio.core.library import LoadedModel

_GIF_RESTORE_BACKGROUND = 2
_APNG_BLEND_SOURCE = 0


@dataclass
class Animation:
    """Whole frames of one size (uint8 RGB, or RGBA when any frame has transparency) and their timing."""

    frames: list[Picture]
    durations: list[int]  # milliseconds, one per frame
    loop: int | None = None  # 0: forever; None: the file said nothing (GIF: played once)
    disposal: list[int] | None = None  # GIF/APNG disposal per frame, as read
    format: str = "GIF"
    source: Path | None = None
    metadata: Metadata = field(default_factory=Metadata)
    notes: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return self.frames[0].width

    @property
    def height(self) -> int:
        return self.frames[0].height

    @property
    def has_alpha(self) -> bool:
        return self.frames[0].has_alpha


def load_animation(path: str | os.PathLike[str], *, max_pixels: int) -> Animation | None:
    """The frames of an animated GIF, APNG or WebP; None when `path` is no such animation (a still picture,
    another format). All frames together count against `max_pixels`."""
    from sr_studio.core.images import reading, warning_notes

    path = Path(path)
    with reading(path, max_pixels) as caught, Image.open(path, formats=list(readable_formats())) as image:
        if not getattr(image, "is_animated", False) or image.format not in ANIMATED_FORMATS:
            return None
        try:
            count, (width, height) = getattr(image, "n_frames", 1), image.size
        except Exception:  # frames that cannot even be counted: the first one is read as a still picture
            return None
        if count * width * height > max_pixels:
            raise ImageError(
                f"animation is {count} frames of {width}×{height} ({count * width * height / 1e6:.1f} MP in "
                f"all), over the {max_pixels / 1e6:.1f} MP limit (use --first-frame)",
                path,
            )
        animation = _read_frames(image, path)
    if animation is not None:
        animation.notes += warning_notes(caught)
    return animation


def _read_frames(image: Image.Image, path: Path) -> Animation | None:
    """Every frame that decodes; None when only the first does (then it is a still picture, whatever its
    header claims)."""
    frames, durations, disposal, notes = [], [], [], []
    loop = image.info.get("loop")
    count = getattr(image, "n_frames", 1)
    for index in range(count):
        try:
            image.seek(index)
            frame = np.array(image.convert("RGBA"))
        except Exception:  # a frame cut short or missing: the ones before it are the animation
            if index == 0:
                raise
            notes.append(f"frames {index + 1}-{count} cannot be decoded: dropped")
            break
        frames.append(frame)
        durations.append(int(image.info.get("duration") or 0))
        disposal.append(int(getattr(image, "disposal_method", image.info.get("disposal", 0)) or 0))
        loop = image.info.get("loop", loop)
    if len(frames) < 2:
        return None
    stack = np.stack(frames)
    if int(stack[..., 3].min()) == 255:
        stack = stack[..., :3]
    image.seek(0)
    icc = image.info.get("icc_profile")
    metadata = Metadata(
        icc_profile=icc if profile_fits(icc, stack.shape[-1]) else None,
        dpi=dpi_of(image.info.get("dpi")),
    )
    pictures = [Picture(np.ascontiguousarray(frame), metadata, path, image.format) for frame in stack]
    return Animation(
        frames=pictures,
        durations=durations,
        loop=None if loop is None else int(loop),
        disposal=disposal if image.format in ("GIF", "PNG") else None,
        format=image.format or "GIF",
        source=path,
        metadata=metadata,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------------------------- upscaling


def upscale_animation_job(
    animation: Animation,
    model: LoadedModel,
    *,
    device: str = "auto",
    precision: str = "auto",
    tile: int | str | None = "auto",
    ensemble: bool = False,
    cancel: CancelToken | None = None,
    backend: str = "auto",
) -> Generator[Progress, None, tuple[Animation, dict[str, object]]]:
    """Upscale every frame with `upscale_job`; progress counts frames (`info["frame_fraction"]`: how far
    through the current one), cancel is checked between and inside frames. Returns the upscaled animation
    and the device, precision and tile used."""
    from sr_studio.core.upscale import upscale_job

    total, started = len(animation.frames), time.perf_counter()
    done: dict[bytes, Picture] = {}
    frames: list[Picture] = []
    settings: dict[str, object] = {}

    def event(finished: float) -> Progress:
        elapsed = time.perf_counter() - started
        eta = elapsed / finished * (total - finished) if finished > 0 else None
        info = {"frame": min(int(finished) + 1, total), "frame_fraction": finished - int(finished)}
        return Progress(int(finished), total, "frames", eta, info)

    for index, frame in enumerate(animation.frames):
        check_cancel(cancel)
        key = hashlib.blake2b(frame.pixels.tobytes(), digest_size=16).digest()
        if key not in done:
            job = upscale_job(
                frame,
                model,
                device=device,
                precision=precision,
                tile=tile,
                ensemble=ensemble,
                cancel=cancel,
                backend=backend,
            )
            while True:
                try:
                    tiles = next(job)
                except StopIteration as stop:
                    result = stop.value
                    break
                yield event(index + min(tiles.fraction, 0.999))
            done[key] = result.picture
            settings = {"device": result.device, "precision": result.precision, "tile": result.tile}
            settings["backend"] = result.backend
            tile = result.tile or tile  # a tile halved after running out of memory stays halved
        frames.append(done[key])
        yield event(index + 1)
    return replace(animation, frames=frames, notes=()), settings


# ---------------------------------------------------------------------------------------------- writing


def save_animation(
    animation: Animation,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    quality: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write `animation` atomically as animated GIF, PNG (APNG) or WebP, from the extension unless `format`
    says; `quality` applies to WebP (default 90, as for a still; 100: lossless)."""
    path = Path(path)
    kind = format_name(format, path) if format else format_for_path(path)
    if kind not in ANIMATED_FORMATS:
        raise ImageError(f"{kind} cannot hold an animation (use .gif, .png or .webp)", path)
    if os.path.lexists(path) and not overwrite:
        raise ImageError("already exists (use --overwrite)", path)
    images = [_frame_image(frame, kind) for frame in animation.frames]
    options: dict[str, object] = {"save_all": True, "append_images": images[1:]}
    options["duration"] = animation.durations
    if animation.loop is not None or kind != "GIF":
        options["loop"] = animation.loop or 0
    options |= _disposal_options(animation, kind)
    if kind == "WEBP":
        options |= encoder_options(kind, quality, None, None)
    if animation.metadata.icc_profile and kind != "GIF":
        options["icc_profile"] = animation.metadata.icc_profile
    if animation.metadata.exif and kind != "GIF":
        options["exif"] = animation.metadata.exif
    with writing(path, kind, overwrite=overwrite) as temp:
        images[0].save(temp, format=kind, **options)
    return path


def _frame_image(frame: Picture, kind: str) -> Image.Image:
    image = Image.fromarray(np.ascontiguousarray(frame.pixels))
    return to_palette(image) if kind == "GIF" else image


def _disposal_options(animation: Animation, kind: str) -> dict[str, object]:
    disposal = animation.disposal if animation.format == kind else None
    if kind == "GIF":
        if animation.has_alpha:  # whole frames with holes must not show the previous frame through them
            return {"disposal": _GIF_RESTORE_BACKGROUND, "optimize": False}
        return {"disposal": disposal, "optimize": False} if disposal else {"optimize": False}
    if kind == "PNG":
        options: dict[str, object] = {"blend": _APNG_BLEND_SOURCE}
        return options | ({"disposal": disposal} if disposal else {})
    return {}
