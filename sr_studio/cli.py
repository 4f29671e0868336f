"""The `sr-studio` command: no arguments or a file opens the app; subcommands drive the same core.

Everything heavy is imported inside the command that needs it, so `sr-studio --help` never loads torch.
Exit codes: 0 all done, 1 some inputs failed (or a file/model problem), 2 usage error, 130 cancelled,
141 stdout closed early (`| head`), as for a tool killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sr_studio import __version__
from sr_studio.core.backends import BACKENDS
from sr_studio.core.errors import Cancelled, ModelError, SRStudioError, UsageError
from sr_studio.core.logs import send_warnings_to_log

if TYPE_CHECKING:
    from tqdm import tqdm

    from sr_studio.core.batch import BatchRequest
    from sr_studio.core.jobs import Progress
    from sr_studio.core.library import ModelEntry, ModelLibrary

COMMANDS = ("upscale", "models", "sample", "train")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sr-studio",
        description="Upscale pictures and sample GANs on your own machine. "
        "Run with no arguments (or with an image) to open the app.",
    )
    parser.add_argument("--version", action="version", version=f"sr-studio {__version__}")
    parser.add_argument(
        "--self-test", action="store_true", help="check this install (models, torch, Qt, training) and exit"
    )
    parser.add_argument(
        "--install-desktop-entry",
        action="store_true",
        help="add SR Studio to your application menu and 'Open with' (Linux, this user only)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

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

    models = commands.add_parser("models", help="list, show, import or remove models")
    model_commands = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    listing = model_commands.add_parser("list", help="list the built-in and your own models")
    listing.add_argument("--json", action="store_true")
    show = model_commands.add_parser("show", help="print a model's card")
    show.add_argument("name")
    imported = model_commands.add_parser(
        "import", help="import .safetensors or .pth/.pt weights files, or every one in a folder"
    )
    imported.add_argument("files", type=Path, nargs="+", metavar="FILE")
    imported.add_argument("--name", help="name in the library, with one file (default: from the file name)")
    removed = model_commands.add_parser("remove", help="remove one of your own models")
    removed.add_argument("name")

    commands.add_parser(
        "train", add_help=False, help="train or fine-tune a model (see sr-studio train --help and training/)"
    )
    sample = commands.add_parser("sample", help="generate pictures with a GAN sampler")
    sample.add_argument("-o", "--output", type=Path, required=True, help="output folder (created)")
    sample.add_argument("--model", help="sampler name (default: dcgan-emoji-64)")
    sample.add_argument("-n", "--count", type=int, default=16, help="number of samples")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--truncation", type=float, help="redraw latent components beyond ±T")
    sample.add_argument("--grid", action="store_true", help="also save all samples as one grid image")
    sample.add_argument("--interpolate", nargs=2, type=int, metavar=("SEED_A", "SEED_B"))
    sample.add_argument("--frames", type=int, default=8, help="frames of an interpolation")
    sample.add_argument("--device", default="auto")
    sample.add_argument("--overwrite", action="store_true")
    return parser


def _pick_model(library: ModelLibrary, name: str | None, task: str, scale: int | None = None) -> ModelEntry:
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
    from sr_studio.core.batch import BatchRequest, OutputOptions, batch_request_job
    from sr_studio.core.jobs import run_job
    from sr_studio.core.library import ModelLibrary
    from sr_studio.core.upscale import parse_tile

    parse_tile(args.tile)
    if args.quality is not None and not 1 <= args.quality <= 100:
        raise UsageError(f"quality must be between 1 and 100, not {args.quality}")
    library = ModelLibrary()
    entry = _pick_model(library, args.model, "upscale", args.scale)
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
        print(
            json.dumps(
                {
                    "model": entry.name,
                    "scale": entry.card.scale,
                    **report.settings,
                    "written": [str(p) for p in report.written],
                    "skipped": [str(p) for p in report.skipped],
                    "failed": [{"file": str(s), "error": e} for s, e in report.failed],
                    "notes": [{"file": str(s), "note": n} for s, n in report.notes],
                    "seconds": round(report.seconds, 3),
                },
                indent=2,
            )
        )
    else:
        settings = ", ".join(
            f"{k} {v}" if k != "ensemble" else "self-ensemble"
            for k, v in report.settings.items()
            if v is not False
        )
        print(
            f"{len(report.written)} written, {len(report.skipped)} skipped (output exists), "
            f"{len(report.failed)} failed — {entry.name}" + (f" ({settings})" if settings else ""),
            file=sys.stderr,
        )
    return EXIT_FAILED if report.failed else EXIT_OK


def _describe(entry: ModelEntry) -> str:
    card = entry.card
    scale = f"×{card.scale}" if card.scale else "-"
    metric = card.quality()
    where = "built-in" if entry.builtin else "user"
    return f"{card.name:<24} {card.task:<8} {scale:<5} {where:<9} {card.description}" + (
        f" [{metric}]" if metric else ""
    )


def cmd_models(args: argparse.Namespace) -> int:
    from sr_studio.core.library import ModelLibrary

    library = ModelLibrary()
    if args.models_command == "list":
        entries = library.entries()
        if args.json:
            print(
                json.dumps(
                    [
                        {**json.loads(e.card.to_json()), "builtin": e.builtin, "weights": str(e.weights_path)}
                        for e in entries
                    ],
                    indent=2,
                )
            )
        else:
            print(f"{'NAME':<24} {'TASK':<8} {'SCALE':<5} {'SOURCE':<9} DESCRIPTION")
            for entry in entries:
                print(_describe(entry))
            if not entries:
                print("(no models installed: import one with sr-studio models import FILE)")
        for problem in library.problems:
            print(f"sr-studio: {problem}", file=sys.stderr)
        return EXIT_FAILED if library.problems else EXIT_OK
    if args.models_command == "show":
        entry = library.find(args.name)
        print(entry.card.to_json())
        print(f"weights: {entry.weights_path}\ncard: {entry.card_path}", file=sys.stderr)
        return EXIT_OK
    if args.models_command == "import":
        return _import_models(library, args.files, args.name)
    library.remove(args.name)
    print(f"removed {args.name}")
    return EXIT_OK


def _import_models(library: ModelLibrary, paths: list[Path], name: str | None) -> int:
    """One line per file: what it was imported as, or why not; exit 1 when any file failed."""
    from sr_studio.core.importing import weights_files

    files = weights_files(paths)
    if not files:
        raise UsageError(f"no .safetensors, .pth or .pt files in {', '.join(map(str, paths))}")
    if name is not None and len(files) > 1:
        raise UsageError(f"--name needs exactly one file, not {len(files)}")
    failed = 0
    for path in files:
        try:
            entry = library.import_file(path, name=name)
        except ModelError as error:
            print(f"sr-studio: {error}", file=sys.stderr)
            failed += 1
            continue
        card = entry.card
        print(
            f"imported {entry.name}: {card.architecture} {card.arguments} → {entry.weights_path}", flush=True
        )
    return EXIT_FAILED if failed else EXIT_OK


def cmd_sample(args: argparse.Namespace) -> int:
    from sr_studio.core import sample as sampling
    from sr_studio.core.images import save_image
    from sr_studio.core.library import ModelLibrary

    library = ModelLibrary()
    model = library.load(_pick_model(library, args.model, "sample"))
    args.output.mkdir(parents=True, exist_ok=True)
    if args.interpolate:
        seed_a, seed_b = args.interpolate
        pictures = sampling.interpolate(
            model, seed_a, seed_b, args.frames, truncation=args.truncation, device=args.device
        )
        names = [sampling.file_name(seed_a, i, seed_b) for i in range(len(pictures))]
    else:
        pictures = sampling.sample(
            model, args.count, args.seed, truncation=args.truncation, device=args.device
        )
        names = [sampling.file_name(args.seed, i) for i in range(len(pictures))]
    if args.grid:
        seed, seed_b = args.interpolate or (args.seed, None)
        columns = len(pictures) if args.interpolate else None
        pictures = [*pictures, sampling.grid(pictures, columns)]
        names = [*names, sampling.file_name(seed, None, seed_b)]
    for picture, name in zip(pictures, names, strict=True):
        save_image(picture, args.output / name, overwrite=args.overwrite)
    print(f"{len(pictures)} pictures written to {args.output}", file=sys.stderr)
    return EXIT_OK


def _log_internal_error(error: BaseException) -> str:
    from sr_studio.core.logs import log_exception

    return log_exception(error)


def _open_app(arguments: list[str]) -> int:
    """Open the app on `arguments` (files and folders); a first argument that is not a path is a mistyped
    command, not a file to open."""
    if arguments and not Path(arguments[0]).exists():
        close = difflib.get_close_matches(arguments[0], COMMANDS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"commands: {', '.join(COMMANDS)}"
        raise UsageError(f"{arguments[0]!r} is neither a command nor an existing file ({hint})")
    from sr_studio.ui.app.launch import run_gui

    return run_gui(arguments)


def _drop_stdout() -> None:
    """Whoever read our stdout has gone (`| head`): what is still buffered goes nowhere, so that Python's
    own flush at exit does not fail on it too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _run_tool(args: argparse.Namespace) -> int:
    if args.self_test:
        from sr_studio import selftest

        return selftest.main()
    from sr_studio.desktop_entry import install

    for path in install():
        print(path)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] == "train":  # the training job speaks its own JSON-lines protocol
        from sr_studio.train.cli import run

        return run(arguments[1:])
    try:
        if not arguments or (arguments[0] not in COMMANDS and not arguments[0].startswith("-")):
            return _open_app(arguments)
        args = build_parser().parse_args(arguments)
        send_warnings_to_log()
        if args.self_test or args.install_desktop_entry:
            return _run_tool(args)
        handler = {"upscale": cmd_upscale, "models": cmd_models, "sample": cmd_sample}[args.command]
        code = handler(args)
        sys.stdout.flush()  # a reader that has gone is met here, not in Python's flush at exit
        return code
    except UsageError as error:
        print(f"sr-studio: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SRStudioError as error:
        print(f"sr-studio: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (Cancelled, KeyboardInterrupt):
        print("sr-studio: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        _drop_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as error:  # a bug: one line here, the traceback in the log file
        where = _log_internal_error(error)
        print(f"sr-studio: internal error: {type(error).__name__}: {error} (log: {where})", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
