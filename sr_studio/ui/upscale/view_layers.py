"""How the split view draws its pictures: each side of the widget is a clip showing layers (before, after,
preview) placed in output coordinates, and a layer is drawn from only the source pixels under the visible
area, so a 100-megapixel result costs what the screen shows."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QBrush, QImage, QPainter


@dataclass(frozen=True)
class Layer:
    """One image to paint, placed on a rectangle in output coordinates."""

    name: str
    image: QImage
    placement: QRectF
    smooth: bool


@dataclass(frozen=True)
class Side:
    """Widget area `clip` showing layers through the view of the pane whose left edge is at `left`."""

    clip: QRectF
    left: float
    layers: tuple[Layer, ...]
    after_side: bool = False  # the side a job's result will replace: dimmed while one runs


def draw_layer(
    painter: QPainter, layer: Layer, area: QRectF, origin: QPointF, zoom: float, checker: QBrush
) -> QRectF | None:
    """Draw the part of `layer` under `area` (widget pixels), from whole source pixels only, with the
    output origin at widget `origin` and `zoom` widget pixels per output pixel; the source rectangle
    drawn, None when none of it is under `area`."""
    image, place = layer.image, layer.placement
    if image.isNull() or place.isEmpty():
        return None
    seen = QRectF((area.topLeft() - origin) / zoom, (area.bottomRight() - origin) / zoom)
    seen = seen.intersected(place)
    if seen.isEmpty():
        return None
    sx, sy = place.width() / image.width(), place.height() / image.height()
    # Bilinear sampling stops at the source rectangle's edge: one more pixel keeps the seams invisible.
    spare = 1 if layer.smooth else 0
    x0 = max(0, math.floor((seen.left() - place.left()) / sx) - spare)
    y0 = max(0, math.floor((seen.top() - place.top()) / sy) - spare)
    x1 = min(image.width(), math.ceil((seen.right() - place.left()) / sx) + spare)
    y1 = min(image.height(), math.ceil((seen.bottom() - place.top()) / sy) + spare)
    source = QRectF(x0, y0, x1 - x0, y1 - y0)
    target = QRectF(
        origin.x() + zoom * (place.left() + x0 * sx),
        origin.y() + zoom * (place.top() + y0 * sy),
        zoom * sx * (x1 - x0),
        zoom * sy * (y1 - y0),
    )
    if image.hasAlphaChannel():
        painter.fillRect(target.intersected(area), checker)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, layer.smooth)
    painter.drawImage(target, image, source)
    return source
