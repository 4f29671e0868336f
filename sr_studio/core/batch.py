"""Upscaling many files: collecting inputs, naming outputs, going on past bad files, resuming.

A batch is resumable because every output is written atomically: a file exists only once it is
complete, so a re-run after a cancel, a crash or a kill skips exactly the finished files. Each output's EXIF
names its model, so that a re-run with another model reports those files instead of skipping them.
`sr-studio upscale` and the batch dialog both describe their batch as a `BatchRequest` and run it with
`batch_request_job`.
"""

from __future__ import annotations

import os
import string
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import ExifTags, Image

from sr_studio.core.atomic import remove_stale_temps
from sr_studio.core.errors import Cancelled, SRStudioError, UsageError
from sr_studio.core.formats import (
    ANIMATED_FORMATS,
    SAVE_FORMATS,
    TIFF_COMPRESSIONS,
    is_readable,
    output_extension,
    writable_extensions,
)
from sr_studio.core.images import DEFAULT_MAX_PIXELS, MADE_BY, load_image, made_by, save_image
from sr_studio.core.jobs import CancelToken, Progress, check_cancel, relay
from sr_studio.core.metadata import Metadata

if TYPE_CHECKING:
    from sr_studio.core.library import LoadedModel, ModelEntry, ModelLibrary

DEFAULT_PATTERN = "{stem}_x{scale}"
PATTERN_FIELDS = frozenset({"stem", "scale", "model"})


@dataclass(frozen=True)
class BatchItem:
    """One input file and its path relative to the folder it was found in (to mirror the tree)."""

    source: Path
    relative: Path


@dataclass(frozen=True)
class OutputOptions:
    """How outputs are named and written."""

    pattern: str = DEFAULT_PATTERN
    format: str | None = None  # an extension such as "png"; None keeps the input's format when writable
    quality: int | None = None
    overwrite: bool = False
    compression: str | None = None  # TIFF: "deflate" (None), "lzw" or "none"
    first_frame: bool = False  # animations: only the first frame, as a still picture


@dataclass(frozen=True)
class BatchRequest:
    """A whole batch as a face describes it: inputs, where and how to write, which model runs where."""

    inputs: tuple[Path, ...]
    output: Path | None  # None: a sibling `NAME_xS` folder for a folder, beside each file for files
    options: OutputOptions
    model: ModelEntry
    device: str = "auto"
    recursive: bool = False
    precision: str = "auto"
    tile: int | str | None = "auto"
    max_pixels: int = DEFAULT_MAX_PIXELS
    ensemble: bool = False  # "max quality": 8 flips and rotations per tile, about 8× the time
    backend: str = "auto"  # the forward pass's runtime: auto, torch or openvino (core/backends)

    def output_folder(self) -> Path:
        """Where the results land (to show the user): `output`, else `plan_batch`'s default rule."""
        if self.output is not None:
            return self.output
        if len(self.inputs) == 1 and self.inputs[0].is_dir():
            return default_output_dir(self.inputs[0], model_scale(self.model))
        return Path(os.path.commonpath([path.parent for path in self.inputs]))  # beside each file


@dataclass
class BatchReport:
    """What a batch did with every input."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # outputs that already existed
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (input, one-line reason)
    notes: list[tuple[Path, str]] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)  # device, precision and tile actually used
    seconds: float = 0.0


def validate_pattern(pattern: str) -> str:
    """Refuse a name pattern with unknown fields or path separators before any work starts."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError as error:
        raise UsageError(f"name pattern {pattern!r} is malformed: {error}") from None
    unknown = fields - PATTERN_FIELDS
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in sorted(PATTERN_FIELDS))
        raise UsageError(f"name pattern {pattern!r} uses unknown field(s) {sorted(unknown)} (known: {known})")
    if "/" in pattern or "\\" in pattern or not pattern.strip():
        raise UsageError(f"name pattern {pattern!r} must be a plain file name")
    return pattern


