"""What a fine-tune keeps of its base model's recipe: the loss that gave the model its character.

A GAN-sharpened upscaler fine-tuned with plain L1 drifts back into a smooth PSNR model, which is not what
someone fine-tuning srgan-x4 on their own pictures asked for. So a fine-tune of a model whose card recipe
trained with a perceptual, adversarial or feature-matching term trains with that recipe's loss terms (and
its weight average), and only the fine-tune's own steps, batch, patch and learning rate change. No torch
here: the wizard's settings page reads it on the GUI thread.
"""

from __future__ import annotations

import importlib.util
import tomllib
from typing import Any

TEXTURE_TERMS = ("perceptual", "adversarial", "feature_matching")  # what makes a model more than L1
KEPT_KEYS = (
    "loss",
    "pixel",
    "perceptual",
    "perceptual_loss",
    "perceptual_low_pass",
    "adversarial",
    "feature_matching",
    "periodic",
    "ema",
)
PERCEPTUAL_NAMES = {"stlpips-vgg": "ST-LPIPS VGG features", "random": "random features"}
STLPIPS_MISSING = (
    "the base model's perceptual loss needs the ST-LPIPS weights, which are not installed: "
    "pip install --no-deps stlpips-pytorch==0.0.2"
)


def _train_table(recipe: str | None) -> dict[str, Any]:
    """The `[train]` table of a recipe's TOML text; empty for no recipe or one that does not parse (an
    imported model's card has none: it fine-tunes with plain L1)."""
    if not recipe:
        return {}
    try:
        train = tomllib.loads(recipe).get("train", {})
    except tomllib.TOMLDecodeError:
        return {}
    return train if isinstance(train, dict) else {}


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def trains_texture(recipe: str | None) -> bool:
    """Whether the recipe trains more than a pixel loss: a perceptual or GAN model, judged by its pictures,
    not by its PSNR."""
    train = _train_table(recipe)
    return any(_positive(train.get(term)) for term in TEXTURE_TERMS)


def base_losses(recipe: str | None, lr: float) -> dict[str, Any]:
    """The `[train]` entries a fine-tune at learning rate `lr` takes over from its base's recipe: none for a
    PSNR model; for a perceptual/GAN one its loss terms, weight average and a discriminator learning rate in
    the base's own ratio to `lr`."""
    train = _train_table(recipe)
    if not trains_texture(recipe):
        return {}
    kept = {key: train[key] for key in KEPT_KEYS if key in train}
    if _positive(train.get("adversarial")) or _positive(train.get("feature_matching")):
        base_lr, d_lr = train.get("lr", 0), train.get("d_lr", 0)
        ratio = d_lr / base_lr if _positive(base_lr) and _positive(d_lr) else 1.0
        kept["d_lr"] = lr * ratio
    return kept


def describe(losses: dict[str, Any]) -> str:
    """The loss in a user's words: "L1", or "L1 ×0.1 + perceptual (random features) ×1 + adversarial
    ×0.005"."""
    pixel = str(losses.get("loss", "l1")).upper()
    if not losses:
        return pixel
    parts = [pixel if losses.get("pixel", 1.0) == 1.0 else f"{pixel} ×{losses['pixel']:g}"]
    if _positive(losses.get("perceptual")):
        kind = PERCEPTUAL_NAMES.get(str(losses.get("perceptual_loss", "random")), "features")
        parts.append(f"perceptual ({kind}) ×{losses['perceptual']:g}")
    if _positive(losses.get("adversarial")):
        parts.append(f"adversarial ×{losses['adversarial']:g}")
    if _positive(losses.get("feature_matching")):
        parts.append(f"feature matching ×{losses['feature_matching']:g}")
    return " + ".join(parts)


def missing_requirement(losses: dict[str, Any]) -> str | None:
    """Why these losses cannot train on this installation, or None."""
    uses_stlpips = _positive(losses.get("perceptual")) and losses.get("perceptual_loss") == "stlpips-vgg"
    if uses_stlpips and importlib.util.find_spec("stlpips_pytorch") is None:
        return STLPIPS_MISSING
    return None
