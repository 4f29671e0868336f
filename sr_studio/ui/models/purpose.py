"""What an upscaler is for, in the words of someone choosing one: "Photos, faithful ×4", not its architecture.

The purpose comes from the card: its scale, what its recipe trained on, and whether the recipe had an
adversarial term (GAN training: sharper, invented texture) or not (faithful to the original). The user's
own models are called what the user called them. The full description goes in the tooltip.
"""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sr_studio.core.library import ModelCard, ModelEntry

DESCRIPTION_CHARS = 40  # of a user model's description in the model box; the tooltip has all of it


def _recipe(card: ModelCard) -> dict[str, Any]:
    """The card's training recipe as TOML tables, {} when there is none or it does not parse."""
    if not card.recipe:
        return {}
    try:
        return tomllib.loads(card.recipe)
    except tomllib.TOMLDecodeError:
        return {}


def is_adversarial(card: ModelCard) -> bool | None:
    """Whether the recipe trained with an adversarial loss; None when the card has no recipe to say."""
    weight = _recipe(card).get("train", {}).get("adversarial")
    return weight > 0 if isinstance(weight, int | float) else None


def purpose(card: ModelCard) -> str:
    """ "Photos, faithful ×4", "Photos, sharper textures ×4", or "Pictures ×2" when the card cannot say."""
    train = _recipe(card).get("data", {}).get("train", [])
    sources = " ".join(map(str, train if isinstance(train, list) else [train])) + " " + card.description
    subject = "Photos" if "photo" in sources.lower() else "Pictures"
    style = {True: "sharper textures", False: "faithful", None: ""}[is_adversarial(card)]
    return f"{subject}, {style} ×{card.scale}" if style else f"{subject} ×{card.scale}"


def model_label(entry: ModelEntry) -> str:
    """The model box's line: a built-in model's purpose and name; the user's own name and description."""
    card = entry.card
    if entry.builtin:
        return f"{purpose(card)} ({entry.name})"
    text = f"{entry.name} ×{card.scale}"
    if not card.description:
        return text
    description = card.description
    if len(description) > DESCRIPTION_CHARS:
        description = description[: DESCRIPTION_CHARS - 1].rstrip() + "…"
    return f"{text} — {description}"


def model_tooltip(entry: ModelEntry) -> str:
    """Everything the card says about the model in a few lines: name, architecture, description, quality."""
    card = entry.card
    kind = "built in" if entry.builtin else "your model"
    lines = [f"{entry.name} (×{card.scale}, {card.architecture}, {kind})"]
    if card.description:
        lines.append(card.description)
    if quality := card.quality():
        lines.append(quality)
    return "\n".join(lines)
