"""Upscaling many files: collecting inputs, naming outputs, going on past bad files, resuming.

A batch is resumable because every output is written atomically: a file exists only once it is
complete, so a re-run after a cancel, a crash or a kill skips exactly the finished files. Each output's EXIF
names its model, so that a re-run with another model reports those files instead of skipping them.
`sr-studio upscale` and the batch dialog both describe their batch as a `BatchRequest` and run it with
`batch_request_job`, which keeps one shard of the plan (core/shard), keeps the ledger (core/ledger) and
runs the files here or on a Dask cluster (core/cluster); either way each file goes through the one
per-file step in core/batch_file.
"""

from __future__ import annotations

import os
import string
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sr_studio.core.batch_file import FAILED, SKIPPED, WRITTEN, FileFate, existing_fate, upscale_fate
from sr_studio.core.errors import SRStudioError, UsageError
from sr_studio.core.formats import (
    SAVE_FORMATS,
    TIFF_COMPRESSIONS,
    is_readable,
    output_extension,
    writable_extensions,
)
from sr_studio.core.images import DEFAULT_MAX_PIXELS
from sr_studio.core.jobs import CancelToken, Progress, check_cancel, relay
from sr_studio.core.ledger import Ledger

if TYPE_CHECKING:
    from sr_studio.core.library import LoadedModel, ModelEntry, ModelLibrary
    from sr_studio.core.shard import Shard

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
    shard: Shard | None = None  # only this part of the plan (core/shard)
    cluster: str | None = None  # run on Dask: "local:N" or a scheduler's address (core/cluster)
    ledger: bool = False  # keep sr-studio-ledger.jsonl in the output folder (always with shard or cluster)

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

    def add(self, fate: FileFate) -> None:
        """File one fate under its list; a written file's settings are the batch's."""
        if fate.status == WRITTEN and fate.output is not None:
            self.written.append(fate.output)
            self.settings = dict(fate.settings)
            self.notes.extend((fate.source, note) for note in fate.notes)
        elif fate.status == SKIPPED and fate.output is not None:
            self.skipped.append(fate.output)
        else:
            self.failed.append((fate.source, fate.reason or "failed"))


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
    if out is not None and is_file_to_file(inputs, out):
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


def is_file_to_file(inputs: Sequence[Path], out: Path | None) -> bool:
    """One input file and an output that names an image file (not a folder): `plan_batch`'s one-file job."""
    single_file = len(inputs) == 1 and inputs[0].is_file()
    return (
        single_file
        and out is not None
        and not out.is_dir()
        and out.suffix.lower().lstrip(".") in SAVE_FORMATS
    )


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
    record: Callable[[FileFate], None] | None = None,
) -> Generator[Progress, None, BatchReport]:
    """Upscale each (input, output path) pair, skipping finished outputs and recording failures.

    Progress events count files; `info` carries the current file and how far through it the job is.
    `record` hears each file's fate as soon as it is settled (the ledger).
    """

    report = BatchReport()
    started = time.perf_counter()
    total = len(jobs)

    def event(done: float, info: dict) -> Progress:
        elapsed = time.perf_counter() - started
        eta = elapsed / done * (total - done) if done > 0 else None
        return Progress(int(done), total, "files", eta, info)

    run = dict(
        device=device, precision=precision, tile=tile, ensemble=ensemble, cancel=cancel, backend=backend
    )
    for index, (item, target) in enumerate(jobs):
        check_cancel(cancel)
        info = {"file": str(item.source), "output": str(target), "file_fraction": 0.0}
        fate = existing_fate(item, target, model.card.name, options)
        if fate is None:
            yield event(index, info)
            work = upscale_fate(item, target, model, options, run, max_pixels)
            fate = yield from relay(work, partial(_file_step, event, index, info))
        report.add(fate)
        if record is not None:
            record(fate)
        yield event(index + 1, {**info, **fate.info(), "file_fraction": 1.0})
    report.seconds = time.perf_counter() - started
    return report


def _file_step(
    event: Callable[[float, dict], Progress], index: int, info: dict, step: tuple[float, str]
) -> Progress:
    """The batch's event for a step (fraction of the file, part) of file `index`."""
    fraction, part = step
    return event(index + fraction, {**info, "file_fraction": fraction, "part": part})


def batch_request_job(
    request: BatchRequest, library: ModelLibrary, cancel: CancelToken | None = None
) -> Generator[Progress, None, BatchReport]:
    """Plan the request, keep its shard's part, load its model and run the batch, here or on a cluster;
    inputs that could not be planned (missing, clashing) lead the report's failures (in shard 1 only, so
    that N shards report them once).

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
    if request.shard is not None:
        jobs = request.shard.select(jobs)
        failures = failures if request.shard.index == 1 else []
    with ExitStack() as stack:
        folder = ledger_folder(request)
        ledger = None
        if folder is not None:
            requested = {key: getattr(request, key) for key in ("device", "precision", "tile", "backend")}
            ledger = stack.enter_context(
                Ledger(
                    folder,
                    request.model,
                    request.options,
                    {**requested, "ensemble": request.ensemble},
                    shard=request.shard,
                    cluster=request.cluster,
                )
            )
            for source, problem in failures:
                ledger.record(FileFate(FAILED, source, None, reason=problem))
        policy: dict[str, Any] = dict(
            device=request.device,
            precision=request.precision,
            tile=request.tile,
            max_pixels=request.max_pixels,
            ensemble=request.ensemble,
            cancel=cancel,
            backend=request.backend,
            record=None if ledger is None else ledger.record,
        )
        if request.cluster is not None:
            from sr_studio.core.cluster import cluster_request_job

            report = yield from cluster_request_job(
                request.cluster, jobs, request.model, request.options, **policy
            )
        else:
            report = yield from batch_job(jobs, library.load(request.model), request.options, **policy)
    report.failed[:0] = failures
    return report


def ledger_folder(request: BatchRequest) -> Path | None:
    """Where the request's ledger goes: its output folder, when its outputs go to one (not file to file,
    not beside the inputs); shard and cluster runs always keep one, beside their outputs at worst."""
    keeps = request.shard is not None or request.cluster is not None
    if not (request.ledger or keeps):
        return None
    if is_file_to_file(request.inputs, request.output):
        return request.output_folder().parent if keeps else None
    beside = request.output is None and not (len(request.inputs) == 1 and request.inputs[0].is_dir())
    return None if beside and not keeps else request.output_folder()
