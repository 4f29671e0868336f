"""A small line plot for training curves, painted with QPainter.

QtCharts is not in PySide6-Essentials and would be a heavy dependency for two polylines; this draws
series of (step, value) points against a fixed step range, with dashed horizontal reference lines
(bicubic's and the base model's PSNR) so the gain is visible at a glance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 52, 10, 22, 20


@dataclass
class _Series:
    color: QColor
    points: list[tuple[float, float]] = field(default_factory=list)


class CurvePlot(QWidget):
    """Named series over steps 0…`x_max`, plus named horizontal lines; a log scale for losses."""

    def __init__(self, title: str, *, log_y: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.log_y = log_y
        self.x_max = 1.0
        self._series: dict[str, _Series] = {}
        self._references: dict[str, tuple[float, QColor]] = {}
        self._colors_used = 0
        self.setMinimumSize(220, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(320, 180)

    # --- data ----------------------------------------------------------------------------------------
    def set_x_range(self, maximum: float) -> None:
        self.x_max = max(1.0, float(maximum))
        self.update()

    def add_point(self, series: str, x: float, y: float) -> None:
        """Append a point; a second value for the same step (the final evaluation, on every validation
        image) replaces the first. Non-finite values (a diverged loss) are dropped, not drawn."""
        if not math.isfinite(y) or (self.log_y and y <= 0):
            return
        points = self._entry(series).points
        if points and points[-1][0] == x:
            points.pop()
        points.append((float(x), float(y)))
        self.update()

    def set_reference(self, name: str, y: float) -> None:
        if math.isfinite(y):
            color = self._references[name][1] if name in self._references else self._new_color()
            self._references[name] = (float(y), color)
            self.update()

    def truncate(self, x: float) -> None:
        """Forget points after step `x`: a resumed run repeats the steps after its last checkpoint."""
        for series in self._series.values():
            series.points = [p for p in series.points if p[0] <= x]
        self.update()

    def clear(self) -> None:
        self._series.clear()
        self._references.clear()
        self._colors_used = 0
        self.update()

    def points(self, series: str) -> list[tuple[float, float]]:
        return list(self._series[series].points) if series in self._series else []

    def references(self) -> dict[str, float]:
        return {name: y for name, (y, _) in self._references.items()}

    def _entry(self, name: str) -> _Series:
        if name not in self._series:
            self._series[name] = _Series(self._new_color())
        return self._series[name]

    def _new_color(self) -> QColor:
        """Colours in order of first appearance, so a line keeps its colour as others arrive."""
        self._colors_used += 1
        return QColor(PALETTE[(self._colors_used - 1) % len(PALETTE)])

    # --- painting -----------------------------------------------------------------------------------
    def _y_range(self) -> tuple[float, float] | None:
        values = [y for s in self._series.values() for _, y in s.points]
        values += [y for y, _ in self._references.values() if not self.log_y or y > 0]
        if not values:
            return None
        low, high = min(values), max(values)
        if self.log_y:
            low, high = math.log10(low), math.log10(high)
        pad = (high - low) * 0.08 or max(abs(high) * 0.05, 0.05)
        low, high = low - pad, high + pad
        # Room above the data for the legend (painted at the top left), so no point hides under it.
        entries = len(self._series) + len(self._references)
        plot_height = max(1, self.height() - MARGIN_TOP - MARGIN_BOTTOM)
        legend = (entries * self.fontMetrics().height() + 10) / plot_height
        return low, low + (high - low) / max(0.2, 1 - legend)

    def _scale_y(self, y: float) -> float:
        return math.log10(y) if self.log_y else y

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.base())
        text_color = palette.text().color()
        plot = QRectF(
            MARGIN_LEFT,
            MARGIN_TOP,
            max(1, self.width() - MARGIN_LEFT - MARGIN_RIGHT),
            max(1, self.height() - MARGIN_TOP - MARGIN_BOTTOM),
        )
        painter.setPen(text_color)
        painter.drawText(QRectF(0, 2, self.width(), MARGIN_TOP - 4), Qt.AlignmentFlag.AlignCenter, self.title)
        painter.setPen(QPen(palette.mid().color(), 1))
        painter.drawRect(plot)
        painter.setPen(text_color)
        bottom = QRectF(plot.left(), plot.bottom() + 2, plot.width(), MARGIN_BOTTOM - 2)
        painter.drawText(bottom, Qt.AlignmentFlag.AlignLeft, "0")
        painter.drawText(bottom, Qt.AlignmentFlag.AlignRight, f"step {self.x_max:g}")
        y_range = self._y_range()
        if y_range is None:
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "waiting for data…")
            return
        low, high = y_range

        def to_screen(x: float, y: float) -> QPointF:
            fx = min(1.0, max(0.0, x / self.x_max))
            fy = (self._scale_y(y) - low) / (high - low)
            return QPointF(plot.left() + fx * plot.width(), plot.bottom() - fy * plot.height())

        for value, flag in ((high, Qt.AlignmentFlag.AlignTop), (low, Qt.AlignmentFlag.AlignBottom)):
            label = 10**value if self.log_y else value
            painter.drawText(
                QRectF(0, plot.top() - 2, MARGIN_LEFT - 4, plot.height() + 4),
                flag | Qt.AlignmentFlag.AlignRight,
                f"{label:.3g}",
            )
        painter.setClipRect(plot)
        for y, color in self._references.values():
            painter.setPen(QPen(color, 1, Qt.PenStyle.DashLine))
            left, right = to_screen(0, y), to_screen(self.x_max, y)
            painter.drawLine(left, right)
        for series in self._series.values():
            painter.setPen(QPen(series.color, 1.5))
            points = [to_screen(x, y) for x, y in series.points]
            if len(points) == 1:
                painter.drawEllipse(points[0], 2, 2)
            else:
                painter.drawPolyline(QPolygonF(points))
        painter.setClipping(False)
        self._paint_legend(painter, plot)

    def _paint_legend(self, painter: QPainter, plot: QRectF) -> None:
        entries = [(name, s.color) for name, s in self._series.items()]
        entries += [(name, color) for name, (_, color) in self._references.items()]
        metrics = painter.fontMetrics()
        width = 28 + max(metrics.horizontalAdvance(name) for name, _ in entries) if entries else 0
        backdrop = self.palette().base().color()
        backdrop.setAlpha(210)  # the legend stays readable over the lines it may cover
        painter.fillRect(
            QRectF(plot.left() + 2, plot.top() + 2, width, len(entries) * metrics.height() + 6), backdrop
        )
        y = plot.top() + 4
        for name, color in entries:
            painter.setPen(QPen(color, 2))
            painter.drawLine(QPointF(plot.left() + 6, y + 6), QPointF(plot.left() + 20, y + 6))
            painter.setPen(self.palette().text().color())
            painter.drawText(QPointF(plot.left() + 24, y + 6 + metrics.ascent() / 2 - 1), name)
            y += metrics.height()
