"""Command-line options of a training job: a recipe file, or flags alone for a quick fine-tune.

Flags override single recipe values, so `--steps 50` shortens a recipe for a smoke test without editing it.
`--nproc N` trains on N local processes (DistributedDataParallel, `train.batch` per process); under
torchrun the job reads its rank from the environment instead.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# flag → (config key, type, help)
FLAGS: dict[str, tuple[str, type, str]] = {
    "--task": ("task", str, "upscale or sample"),
    "--name": ("name", str, "name of the resulting model"),
    "--base": ("model.base", str, "library model (or .safetensors/.pth/.pt file) to start from"),
    "--steps": ("train.steps", int, "optimisation steps"),
    "--batch": ("train.batch", int, "images per step and process"),
    "--patch": ("data.patch", int, "HR patch side (upscale) or image side (sample)"),
    "--lr": ("train.lr", float, "learning rate"),
    "--val-share": ("data.val_share", float, "share of the images kept for validation"),
    "--eval-every": ("train.eval_every", int, "steps between evaluations"),
    "--checkpoint-every": ("train.checkpoint_every", int, "steps between checkpoints"),
    "--device": ("device", str, "auto, cpu, cuda, cuda:N or mps"),
    "--precision": ("precision", str, "auto, fp32 or bf16"),
    "--seed": ("seed", int, "random seed"),
    "--threads": ("threads", int, "CPU threads for torch (0: default)"),
    "--output": ("output", str, "folder for the resulting model (default: your model library)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", type=Path, help="a TOML recipe (see training/)")
    parser.add_argument(
        "--data", action="append", metavar="FOLDER", help="image folder or list file (repeatable)"
    )
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a stopped or killed run")
    parser.add_argument("--run-dir", type=Path, help="where checkpoints, previews and events go")
    parser.add_argument("--probe", type=int, metavar="STEPS", help="only time this many steps, write nothing")
    parser.add_argument(
        "--nproc", type=int, metavar="N", help="train on N local processes (torchrun --standalone)"
    )
    parser.add_argument(
        "--dist-timeout",
        type=float,
        metavar="SECONDS",
        help="how long a rank waits for the others before the run stops (default 1800; must exceed an "
        "evaluation, during which the others wait for rank 0); the same as SR_STUDIO_DIST_TIMEOUT",
    )
    for flag, (_, kind, text) in FLAGS.items():
        parser.add_argument(flag, type=kind, help=text)


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    values = {key: getattr(args, flag[2:].replace("-", "_")) for flag, (key, _, _) in FLAGS.items()}
    values = {key: value for key, value in values.items() if value is not None}
    if args.data:
        values["data.train"] = [str(Path(p).resolve()) for p in args.data]
    if "output" in values:
        values["output"] = str(Path(values["output"]).resolve())
    return values


def keep_base_loss(flags: dict[str, Any]) -> None:
    """A fine-tune from flags alone trains with its library base's loss, as the wizard's does: a GAN base
    keeps its perceptual and adversarial terms (`fine_tune`); flags given explicitly still win."""
    from sr_studio.core.errors import SRStudioError
    from sr_studio.core.library import ModelLibrary
    from sr_studio.train.config import TrainConfig
    from sr_studio.train.fine_tune import base_losses

    base = flags.get("model", {}).get("base")
    if not base or flags.get("task", "upscale") != "upscale":
        return
    try:
        recipe = ModelLibrary().find(base).card.recipe
    except SRStudioError:  # a weights file, or a name the job's own check will report
        return
    train = flags.setdefault("train", {})
    for key, value in base_losses(recipe, train.get("lr", TrainConfig.lr)).items():
        train.setdefault(key, value)


def run(argv: Sequence[str]) -> int:
    """Parse `argv` and run (or resume, or only time) the job; exit 0 done, 1 error, 2 usage, 130 stopped."""
    import os
    import sys

    from sr_studio.train.stop import StopRequest

    stop = StopRequest()
    stop.install()  # before torch loads: a stop sent during start-up is kept, not fatal

    from sr_studio.core.errors import SRStudioError, UsageError
    from sr_studio.train.config import apply_overrides, config_from_dict, load_config
    from sr_studio.train.distributed import TIMEOUT_ENV, World
    from sr_studio.train.job import EventLog, main, probe
    from sr_studio.train.protocol import ERROR, EXIT_USAGE

    parser = argparse.ArgumentParser(prog="sr-studio train", description="Train or fine-tune a model.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.dist_timeout is not None:  # the environment reaches every rank, through torchrun too
        os.environ[TIMEOUT_ENV] = str(args.dist_timeout)
    if args.nproc is not None and args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        from sr_studio.train.launch import launch

        return launch(argv, args.nproc)
    overrides = overrides_from(args)
    if args.resume is not None:
        config = None
    else:
        try:
            if args.config is not None:
                config = load_config(args.config, overrides)
            else:
                flags: dict[str, Any] = {}
                apply_overrides(flags, overrides)
                keep_base_loss(flags)
                config = config_from_dict(flags, Path.cwd(), "flags")
        except (UsageError, SRStudioError) as error:
            EventLog.for_rank(sys.stdout, World.from_env())(ERROR, message=str(error))
            return EXIT_USAGE
    if args.probe is not None:
        if config is None:
            parser.error("--probe needs a config or flags, not --resume")
        return probe(config, args.probe)
    return main(
        None,
        config=config,
        resume=args.resume,
        run_dir=args.run_dir,
        overrides=overrides,
        stop=stop,
    )
