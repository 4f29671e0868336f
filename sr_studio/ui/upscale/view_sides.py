"""What each part of the split view shows, and painting it: the widget is cut into sides (before | after at
the divider, or two panes side by side), each a clip showing `view_layers` layers through one view."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize
from PySide6.QtGui import QBrush, QImage, QPainter

from sr_studio.ui.upscale.view_layers import Layer, Side, draw_layer

DIM_OPACITY = 0.4  # of the after side while a newer job works on it


def layout_sides(
    widget: QRectF,
    output: QSize,
    *,
    before: QImage | None,
    after: QImage | None,
    preview: tuple[QImage | None, QRect],
    smooth_before: bool,
    zoom: float,
    comparing: bool,
    panes: int,
    divider_x: float,
) -> list[Side]:
    """The sides of `widget`, left to right: the one picture alone, or before and after (a preview over the
    before while there is no after) split at `divider_x` or in `panes` panes."""
    whole = QRectF(0, 0, output.width(), output.height())
    # The after shows real pixels when zoomed in, and is smoothed when zoomed out.
    afters = [Layer("after", after, whole, zoom < 1)] if after is not None else []
    befores = [Layer("before", before, whole, smooth_before)] if before is not None else []
    if not comparing:
        return [Side(widget, 0.0, tuple(befores or afters))]
    image, region = preview
    if not afters and image is not None:
        afters = [*befores, Layer("preview", image, QRectF(region), zoom < 1)]
    left, right = tuple(befores), tuple(afters)
    if panes == 2:
        pane = QRectF(0, 0, widget.width() / panes, widget.height())
        return [
            Side(pane, 0.0, left),
            Side(pane.translated(pane.width(), 0), pane.width(), right, after_side=True),
        ]
    return [
        Side(QRectF(0, 0, divider_x, widget.height()), 0.0, left),
        Side(QRectF(divider_x, 0, widget.width() - divider_x, widget.height()), 0.0, right, after_side=True),
    ]


def paint_sides(
    painter: QPainter,
    sides: list[Side],
    clip: QRectF,
    view: tuple[QPointF, float],
    checker: QBrush,
    dimmed: bool,
) -> list[tuple[str, QRectF]]:
    """Paint the parts of `sides` under `clip` through `view` (origin, zoom), the after side dimmed if
    `dimmed`; the (layer, source rectangle) of each layer drawn, so tests can see what painting cost."""
    (origin, zoom), sources = view, []
    for side in sides:
        area = side.clip.intersected(clip)
        if area.isEmpty():
            continue
        painter.save()
        painter.setClipRect(area)
        if side.after_side and dimmed:
            painter.setOpacity(DIM_OPACITY)
        for layer in side.layers:
            at = QPointF(side.left + origin.x(), origin.y())
            source = draw_layer(painter, layer, area, at, zoom, checker)
            if source is not None:
                sources.append((layer.name, source))
        painter.restore()
    return sources
