"""What the split view paints over its pictures: the divider's handle, the corner labels, the preview's
outline, and the checkerboard under transparency. Plain functions of a painter and widget geometry."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QImage, QPainter, QPainterPath, QPen, QPolygonF

OUTLINE_COLOUR = QColor(255, 200, 0)  # the preview's outline, on a dark halo that shows on light pictures
_OUTLINE_HALO = QColor(0, 0, 0, 160)
_CHECKER = (QColor(204, 204, 204), QColor(153, 153, 153))
_CHECKER_SQUARE = 8


def draw_outlines(painter: QPainter, rects: Sequence[QRectF]) -> None:
    """The preview's rectangle in each pane: a bright line on a dark halo, clear on any picture."""
    painter.save()
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for rect in rects:
        painter.setPen(QPen(_OUTLINE_HALO, 3))
        painter.drawRect(rect)
        painter.setPen(QPen(OUTLINE_COLOUR, 1))
        painter.drawRect(rect)
    painter.restore()


def draw_divider(painter: QPainter, x: float, height: float) -> None:
    """The divider at widget x: a line with a round handle whose arrows say "drag me sideways"."""
    middle = height / 2
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor(0, 0, 0, 110), 4))
    painter.drawLine(QPointF(x, 0), QPointF(x, height))
    painter.setPen(QPen(QColor(255, 255, 255), 2))
    painter.drawLine(QPointF(x, 0), QPointF(x, height))
    painter.setPen(QPen(QColor(0, 0, 0, 110), 1))
    painter.setBrush(QColor(255, 255, 255))
    painter.drawEllipse(QPointF(x, middle), 14, 14)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(60, 60, 60))
    for direction in (-1, 1):
        tip = x + direction * 9
        painter.drawPolygon(
            QPolygonF(
                [
                    QPointF(tip, middle),
                    QPointF(tip - direction * 5, middle - 5),
                    QPointF(tip - direction * 5, middle + 5),
                ]
            )
        )
    painter.restore()


def draw_labels(painter: QPainter, metrics: QFontMetrics, width: float, labels: tuple[str, str]) -> None:
    """The left and right corner labels ("" for none) in dark rounded boxes."""
    pad, margin = 6, 8
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for text, right in zip(labels, (False, True), strict=True):
        if not text:
            continue
        box = QRectF(0, 0, metrics.horizontalAdvance(text) + 2 * pad, metrics.height() + pad)
        box.moveTop(margin)
        if right:
            box.moveRight(width - margin)
        else:
            box.moveLeft(margin)
        path = QPainterPath()
        path.addRoundedRect(box, 4, 4)
        painter.fillPath(path, QColor(0, 0, 0, 150))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()


def checker_brush() -> QBrush:
    """The grey checkerboard drawn under transparent pictures, fixed to the screen like every editor's."""
    side = 2 * _CHECKER_SQUARE
    tile = QImage(side, side, QImage.Format.Format_RGB32)
    tile.fill(_CHECKER[0])
    for x, y in ((0, _CHECKER_SQUARE), (_CHECKER_SQUARE, 0)):
        for dy in range(_CHECKER_SQUARE):
            for dx in range(_CHECKER_SQUARE):
                tile.setPixelColor(x + dx, y + dy, _CHECKER[1])
    return QBrush(tile)
