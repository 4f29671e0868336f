"""The question before a huge upscale: its size, time and memory, and a way out (×2, or not at all).

A 6000×6000 picture at ×4 is a 576-megapixel result and the better part of an hour on a CPU; started
silently, it looks like a hang. The estimate is `core.estimate`'s, so the CLI can print the same figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox, QWidget

from sr_studio.core.estimate import UpscaleEstimate, duration_text, estimate_for_card, size_text
from sr_studio.ui.models.purpose import is_adversarial

if TYPE_CHECKING:
    from sr_studio.core.images import Picture
    from sr_studio.core.library import ModelCard, ModelEntry, ModelLibrary
    from sr_studio.ui.app.settings import Settings

Ask = Callable[["UpscaleEstimate", str, "str | None"], str]  # (estimate, model, smaller) → an answer

GO, SMALLER, CANCEL = "go", "smaller", "cancel"  # the answers
SMALLER_SCALE = 2


def estimate_for_picture(card: ModelCard, picture: Picture, ensemble: bool) -> UpscaleEstimate:
    """What upscaling `picture` with the model of `card` would make and cost."""
    return estimate_for_card(
        card,
        picture.width,
        picture.height,
        channels=picture.channels,
        sample_bytes=picture.pixels.dtype.itemsize,
        ensemble=ensemble,
    )


def confirm_model(
    library: ModelLibrary, entry: ModelEntry | None, picture: Picture, name: str, settings: Settings, ask: Ask
) -> str | None:
    """The model to upscale `picture` with: `name`, or the ×2 one chosen over a huge output (asked with
    `ask` once the output is over the settings' threshold); None: not at all. `entry` is `name`'s (None:
    gone from the library, which the job will say)."""
    if entry is None:
        return name
    estimate = estimate_for_picture(entry.card, picture, settings.upscale_ensemble)
    threshold = settings.large_job_mp
    if not threshold or estimate.megapixels <= threshold:
        return name
    smaller = smaller_model(library, entry)
    answer = ask(estimate, name, smaller)
    if answer == SMALLER and smaller is not None:
        return smaller
    return name if answer == GO else None


def smaller_model(library: ModelLibrary, entry: ModelEntry) -> str | None:
    """A ×2 upscaler to offer instead of `entry` (one trained the same way first), None if there is none."""
    if (entry.card.scale or 1) <= SMALLER_SCALE:
        return None
    candidates = [e for e in library.entries("upscale") if e.card.scale == SMALLER_SCALE]
    style = is_adversarial(entry.card)
    best = min(
        candidates, key=lambda e: (is_adversarial(e.card) != style, not e.builtin, e.name), default=None
    )
    return best.name if best is not None else None


def large_job_text(estimate: UpscaleEstimate, model: str) -> str:
    """The question's text: what the result would be and what it would cost."""
    rate = "measured for this model" if estimate.measured else "a guess for a CPU"
    return (
        f"Upscaling with {model} makes a {estimate.width}×{estimate.height} picture "
        f"({estimate.megapixels:.0f} megapixels).\n\n"
        f"Time: {duration_text(estimate.seconds)} ({rate}, {estimate.rate_mp_s:g} megapixels a second).\n"
        f"Memory: about {size_text(estimate.peak_bytes)}.\n\n"
        "Upscale it anyway?"
    )


def ask_large_job(parent: QWidget, estimate: UpscaleEstimate, model: str, smaller: str | None) -> str:
    """GO, SMALLER (upscale with `smaller`, a ×2 model, instead) or CANCEL."""
    text = large_job_text(estimate, model)
    box = QMessageBox(
        QMessageBox.Icon.Warning, "A very large upscale", text, QMessageBox.StandardButton.NoButton, parent
    )
    go = box.addButton("Upscale anyway", QMessageBox.ButtonRole.AcceptRole)
    two = box.addButton(f"Upscale ×2 with {smaller}", QMessageBox.ButtonRole.ActionRole) if smaller else None
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.exec()
    clicked = box.clickedButton()
    box.deleteLater()
    if clicked is go:
        return GO
    return SMALLER if two is not None and clicked is two else CANCEL
