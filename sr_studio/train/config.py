"""A training run's every choice, declared once: read from TOML, overridable by flags, copied into the run.

Section and key names map 1:1 to the dataclass fields below, so a recipe file is its own documentation
and a run folder's `config.toml` reproduces the run. Relative paths are resolved against the recipe's
folder, so recipes in `training/` can name `../../shared/data/...` wherever they are run from.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sr_studio.core.detect import WEIGHTS_SUFFIXES
from sr_studio.core.errors import UsageError
from sr_studio.models.architecture import MODEL_TASKS as TASKS
from sr_studio.models.architecture import PRECISIONS

# What training runs in (as autocast): fp16 would need loss scaling to train safely, so it is not offered.
TRAINING_PRECISIONS = tuple(p for p in PRECISIONS if p != "fp16")
# An SRGAN fine-tune's critic, by its recipe name → the architecture it builds.
DISCRIMINATORS = {"srgan": "srgan_discriminator", "unet-sn": "unet_discriminator_sn"}


@dataclass
class DataConfig:
    """Where images come from and how training examples are cut from them."""

    train: list[str] = field(default_factory=list)  # folders (recursive) or list files (.txt / .tsv)
    val: list[str] = field(default_factory=list)  # explicit validation files; empty: `val_share` of train
    val_share: float = 0.1
    exclude: list[str] = field(default_factory=list)  # list files whose entries never train (val.txt)
    prescale: dict[str, int] = field(default_factory=dict)  # folder name → antialiased downscale first
    categories: list[str] = field(default_factory=list)  # .tsv lists: keep rows whose category matches
    subcategories: list[str] = field(default_factory=list)  # … or whose subcategory does (either list)
    patch: int = 96  # HR patch side (upscale) or image side (sample)
    degrade: bool = False  # Real-ESRGAN-style blur, noise and JPEG on the LR side
    background: str = "white"  # what transparent pixels are composited onto
    eval_images: int = 0  # validation images used at periodic evaluations (0: all); the final one uses all


@dataclass
class ModelConfig:
    """The network: an architecture with its arguments, or a library model to start from."""

    architecture: str = "srresnet"
    arguments: dict[str, Any] = field(default_factory=dict)
    base: str | None = None  # library model name (or .safetensors/.pth/.pt path) to warm-start from


@dataclass
class TrainConfig:
    """The optimisation: steps, batch, learning rate and its schedule, losses."""

    steps: int = 1000
    batch: int = 16  # per process: on N processes (torchrun) each step learns from N × batch
    lr: float = 2e-4
    schedule: str = "cosine"  # cosine | step | constant
    warmup: int = 0
    milestones: list[int] = field(default_factory=list)  # step schedule: ×0.5 at each
    loss: str = "l1"  # l1 | mse (upscale content loss)
    pixel: float = 1.0  # weight of that pixel loss; SRGAN fine-tunes keep it small so it cannot re-blur
    adversarial: float = 0.0  # SRGAN: weight of the adversarial term (1e-3 in the paper); 0 trains for PSNR
    perceptual: float = 0.0  # weight of the perceptual feature loss
    perceptual_loss: str = "random"  # stlpips-vgg (trained for perception) | random (Liu et al. 2021)
    perceptual_low_pass: bool = False  # compare through a binomial low-pass: no reward for Nyquist stripes
    feature_matching: float = 0.0  # weight of the discriminator feature-matching loss
    periodic: float = 0.0  # weight of the penalty on a grid locked to the pixel phases (grid_loss.py)
    discriminator: str = "srgan"  # srgan (Ledig et al., a logit per image) | unet-sn (Real-ESRGAN, per pixel)
    d_lr: float | None = None  # discriminator learning rate (default: lr)
    d_warmup: int = 0  # DCGAN warm start: first steps train only a fresh discriminator against a fixed G
    r1: float = 0.0  # DCGAN: weight γ of the R1 penalty γ/2·E‖∇D(real)‖² (Mescheder et al. 2018); 0: none
    beta1: float = 0.9
    beta2: float = 0.999
    ema: float = 0.0  # EMA decay of the generator's weights (0: none)
    diffaugment: str = ""  # DCGAN: "color,translation,cutout" on real and fake alike
    eval_every: int = 500
    checkpoint_every: int = 250
    log_every: int = 10


@dataclass
class RunConfig:
    """A whole training run."""

    task: str = "upscale"
    name: str = "my-model"
    description: str = ""
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto | fp32 | bf16 (autocast); see TRAINING_PRECISIONS
    threads: int = 0  # torch CPU threads (0: torch's default)
    output: str | None = None  # model folder for the result (default: the user's library)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    root: Path = field(default=Path("."), repr=False)  # relative paths start here; not written out

    def path(self, text: str) -> Path:
        """A path from the config, resolved against the recipe's folder."""
        path = Path(text).expanduser()
        return path if path.is_absolute() else (self.root / path)

    def base_file(self) -> Path | None:
        """The weights file `model.base` names (.safetensors, .pth or .pt), from the recipe's folder; None
        when it names a library model, or nothing."""
        base = self.model.base
        if not base or Path(base).suffix.lower() not in WEIGHTS_SUFFIXES:
            return None
        return self.path(base)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("root")
        return _without_none(data)


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    """TOML has no null: leave unset options out."""
    return {k: _without_none(v) if isinstance(v, dict) else v for k, v in data.items() if v is not None}


