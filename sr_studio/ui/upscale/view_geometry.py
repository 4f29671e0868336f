"""The split view's geometry, as pure functions: a view is `pane_point = origin + zoom * output_point`.

`origin` is where output point (0, 0) falls in a pane (widget pixels from the pane's top left) and `zoom` is
widget pixels per output pixel. Kept apart from the widget so that the maths of fitting, panning, zooming
around a point and keeping the view across a resize reads (and can be checked) without any widget state.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, QSizeF

PAN_MARGIN = 32.0  # a pan always leaves this much of the picture on screen


def fit_zoom(output: QSize, pane: QSizeF) -> float:
    """The zoom that shows all of `output` in `pane`, as large as it fits; 0 while either is empty."""
    if output.isEmpty() or pane.isEmpty():
        return 0.0
    return min(pane.width() / output.width(), pane.height() / output.height())


def centred_origin(output: QSize, pane: QSizeF, zoom: float) -> QPointF:
    """The origin that centres `output`, at `zoom`, in `pane`: where a fitted picture sits."""
    return QPointF((pane.width() - zoom * output.width()) / 2, (pane.height() - zoom * output.height()) / 2)


def clamp_pan(origin: QPointF, zoom: float, output: QSize, pane: QSizeF) -> QPointF:
    """`origin` moved just enough that some of the picture (PAN_MARGIN, or all of a smaller one) stays on
    screen, so a pan can never lose the picture off the edge of the pane."""

    def clamp(start: float, extent: float, room: float) -> float:
        margin = min(PAN_MARGIN, extent, room)
        return min(room - margin, max(margin - extent, start))

    return QPointF(
        clamp(origin.x(), zoom * output.width(), pane.width()),
        clamp(origin.y(), zoom * output.height(), pane.height()),
    )


def output_point(pane_pos: QPointF, origin: QPointF, zoom: float) -> QPointF:
    """The output point under `pane_pos` (widget pixels from the pane's top left): the view's inverse."""
    return QPointF((pane_pos.x() - origin.x()) / zoom, (pane_pos.y() - origin.y()) / zoom)


def anchored_origin(pane_pos: QPointF, point: QPointF, zoom: float) -> QPointF:
    """The origin that puts output `point` under `pane_pos` at `zoom`: how a zoom keeps the point under the
    pointer (or the centre) in place."""
    return QPointF(pane_pos.x() - zoom * point.x(), pane_pos.y() - zoom * point.y())


def kept_view(
    zoom: float,
    origin: QPointF,
    old: tuple[QSize, QSizeF],
    new: tuple[QSize, QSizeF],
    limits: tuple[float, float],
) -> tuple[float, QPointF]:
    """The view that keeps the picture where it was on screen when the (output size, pane size) changes
    from `old` to `new`: a result replacing its before must not move, nor a resize lose the view's centre.

    The zoom follows the output's scale; a new pane size keeps the output point at the centre of the view at
    the centre; a zoom that falls outside `limits` is clamped around the centre of the pane.
    """
    (old_size, old_pane), (size, pane) = old, new
    zoom = zoom * old_size.width() / size.width()
    if pane != old_pane:
        centre_x = (old_pane.width() / 2 - origin.x()) / zoom
        centre_y = (old_pane.height() / 2 - origin.y()) / zoom
        origin = QPointF(pane.width() / 2 - zoom * centre_x, pane.height() / 2 - zoom * centre_y)
    low, high = limits
    if not low <= zoom <= high:
        clamped = min(high, max(low, zoom))
        centre = QPointF(pane.width() / 2, pane.height() / 2)
        origin = centre - (centre - origin) * (clamped / zoom)
        zoom = clamped
    return zoom, origin


def visible_region(output: QSize, pane: QRectF, origin: QPointF, zoom: float) -> QRectF:
    """The part of `output` (output pixels) that `pane` shows, clipped to the picture: what is worth
    upscaling or painting first."""
    if output.isEmpty():
        return QRectF()
    shown = QRectF((pane.topLeft() - origin) / zoom, (pane.bottomRight() - origin) / zoom)
    return shown.intersected(QRectF(0, 0, output.width(), output.height()))


def outlines(region: QRectF, pane_lefts: tuple[float, ...], origin: QPointF, zoom: float) -> list[QRectF]:
    """`region` (output pixels) in widget pixels, once in each pane whose left edge is in `pane_lefts`:
    the outline that marks a preview, so a small crop in a big picture is not mistaken for nothing."""
    return [
        QRectF(
            left + origin.x() + zoom * region.left(),
            origin.y() + zoom * region.top(),
            zoom * region.width(),
            zoom * region.height(),
        )
        for left in pane_lefts
    ]


def lines_up(before: QSize, after: QSize) -> bool:
    """Whether `after` is `before` scaled by one factor, give or take a rounded pixel per side: whether one
    can be the other's result, and so share its view."""
    skew = abs(after.width() * before.height() - after.height() * before.width())
    return skew <= before.width() + before.height()
