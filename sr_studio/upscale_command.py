"""`sr-studio upscale`: its arguments, and the command that describes the batch, runs it (here, on a Dask
cluster with --cluster, or one shard of it with --shard) behind one progress bar and prints its summary.

Kept apart from cli.py, which dispatches every command; like it, this module imports torch only through
the core, inside the command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sr_studio.core.backends import BACKENDS
from sr_studio.core.errors import ModelError, SRStudioError, UsageError

if TYPE_CHECKING:
    from tqdm import tqdm

    from sr_studio.core.batch import BatchReport, BatchRequest
    from sr_studio.core.jobs import Progress
    from sr_studio.core.library import ModelEntry, ModelLibrary

EXIT_OK, EXIT_FAILED = 0, 1


def add_upscale_parser(commands: Any) -> None:
    """Add the `upscale` subcommand and its options to the `commands` subparsers."""
    up = commands.add_parser("upscale", help="upscale images or folders of images")
    up.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="image files or folders")
    up.add_argument("-o", "--output", type=Path, help="output file (one input) or folder (created)")
    up.add_argument("--model", help="model name (default: the preferred upscaler, srresnet-x4)")
    up.add_argument("--scale", type=int, choices=(2, 3, 4), help="pick the default model of this scale")
    up.add_argument("--name", default="{stem}_x{scale}", help="output name pattern: {stem} {scale} {model}")
    up.add_argument(
        "--format", help="output format: png, jpg, webp, avif, tif, bmp, tga, qoi, gif (default: the input's)"
    )
    up.add_argument("--quality", type=int, help="JPEG/WebP/AVIF quality 1-100")
    up.add_argument("--compression", choices=("deflate", "lzw", "none"), help="TIFF compression (deflate)")
    up.add_argument(
        "--first-frame", action="store_true", help="animations: upscale only the first frame, as a still"
    )
    up.add_argument("--recursive", action="store_true", help="include sub-folders, mirroring the tree")
    up.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs instead of skipping them"
    )
    up.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    up.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    up.add_argument("--tile", default="auto", help="tile size in input pixels, auto, or none")
    up.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="forward pass on the CPU: openvino (where installed and the model converts), or torch",
    )
    up.add_argument(
        "--ensemble",
        action="store_true",
        help="max quality: average the 8 flips and rotations of each tile (about 8x the time)",
    )
    up.add_argument("--max-pixels", type=float, default=64.0, help="refuse inputs over this many megapixels")
    up.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    up.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run on Dask distributed: local:N (N worker processes here) or a scheduler's address",
    )
    up.add_argument(
        "--shard", metavar="K/N", help="do only part K of N of the batch (Slurm arrays, Kubernetes jobs)"
    )


def pick_model(library: ModelLibrary, name: str | None, task: str, scale: int | None = None) -> ModelEntry:
    """The model a command names, else the default of its task (and scale); a mistyped name is a usage
    error, a broken model names its file."""
    if name:
        try:
            entry = library.find(name)
        except ModelError as error:  # a broken card or weights file names its file; a mistyped name does not
            if error.path is not None:
                raise
            raise UsageError(error.problem) from None
        if entry.card.task != task:
            raise UsageError(f"model {name!r} is a {entry.card.task} model, not a {task} model")
        if scale is not None and entry.card.scale != scale:
            raise UsageError(f"model {name!r} upscales ×{entry.card.scale}, not ×{scale}")
        return entry
    if scale is not None:
        matching = [e for e in library.entries(task) if e.card.scale == scale]
        preferred = [e for e in matching if e.name == f"srresnet-x{scale}"]
        if not matching:
            raise UsageError(f"no ×{scale} upscaling model is installed (see: sr-studio models list)")
        return (preferred or matching)[0]
    entry = library.default(task)
    if entry is None:
        raise SRStudioError(f"no {task} model is installed; import one with: sr-studio models import FILE")
    return entry


class _ProgressBar:
    """A tqdm bar on stderr that advances by fractions of a file; it appears with the batch's first event,
    which carries the number of files."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None

    def update(self, event: Progress) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=event.total,
                unit="file",
                file=sys.stderr,
                disable=not self.enabled or None,
                leave=False,
                bar_format="{l_bar}{bar}| {n:.1f}/{total} [{elapsed}<{remaining}] {postfix}",
            )
        self.bar.n = event.done + (0 if event.info.get("status") else event.info.get("file_fraction", 0.0))
        self.bar.set_postfix_str(Path(event.info.get("file", "")).name, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _warn_about_large_outputs(request: BatchRequest) -> None:
    """Before a file given by name starts a huge job, one note with its output size, time and memory (the
    GUI asks the same question); folders are not opened for it."""
    from PIL import Image

    from sr_studio.core.estimate import LARGE_OUTPUT_MP, estimate_for_card

    for path in request.inputs:
        try:
            with Image.open(path) as image:
                width, height = image.size
        except Exception:  # not a picture, or a folder: the batch itself says what it is
            continue
        estimate = estimate_for_card(request.model.card, width, height, ensemble=request.ensemble)
        if estimate.megapixels > LARGE_OUTPUT_MP:
            print(f"sr-studio: note: {path}: output {estimate.describe()}", file=sys.stderr)


def cmd_upscale(args: argparse.Namespace) -> int:
    """Run the batch the arguments describe; exit 1 when any input failed."""
    from sr_studio.core.batch import BatchRequest, OutputOptions, batch_request_job
    from sr_studio.core.jobs import run_job
    from sr_studio.core.library import ModelLibrary
    from sr_studio.core.shard import parse_shard
    from sr_studio.core.upscale import parse_tile

    parse_tile(args.tile)
    if args.quality is not None and not 1 <= args.quality <= 100:
        raise UsageError(f"quality must be between 1 and 100, not {args.quality}")
    shard = parse_shard(args.shard) if args.shard is not None else None
    if args.cluster is not None:
        from sr_studio.core.cluster import distributed_module, parse_cluster

        parse_cluster(args.cluster)
        distributed_module()
    library = ModelLibrary()
    entry = pick_model(library, args.model, "upscale", args.scale)
    request = BatchRequest(
        inputs=tuple(args.inputs),
        output=args.output,
        options=OutputOptions(
            pattern=args.name,
            format=args.format,
            quality=args.quality,
            overwrite=args.overwrite,
            compression=args.compression,
            first_frame=args.first_frame,
        ),
        model=entry,
        device=args.device,
        recursive=args.recursive,
        precision=args.precision,
        tile=args.tile,
        ensemble=args.ensemble,
        max_pixels=int(args.max_pixels * 1_000_000),
        backend=args.backend,
        shard=shard,
        cluster=args.cluster,
        ledger=True,
    )
    _warn_about_large_outputs(request)
    bar = _ProgressBar(enabled=not args.json)
    try:
        report = run_job(batch_request_job(request, library), bar.update)
    finally:
        bar.close()
    for source, problem in report.failed:
        print(f"sr-studio: {source}: {problem}", file=sys.stderr)
    for source, note in report.notes:
        print(f"sr-studio: note: {source}: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(_summary(request, report), indent=2))
    else:
        settings = ", ".join(
            f"{k} {v}" if k != "ensemble" else "self-ensemble"
            for k, v in report.settings.items()
            if v is not False
        )
        where = "".join(
            f", {label} {value}" for label, value in (("shard", shard), ("cluster", args.cluster)) if value
        )
        print(
            f"{len(report.written)} written, {len(report.skipped)} skipped (output exists), "
            f"{len(report.failed)} failed — {entry.name}" + (f" ({settings})" if settings else "") + where,
            file=sys.stderr,
        )
    return EXIT_FAILED if report.failed else EXIT_OK


def _summary(request: BatchRequest, report: BatchReport) -> dict[str, object]:
    """The --json summary: the model, the settings used, where it ran and every file's fate."""
    from sr_studio.core.batch import ledger_folder
    from sr_studio.core.ledger import ledger_name

    folder = ledger_folder(request)
    return {
        "model": request.model.name,
        "scale": request.model.card.scale,
        **report.settings,
        "cluster": request.cluster,
        "shard": None if request.shard is None else str(request.shard),
        "ledger": None if folder is None else str(folder / ledger_name(request.shard)),
        "written": [str(p) for p in report.written],
        "skipped": [str(p) for p in report.skipped],
        "failed": [{"file": str(s), "error": e} for s, e in report.failed],
        "notes": [{"file": str(s), "note": n} for s, n in report.notes],
        "seconds": round(report.seconds, 3),
    }