def collect_inputs(
    paths: Sequence[Path], *, recursive: bool = False, exclude: Path | None = None
) -> tuple[list[BatchItem], list[tuple[Path, str]]]:
    """Expand files and folders into batch items; paths that are neither are reported, not fatal.

    Files under `exclude` (the output folder) are left out so a re-run never upscales its own outputs.
    """
    items: list[BatchItem] = []
    missing: list[tuple[Path, str]] = []
    excluded = exclude.resolve() if exclude is not None else None
    for path in paths:
        if path.is_dir():
            found = path.rglob("*") if recursive else path.iterdir()
            for file in sorted(found):
                if not is_readable(file) or not file.is_file() or file.name.startswith("."):
                    continue
                if excluded is not None and file.resolve().is_relative_to(excluded):
                    continue
                items.append(BatchItem(file, file.relative_to(path)))
        elif path.is_file():
            items.append(BatchItem(path, Path(path.name)))
        else:
            missing.append((path, "no such file or folder"))
    return items, missing


def model_scale(model: ModelEntry | LoadedModel) -> int:
    """The upscaler's scale; a model without one (a sampler) cannot run a batch."""
    if model.card.scale is None:
        raise SRStudioError(f"model {model.card.name!r} is not an upscaler")
    return model.card.scale


def default_output_dir(folder: Path, scale: int) -> Path:
    """Where a folder's results go when no output is given: a sibling named like them (``scans_x4``)."""
    return folder.parent / f"{folder.name}_x{scale}"


def output_format(source: Path, options: OutputOptions) -> str:
    """The output extension: the one asked for, else the input's when it can be kept, else PNG."""
    if options.format:
        extension = options.format.lower().lstrip(".")
        if extension not in writable_extensions():
            choices = ", ".join(writable_extensions())
            raise UsageError(f"unknown output format {options.format!r} (choose from {choices})")
        return extension
    return output_extension(source, first_frame=options.first_frame)[0]


def output_note(source: Path, options: OutputOptions) -> str | None:
    """Why `source`'s own format is not kept (None when it is, or when a format was asked for)."""
    return None if options.format else output_extension(source, first_frame=options.first_frame)[1]


def validate_options(options: OutputOptions) -> OutputOptions:
    """Refuse an unknown format or TIFF compression before any work starts."""
    if options.format:
        output_format(Path("x.png"), options)
    if options.compression is not None and options.compression not in TIFF_COMPRESSIONS:
        choices = ", ".join(TIFF_COMPRESSIONS)
        raise UsageError(f"unknown TIFF compression {options.compression!r} (choose from {choices})")
    return options


def output_path(item: BatchItem, out_dir: Path, options: OutputOptions, *, scale: int, model: str) -> Path:
    """Where `item`'s result goes: the same sub-folder under `out_dir`, named by the pattern."""
    name = options.pattern.format(stem=item.source.stem, scale=scale, model=model)
    return out_dir / item.relative.parent / f"{name}.{output_format(item.source, options)}"


def plan_batch(
    inputs: Sequence[Path],
    out: Path | None,
    options: OutputOptions,
    *,
    scale: int,
    model: str,
    recursive: bool = False,
) -> tuple[list[tuple[BatchItem, Path]], list[tuple[Path, str]]]:
    """Pair every input with its output path; report inputs that do not exist.

    One input file with an `out` that has an image extension (and is not a folder) is a file-to-file
    job. Otherwise `out` is a folder; without it, files are written beside themselves and a folder's
    results go to a sibling folder named like the outputs (``scans`` → ``scans_x4``).
    """
    validate_pattern(options.pattern)
    validate_options(options)
    single_file = len(inputs) == 1 and inputs[0].is_file()
    if (
        single_file
        and out is not None
        and not out.is_dir()
        and out.suffix.lower().lstrip(".") in SAVE_FORMATS
    ):
        return [(BatchItem(inputs[0], Path(inputs[0].name)), out)], []
    jobs: list[tuple[BatchItem, Path]] = []
    failures: list[tuple[Path, str]] = []
    for path in inputs:
        folder = out
        if folder is None:
            folder = default_output_dir(path, scale) if path.is_dir() else path.parent
        items, missing = collect_inputs(
            [path], recursive=recursive, exclude=folder if path.is_dir() else None
        )
        failures.extend(missing)
        jobs.extend((item, output_path(item, folder, options, scale=scale, model=model)) for item in items)
    return _without_clashes(jobs, failures)


