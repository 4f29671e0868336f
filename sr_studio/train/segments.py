"""Training that adds up: a model's card lists every run ("segment") that trained its weights.

A run that warm-starts from a library model *of the same name* continues that model: its card carries the
base card's segments and appends its own, so a model trained over many sessions (or on a GPU once and on a
CPU later) shows where each step, second and decibel came from. Cards written before segments existed get
one segment rebuilt from their own fields, marked as such.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def card_segments(extra: dict[str, Any], metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The segments a card records; a card from before segments yields one built from its fields."""
    if isinstance(extra.get("segments"), list):
        return [dict(segment) for segment in extra["segments"]]
    if not extra.get("steps_done"):
        return []
    before = (metrics.get("before") or {}).get("base") or {}
    return [
        {
            "steps": extra["steps_done"],
            "wall_seconds": extra.get("wall_seconds"),
            "machine": extra.get("machine"),
            "precision": extra.get("precision"),
            "val_images": metrics.get("images"),
            "val_before": before or None,
            "val_after": metrics.get("after") or None,
            "note": "rebuilt from a card written before segments were recorded",
        }
    ]


def this_segment(
    *,
    steps: int,
    seconds: float,
    machine: str,
    precision: str,
    started: float,
    metrics: dict[str, Any],
    before: dict[str, Any],
) -> dict[str, Any]:
    """The running segment: its steps and time so far, and validation before it and after it.

    `before` is the base model's numbers from the step-0 evaluation; the latest evaluation's own `base`
    entry wins where it has one, since it was measured on the same images as `after`.
    """
    base = metrics.get("base") or before.get("base")
    return {
        "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "steps": steps,
        "wall_seconds": round(seconds, 1),
        "machine": machine,
        "precision": precision,
        "val_images": metrics.get("images"),
        "val_before": base,
        "val_after": metrics.get("model") or None,
    }


def totals(segments: list[dict[str, Any]]) -> dict[str, Any]:
    """Steps and wall time summed over all segments (None where a segment did not record its time)."""
    seconds = [segment.get("wall_seconds") for segment in segments]
    timed = [s for s in seconds if isinstance(s, int | float)]
    return {
        "segments": len(segments),
        "steps": sum(int(segment.get("steps") or 0) for segment in segments),
        "wall_seconds": round(sum(timed), 1) if len(timed) == len(seconds) else None,
    }
