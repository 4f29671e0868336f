"""What the Upscale tab says about its picture: its title, its size, how its result was made.

Plain functions of results and sizes, so the tab only decides when to say them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QImage

    from sr_studio.core.picture import Picture
    from sr_studio.core.upscale import UpscaleResult


def title_text(name: str, picture: Picture) -> str:
    """What the window's title calls a picture: "name (W×H)"."""
    return f"{name} ({picture.width}×{picture.height})"


def run_text(result: UpscaleResult, models: str = "", seconds: float | None = None) -> str:
    """How what the view shows was made: "model (max quality) · device · precision · OpenVINO · 1.2 s"."""
    seconds = result.seconds if seconds is None else seconds
    return (
        f"{models or result.model}{' (max quality)' if result.ensemble else ''} · {result.device} · "
        f"{result.precision}{' · OpenVINO' if result.backend == 'openvino' else ''} · {seconds:.1f} s"
    )


def size_text(picture: Picture, after: QImage | None) -> str:
    """ "W×H", and "→ W×H" of the result the view shows (not what Save would write)."""
    size = f"{picture.width}×{picture.height}"
    return size if after is None else f"{size} → {after.width()}×{after.height()}"