def _without_clashes(
    jobs: list[tuple[BatchItem, Path]], failures: list[tuple[Path, str]]
) -> tuple[list[tuple[BatchItem, Path]], list[tuple[Path, str]]]:
    """Two inputs named alike (``a.png``, ``a.jpg``) must not share an output: the second is reported."""
    claimed: dict[Path, Path] = {}
    kept = []
    for item, target in jobs:
        first = claimed.setdefault(target.resolve(), item.source)
        if first != item.source:
            failures.append((item.source, f"its output {target.name} would clash with that of {first.name}"))
        else:
            kept.append((item, target))
    return kept, failures


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


def batch_job(
    jobs: Sequence[tuple[BatchItem, Path]],
    model: LoadedModel,
    options: OutputOptions,
    *,
    device: str = "auto",
    precision: str = "auto",
    tile: int | str | None = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    ensemble: bool = False,
    cancel: CancelToken | None = None,
    backend: str = "auto",
) -> Generator[Progress, None, BatchReport]:
    """Upscale each (input, output path) pair, skipping finished outputs and recording failures.

    Progress events count files; `info` carries the current file and how far through it the job is.
    """

    report = BatchReport()
    started = time.perf_counter()
    total = len(jobs)

    def event(done: float, info: dict) -> Progress:
        elapsed = time.perf_counter() - started
        eta = elapsed / done * (total - done) if done > 0 else None
        return Progress(int(done), total, "files", eta, info)

    for index, (item, target) in enumerate(jobs):
        check_cancel(cancel)
        info = {"file": str(item.source), "output": str(target), "file_fraction": 0.0}
        remove_stale_temps(target)  # left by a writer that was killed
        if target.exists() and not options.overwrite:
            problem = _made_by_another(target, model.card.name)
            if problem is None:
                report.skipped.append(target)
                yield event(index + 1, {**info, "status": "skipped", "file_fraction": 1.0})
            else:
                report.failed.append((item.source, problem))
                yield event(index + 1, {**info, "status": "failed", "error": problem, "file_fraction": 1.0})
            continue
        yield event(index, info)
        run = dict(
            device=device, precision=precision, tile=tile, ensemble=ensemble, cancel=cancel, backend=backend
        )
        try:
            work = _upscale_file(item.source, target, model, options, run, max_pixels)
            settings, notes = yield from relay(work, partial(_file_step, event, index, info))
        except Cancelled:
            raise
        except Exception as error:  # whatever one file raises is that file's failure; the batch goes on
            problem = describe_failure(error, item.source)
            report.failed.append((item.source, problem))
            yield event(index + 1, {**info, "status": "failed", "error": problem, "file_fraction": 1.0})
            continue
        report.settings = {**settings, "ensemble": ensemble}
        report.written.append(target)
        report.notes.extend((item.source, note) for note in notes)
        yield event(index + 1, {**info, "status": "written", "file_fraction": 1.0})
    report.seconds = time.perf_counter() - started
    return report


def _file_step(
    event: Callable[[float, dict], Progress], index: int, info: dict, step: tuple[float, str]
) -> Progress:
    """The batch's event for a step (fraction of the file, part) of file `index`."""
    fraction, part = step
    return event(index + fraction, {**info, "file_fraction": fraction, "part": part})


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


def batch_request_job(
    request: BatchRequest, library: ModelLibrary, cancel: CancelToken | None = None
) -> Generator[Progress, None, BatchReport]:
    """Plan the request, load its model and run the batch; inputs that could not be planned (missing,
    clashing) lead the report's failures.

    Planning scans folders and loading imports torch, so both belong inside the job (off a GUI thread).
    """
    jobs, failures = plan_batch(
        request.inputs,
        request.output,
        request.options,
        scale=model_scale(request.model),
        model=request.model.name,
        recursive=request.recursive,
    )
    if not jobs and not failures:
        raise SRStudioError(f"no images found in {', '.join(str(path) for path in request.inputs)}")
    model = library.load(request.model)
    report = yield from batch_job(
        jobs,
        model,
        request.options,
        device=request.device,
        precision=request.precision,
        tile=request.tile,
        max_pixels=request.max_pixels,
        ensemble=request.ensemble,
        cancel=cancel,
        backend=request.backend,
    )
    report.failed[:0] = failures
    return report
