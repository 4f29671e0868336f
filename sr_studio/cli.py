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
from sr_studio.core.errors import Cancelled, ModelError, SRStudioError, UsageError
from sr_studio.core.logs import send_warnings_to_log
from sr_studio.upscale_command import EXIT_FAILED, EXIT_OK, add_upscale_parser, cmd_upscale, pick_model

if TYPE_CHECKING:
    from sr_studio.core.library import ModelEntry, ModelLibrary

COMMANDS = ("upscale", "models", "sample", "train")
EXIT_USAGE, EXIT_CANCELLED, EXIT_BROKEN_PIPE = 2, 130, 141


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

    add_upscale_parser(commands)

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
    model = library.load(pick_model(library, args.model, "sample"))
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
