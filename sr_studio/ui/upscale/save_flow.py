"""From Save As to the job that writes: the questions to ask for what the tab holds, and the worker job
their answers make.

A still result (or the results of a comparison) is written with `save_image`; an upscaled animation with
`save_animation`, as an animated GIF, PNG or WebP with its durations and loop. The tab only runs the job.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from sr_studio.ui.upscale.animation_jobs import save_frames_job
from sr_studio.ui.upscale.jobs import save_job
from sr_studio.ui.upscale.save_dialog import (
    animation_extension,
    ask_animation_file,
    ask_save_files,
    default_save_path,
)

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from sr_studio.core.upscale import UpscaleResult
    from sr_studio.ui.app.settings import Settings
    from sr_studio.ui.jobs.workers import JobFactory
    from sr_studio.ui.upscale.animation_jobs import Frames
    from sr_studio.ui.upscale.jobs import Compared, Opened

SaveJob = tuple["JobFactory", str]  # the job, and the status line while it runs
AskWhich = Callable[[str, str], "str | None"]  # (model A, model B) → "A", "B", "both" or None


def results_to_save(
    result: UpscaleResult, compared: Compared | None, ask_which: AskWhich
) -> list[UpscaleResult]:
    """The last result; after a comparison, A, B or both as the user says (none: cancelled)."""
    if compared is None:
        return [result]
    a, b = compared.a.result, compared.b.result
    answer = ask_which(a.model, b.model)
    return {"A": [a], "B": [b], "both": [a, b]}.get(answer or "", [])


def still_save_job(
    parent: QWidget,
    opened: Opened,
    result: UpscaleResult,
    compared: Compared | None,
    settings: Settings,
    ask_which: AskWhich,
) -> SaveJob | None:
    """Ask which result (after a comparison, with `ask_which`), where (one file each, named after its
    model) and how well; the job writing them, None when not to save. A format that cannot be written
    raises `UsageError`."""
    results = results_to_save(result, compared, ask_which)
    scale = results[0].scale if results else 1
    default = default_save_path(opened.path, opened.name, scale, settings)
    files = ask_save_files(parent, results, default, settings, named=compared is not None)
    if files is None:
        return None
    names = ", ".join(path.name for _, path, _ in files.files)
    return partial(save_job, files.files, files.quality), f"Saving {names}…"


def animation_save_job(
    parent: QWidget, opened: Opened, frames: Frames, scale: int, settings: Settings
) -> SaveJob | None:
    """Ask where to write the upscaled animation `frames` (GIF, APNG or WebP, its source's format first);
    the job writing it, None when not to save."""
    extension = animation_extension(frames.animation.format)
    default = default_save_path(opened.path, opened.name, scale, settings, extension)
    chosen = ask_animation_file(parent, default, settings)
    if chosen is None:
        return None
    job = partial(save_frames_job, frames.animation, chosen.path, chosen.quality, chosen.overwrite)
    return job, f"Saving {chosen.path.name} ({frames.count} frames)…"
