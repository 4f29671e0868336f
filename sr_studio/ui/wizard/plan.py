"""What the fine-tuning wizard's pages collect, and how it becomes a training job's recipe and run folder.

No Qt here: the recipe, the names and the time estimate are plain functions, so they read (and test)
without widgets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sr_studio.core.library import NAME_MAX, sanitise_name
from sr_studio.train.protocol import validation_count

if TYPE_CHECKING:
    from sr_studio.train.data import ScanSummary

UPSCALE, SAMPLE = "upscale", "sample"
WHAT, DATA, SETTINGS, TRAIN, FINISH = range(5)  # the wizard's page ids
PATCH_MAX = 96  # SRResNet's HR patch
EVAL_IMAGES = 8  # validation images at periodic evaluations (the final one uses all)
STEPS_MAX = 1_000_000  # the steps box's top


@dataclass(frozen=True)
class Preset:
    """A training length chosen by time, not by steps: its step count follows from the seconds per step
    the probe measured for the very settings it will run, so its label's steps and time always agree."""

    label: str
    seconds: float  # the training time aimed at
    floor: int  # the fewest steps worth running, however slow the machine

    def steps(self, seconds_per_step: float | None) -> int:
        """Steps that fill `seconds` at the measured rate, in two figures; the floor until measured."""
        if not seconds_per_step:
            return self.floor
        return min(STEPS_MAX, max(self.floor, round_steps(self.seconds / seconds_per_step)))


# Lengths of time, so a preset means the same on a 2-core laptop and on a GPU. Fine-tuning starts from a
# trained upscaler, so five minutes at a low learning rate already show whether a narrow domain gains
# (the finish page measures it); the longer ones buy more steps for larger folders. The floors keep a
# slow machine's run long enough to show anything; a DCGAN starts from nothing and needs more of them.
PRESETS = {
    UPSCALE: (Preset("Quick", 300, 50), Preset("Standard", 1800, 300), Preset("Thorough", 7200, 1000)),
    SAMPLE: (Preset("Quick", 300, 300), Preset("Standard", 1800, 1000), Preset("Thorough", 7200, 3000)),
}


def round_steps(steps: float) -> int:
    """A count read at a glance: 457.8 → 460, 10986 → 11000 (two figures, whole tens)."""
    unit = 10 ** max(1, math.floor(math.log10(max(steps, 1.0))) - 1)
    return round(steps / unit) * unit


@dataclass(frozen=True)
class Plan:
    """Every choice the pages collect, turned into the job's recipe by `config`."""

    task: str
    folder: Path
    val_share: float
    steps: int
    batch: int
    lr: float
    eval_every: int
    device: str = "auto"
    threads: int = 0
    patch: int = PATCH_MAX  # upscale: HR patch side; sample: the image size
    base: str | None = None
    width: int = 64
    latent_dim: int = 100
    losses: dict[str, Any] = field(default_factory=dict)  # upscale: what the base's recipe trained beyond L1

    def config(self, name: str, output: Path | None = None) -> dict[str, Any]:
        """The recipe as `sr_studio.train.config.config_from_dict` takes it."""
        train: dict[str, Any] = {
            "steps": self.steps,
            "batch": self.batch,
            "lr": self.lr,
            "eval_every": self.eval_every,
            "checkpoint_every": max(10, self.steps // 50),  # a crash loses at most 2% of the run
            "log_every": min(10, max(1, self.steps // 100)),  # enough curve points for short runs too
        }
        data: dict[str, Any] = {"train": [str(self.folder)], "val_share": self.val_share, "patch": self.patch}
        if self.task == UPSCALE:
            model: dict[str, Any] = {"base": self.base}
            data["eval_images"] = EVAL_IMAGES
            train |= self.losses  # a GAN-sharpened base keeps its loss, so it stays sharp
        else:
            model = {
                "architecture": "dcgan_generator",
                "arguments": {"latent_dim": self.latent_dim, "image_size": self.patch, "width": self.width},
            }
            train |= {"beta1": 0.5, "ema": 0.999, "diffaugment": "color,translation,cutout"}
        config = {"task": self.task, "name": name, "device": self.device, "threads": self.threads}
        if output is not None:
            config["output"] = str(output)
        return {**config, "data": data, "model": model, "train": train}

    def suggested_name(self) -> str:
        stem = sanitise_name(self.folder.name)
        return sanitise_name(f"{self.base}-{stem}" if self.task == UPSCALE else f"gan-{stem}")


def write_recipe(plan: Plan, name: str, path: Path, output: Path | None) -> Path:
    """Check the plan as the job will (one-line errors) and write it as TOML."""
    from sr_studio.train.config import config_from_dict, dump_toml

    config = config_from_dict(plan.config(name, output), path.parent, "wizard")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_toml(config), encoding="utf-8")
    return path


def unique_name(wanted: str, taken: set[str]) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`… whichever is free."""
    wanted = wanted[: NAME_MAX - 4]
    name, number = wanted, 2
    while name in taken:
        name, number = f"{wanted}-{number}", number + 1
    return name


def recipe_path(run_dir: Path) -> Path:
    """Where a new run's recipe goes: beside its folder, which gets its own copy (config.toml)."""
    return run_dir.parent / f"{run_dir.name}.toml"


def new_run_dir(root: Path, name: str) -> Path:
    base = root / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir, number = base, 2
    while run_dir.exists() or recipe_path(run_dir).exists():
        run_dir, number = base.with_name(f"{base.name}-{number}"), number + 1
    return run_dir


def evaluation_seconds(plan: Plan, seconds_per_step: float, summary: ScanSummary | None) -> tuple[float, int]:
    """A rough allowance for the evaluations (the probe does not time them) and how many there are.

    A pixel of an upscaler's evaluation costs like a pixel of a training batch (inference is cheaper, but
    PSNR/SSIM and the bicubic baseline add their share); a GAN's draws the 64-sample grid and one sample
    per reference image.
    """
    count = len(summary.usable) if summary else 0
    val = validation_count(count, plan.val_share)
    evaluations = math.ceil(plan.steps / plan.eval_every) + 1  # + the baseline at step 0
    if plan.task == UPSCALE:
        if not val or summary is None:
            return 0.0, 0
        mean_pixels = summary.megapixels * 1e6 / count
        per_eval = seconds_per_step * min(val, EVAL_IMAGES) * mean_pixels / (plan.batch * plan.patch**2)
    else:
        per_eval = seconds_per_step * (64 + (val or count)) / plan.batch
    return per_eval * evaluations, evaluations