def config_from_dict(data: dict[str, Any], root: Path, source: str = "config") -> RunConfig:
    """Build and check a RunConfig; an unknown key or a wrong type is one line naming it."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise UsageError(f"{source}: [{key}] must be a table")
            values[key] = _build(_SECTIONS[key], value, f"{source}: [{key}]")
        else:
            values[key] = value
    config = _build(RunConfig, values, source)
    config.root = root
    _check(config, source)
    return config


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "root"}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise UsageError(f"{where}: unknown option {unknown[0]!r} (known: {', '.join(sorted(fields))})")
    defaults = cls()
    for name, value in values.items():
        expected = getattr(defaults, name)
        if isinstance(expected, bool) and not isinstance(value, bool):
            raise UsageError(f"{where}: {name} must be true or false, not {value!r}")
        if isinstance(expected, int | float) and not isinstance(expected, bool):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UsageError(f"{where}: {name} must be a number, not {value!r}")
            if isinstance(expected, int) and not isinstance(expected, bool) and not isinstance(value, int):
                raise UsageError(f"{where}: {name} must be a whole number, not {value!r}")
        if isinstance(expected, list | dict) and not isinstance(value, type(expected)):
            raise UsageError(f"{where}: {name} must be a {type(expected).__name__}, not {value!r}")
    return cls(**values)


def _check(config: RunConfig, source: str) -> None:
    train, data = config.train, config.data
    problems = [
        (config.task not in TASKS, f"task must be one of {', '.join(TASKS)}, not {config.task!r}"),
        (
            config.precision not in ("auto", *TRAINING_PRECISIONS),
            f"precision must be auto, {' or '.join(TRAINING_PRECISIONS)}, not {config.precision!r}",
        ),
        (train.steps < 1, "train.steps must be at least 1"),
        (train.batch < 1, "train.batch must be at least 1"),
        (train.lr <= 0, "train.lr must be positive"),
        (train.schedule not in ("cosine", "step", "constant"), "train.schedule: cosine, step or constant"),
        (train.loss not in ("l1", "mse"), "train.loss must be l1 or mse"),
        (
            train.perceptual_loss not in ("stlpips-vgg", "random"),
            "train.perceptual_loss must be stlpips-vgg or random",
        ),
        (not 0 <= train.ema < 1, "train.ema must be in [0, 1)"),
        (train.periodic < 0, "train.periodic must be 0 or more"),
        (train.r1 < 0, "train.r1 must be 0 or more"),
        (train.discriminator not in DISCRIMINATORS, f"train.discriminator: {' or '.join(DISCRIMINATORS)}"),
        (
            bool(train.feature_matching) and train.discriminator != "srgan",
            "train.feature_matching needs the srgan discriminator",
        ),
        (not 0 <= data.val_share < 1, "data.val_share must be in [0, 1)"),
        (data.patch < 8, "data.patch must be at least 8 pixels"),
        (not data.train, "data.train names no image folder or list"),
        (train.eval_every < 1 or train.checkpoint_every < 1 or train.log_every < 1, "*_every must be ≥ 1"),
    ]
    for failed, message in problems:
        if failed:
            raise UsageError(f"{source}: {message}")


def load_config(path: Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a TOML recipe; `overrides` ({"train.steps": 50, ...}) replace single values (CLI flags)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read the config: {error.strerror}", path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"not a valid TOML file: {error}", path) from None
    apply_overrides(data, overrides or {})
    return config_from_dict(data, path.resolve().parent, str(path))


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> None:
    for dotted, value in overrides.items():
        *sections, key = dotted.split(".")
        table = data
        for section in sections:
            table = table.setdefault(section, {})
        table[key] = value


def dump_toml(config: RunConfig, *, relative_to: Path | None = None) -> str:
    """The config as TOML. Paths are written resolved: absolute for the run folder's copy, so the copy runs
    from anywhere; relative to `relative_to` for a card that travels (see `portable_path`)."""

    def written(text: str) -> str:
        path = config.path(text).resolve()
        return str(path) if relative_to is None else portable_path(path, relative_to)

    data = config.to_dict()
    data["data"] = {
        **data["data"],
        **{key: [written(p) for p in data["data"][key]] for key in ("train", "val", "exclude")},
    }
    if config.output:
        data["output"] = written(config.output)
    base = config.base_file()
    if base is not None:
        data["model"]["base"] = written(str(base))
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    lines = [f"{key} = {_toml_value(value)}" for key, value in top.items()]
    for section in ("data", "model", "train"):
        lines += ["", f"[{section}]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in data[section].items()]
    return "\n".join(lines) + "\n"


def portable_path(path: Path, start: Path) -> str:
    """`path` relative to the folder `start`, with `/` separators, so a card names the same files on any
    machine where they lie in the same place relative to it (a repository beside its data); absolute only
    where no relative path exists (another drive on Windows)."""
    try:
        return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
    except ValueError:
        return str(path.resolve())


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml_value(key)
