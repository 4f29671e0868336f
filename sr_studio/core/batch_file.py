"""One file of a batch, from the skip check to its written output: the step the plain batch and a cluster's
workers share, so that both make the same pixels and give every file the same fate.

A file's fate is settled here and nowhere else: an output that already exists is skipped (or reported, when
another model made it), temp files that a killed writer left are removed first, and whatever upscaling the
file raises becomes its one-line failure.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import ExifTags, Image

from sr_studio.core.atomic import remove_stale_temps
from sr_studio.core.errors import Cancelled, SRStudioError
from sr_studio.core.formats import ANIMATED_FORMATS, output_extension
from sr_studio.core.images import MADE_BY, load_image, made_by, save_image
from sr_studio.core.jobs import relay
from sr_studio.core.metadata import Metadata

if TYPE_CHECKING:
    from sr_studio.core.batch import BatchItem, OutputOptions
    from sr_studio.core.library import LoadedModel

WRITTEN, SKIPPED, FAILED = "written", "skipped", "failed"


@dataclass(frozen=True)
class FileFate:
    """What became of one input: written, skipped (its output was already there) or failed (and why)."""

    status: str
    source: Path
    output: Path | None  # None for an input that could not be planned (missing, clashing)
    reason: str | None = None
    notes: tuple[str, ...] = ()
    settings: dict[str, object] = field(default_factory=dict)  # device, precision, tile, backend, ensemble

    def info(self) -> dict[str, object]:
        """The fields a batch's progress event carries about this fate."""
        return {"status": self.status, **({"error": self.reason} if self.reason else {})}


def output_note(source: Path, options: OutputOptions) -> str | None:
    """Why `source`'s own format is not kept (None when it is, or when a format was asked for)."""
    return None if options.format else output_extension(source, first_frame=options.first_frame)[1]


def existing_fate(item: BatchItem, target: Path, model: str, options: OutputOptions) -> FileFate | None:
    """The fate of a file whose output already exists (None: it must be upscaled).

    Temp files left by a writer that was killed are removed first: a batch owns its outputs.
    """
    remove_stale_temps(target)
    if not target.exists() or options.overwrite:
        return None
    problem = _made_by_another(target, model)
    if problem is None:
        return FileFate(SKIPPED, item.source, target)
    return FileFate(FAILED, item.source, target, reason=problem)


def upscale_fate(
    item: BatchItem,
    target: Path,
    model: LoadedModel,
    options: OutputOptions,
    run: dict,
    max_pixels: int,
) -> Generator[tuple[float, str], None, FileFate]:
    """Upscale and write one file, yielding (fraction of the file, part); any error but a cancel is the
    file's failure. `run` holds the engine policy: device, precision, tile, ensemble, cancel, backend."""
    try:
        settings, notes = yield from _upscale_file(item.source, target, model, options, run, max_pixels)
    except Cancelled:
        raise
    except Exception as error:  # whatever one file raises is that file's failure; the batch goes on
        return FileFate(FAILED, item.source, target, reason=describe_failure(error, item.source))
    settings = {**settings, "ensemble": run.get("ensemble", False)}
    return FileFate(WRITTEN, item.source, target, notes=tuple(notes), settings=settings)


def describe_failure(error: Exception, source: Path) -> str:
    """One line for the report; the file is named only when it is not the input itself (e.g. the output).

    Anything but our own errors and the system's is a bug met on this file: its traceback goes to the log.
    """
    if isinstance(error, SRStudioError):
        return error.problem if error.path in (None, str(source)) else str(error)
    if isinstance(error, OSError):
        return f"{error.filename or source}: {error.strerror or error}"
    if isinstance(error, MemoryError):
        return "not enough memory for this picture (try a smaller --tile)"
    from sr_studio.core.logs import log_exception

    where = log_exception(error)
    text = " ".join(str(error).split())[:200]
    return f"internal error: {error.__class__.__name__}: {text} (details in {where})"


def _upscale_file(
    source: Path,
    target: Path,
    model: LoadedModel,
    options: OutputOptions,
    run: dict,
    max_pixels: int,
) -> Generator[tuple[float, str], None, tuple[dict[str, object], list[str]]]:
    """Read, upscale and write one file, yielding (fraction of the file, part); returns the device,
    precision and tile used and the file's notes. An animation goes frame by frame when its output can
    animate and not only its first frame is wanted."""
    from sr_studio.core.animation import load_animation, save_animation, upscale_animation_job
    from sr_studio.core.formats import format_for_path
    from sr_studio.core.upscale import upscale_job

    animated = not options.first_frame and format_for_path(target) in ANIMATED_FORMATS
    animation = load_animation(source, max_pixels=max_pixels) if animated else None
    note = output_note(source, options)
    if animation is not None:
        job = upscale_animation_job(animation, model, **run)
        result, settings = yield from relay(
            job, lambda frames: ((frames.done + frames.info["frame_fraction"]) / frames.total, "frames")
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        result = replace(result, metadata=_stamped_metadata(result.metadata, model.card.name))
        save_animation(result, target, quality=options.quality, overwrite=options.overwrite)
        return settings, [*animation.notes, *([note] if note else [])]
    picture = load_image(source, max_pixels=max_pixels)
    upscaled = yield from relay(
        upscale_job(picture, model, **run), lambda tiles: (tiles.fraction, tiles.stage)
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    picture_out = replace(
        upscaled.picture, metadata=_stamped_metadata(upscaled.picture.metadata, model.card.name)
    )
    save_image(
        picture_out,
        target,
        quality=options.quality,
        compression=options.compression,
        overwrite=options.overwrite,
    )
    settings = {"device": upscaled.device, "precision": upscaled.precision, "tile": upscaled.tile}
    settings["backend"] = upscaled.backend
    return settings, [*picture.notes, *upscaled.notes, *([note] if note else [])]


def _made_by_another(target: Path, model: str) -> str | None:
    """Why an existing output is not a finished one of this batch (None: it is, or is no batch output at all,
    e.g. one from before outputs named their model: done either way)."""
    maker = made_by(target)
    if maker in (None, model):
        return None
    return f"{target.name} was made by {maker}, not {model}: use --overwrite or another --name"


def _stamped_metadata(metadata: Metadata, model: str) -> Metadata:
    """`metadata` with its EXIF Software tag naming `model` (every save format but GIF carries EXIF)."""
    exif = Image.Exif()
    try:
        if metadata.exif:
            exif.load(metadata.exif)
        exif[ExifTags.Base.Software] = MADE_BY + model
        data = exif.tobytes()
    except Exception:  # EXIF that does not survive a second round trip: the output goes unstamped
        return metadata
    return replace(metadata, exif=data)
