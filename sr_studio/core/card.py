"""The model card: what a model is and where it came from, stored as NAME.json beside its weights.

Validation refuses a bad card in one line before it is ever used; no torch here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sr_studio
from sr_studio.core.errors import ModelError
from sr_studio.models import ARCHITECTURES
from sr_studio.models.architecture import MODEL_TASKS as TASKS
from sr_studio.models.architecture import PRECISIONS

CARD_FORMAT = 1
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
NAME_MAX = 64


@dataclass(frozen=True)
class ModelCard:
    """What a model is and where it came from; stored as NAME.json next to NAME.safetensors."""

    name: str
    task: str
    architecture: str
    arguments: dict[str, Any]
    sha256: str
    scale: int | None = None
    value_range: tuple[float, float] = (0.0, 1.0)
    precision: tuple[str, ...] = PRECISIONS
    description: str = ""
    licence: str = "unknown"
    recipe: str | None = None
    data_manifest: dict[str, Any] | list[Any] | str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    created_by: str = f"sr-studio {sr_studio.__version__}"
    extra: dict[str, Any] = field(default_factory=dict)
    format: int = CARD_FORMAT

    def __post_init__(self) -> None:
        _validate(self)

    def quality(self) -> str:
        """The card's measured quality in one line (as the training job records it), for model lists."""
        metrics, extra = self.metrics, self.extra
        after, before = metrics.get("after") or {}, metrics.get("before") or {}
        if isinstance(after.get("psnr"), int | float):
            text = f"val {after['psnr']:.2f} dB"
            if isinstance(before.get("bicubic", {}).get("psnr"), int | float):
                text += f" vs bicubic {before['bicubic']['psnr']:.2f}"
        elif isinstance(after.get("frechet"), int | float):
            text = f"Fréchet {after['frechet']:.2f}"
            if isinstance(before.get("real_halves", {}).get("frechet"), int | float):
                text += f" (real vs real {before['real_halves']['frechet']:.2f})"
        else:
            return ""
        if isinstance(metrics.get("images"), int):
            text += f" on {metrics['images']} images"
        if extra.get("complete") is False:
            text += f"; still training: step {extra.get('steps_done')} of {extra.get('steps')}"
        return text

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, path: str | Path | None = None) -> ModelCard:
        """Parse and validate a card; any problem is a one-line ModelError naming `path`."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ModelError(f"card is malformed: not JSON ({error})", path) from None
        if not isinstance(data, dict):
            raise ModelError("card is malformed: not a JSON object", path)
        known = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls) if _is_required(f)}
        if unknown := sorted(set(data) - known):
            raise ModelError(f"card is malformed: unknown field {unknown[0]!r}", path)
        if missing := sorted(required - set(data)):
            raise ModelError(f"card is malformed: missing field {missing[0]!r}", path)
        for name in ("value_range", "precision"):
            if isinstance(data.get(name), list):
                data[name] = tuple(data[name])
        try:
            return cls(**data)
        except ValueError as error:
            raise ModelError(f"card is malformed: {error}", path) from None


def _is_required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _validate(card: ModelCard) -> None:
    """Raise ValueError saying what is wrong with the card's fields, so a bad card never gets used."""
    _expect(card, "name", str)
    check_name(card.name)
    for name in ("task", "architecture", "sha256", "description", "licence", "created_by"):
        _expect(card, name, str)
    for name in ("recipe", "source"):
        _expect(card, name, (str, type(None)))
    for name in ("arguments", "metrics", "extra"):
        _expect(card, name, dict)
    _expect(card, "data_manifest", (dict, list, str, type(None)))
    _expect(card, "format", int)
    _expect(card, "scale", (int, type(None)))
    _expect(card, "value_range", tuple)
    _expect(card, "precision", tuple)
    if card.format > CARD_FORMAT:
        raise ValueError(f"card format {card.format} is newer than this SR Studio reads ({CARD_FORMAT})")
    if card.task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, not {card.task!r}")
    if card.architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {card.architecture!r}")
    if not re.fullmatch(r"[0-9a-f]{64}", card.sha256):
        raise ValueError("sha256 must be 64 lower-case hex digits")
    if card.task == "upscale" and (card.scale is None or card.scale < 1):
        raise ValueError("an upscaler needs a positive integer scale")
    if card.task == "sample" and card.scale is not None:
        raise ValueError("a sampler has no scale")
    if "scale" in card.arguments and card.arguments["scale"] != card.scale:
        raise ValueError(f"scale {card.scale} differs from arguments.scale {card.arguments['scale']}")
    low_high = card.value_range
    if len(low_high) != 2 or not all(_is_number(v) for v in low_high) or not low_high[0] < low_high[1]:
        raise ValueError(f"value_range must be two numbers, low < high, not {list(low_high)}")
    if not card.precision or not all(p in PRECISIONS for p in card.precision):
        raise ValueError(f"precision must list some of {', '.join(PRECISIONS)}, not {list(card.precision)}")


def _expect(card: ModelCard, name: str, types: type | tuple[type, ...]) -> None:
    value = getattr(card, name)
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
        raise ValueError(f"{name} has the wrong type ({type(value).__name__}: {value!r})")


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_name(name: str) -> str:
    """`name` if it is a valid model name (it becomes a file name), else ValueError saying why."""
    if not NAME_PATTERN.fullmatch(name) or len(name) > NAME_MAX:
        raise ValueError(
            f"invalid model name {name!r}: use up to {NAME_MAX} lower-case letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return name


def sanitise_name(text: str) -> str:
    """A valid model name made from any text, such as a file stem ("RealESRGAN x4" → "realesrgan-x4")."""
    name = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).lstrip("._-")[:NAME_MAX].rstrip("-")
    return name or "imported"
