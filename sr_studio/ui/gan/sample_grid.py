"""The GAN tab's results: samples as enlarged thumbnails in the requested rows × columns, one selectable.

Samples are small (32 or 64 px), so thumbnails are enlarged by a whole factor with nearest neighbour:
every generated pixel stays a crisp square instead of a blur. The factor shrinks until the grid fits the
width of the view (below 1×, the thumbnails are scaled down smoothly), and an interpolation strip wraps
onto as many rows as it needs, so nothing hides behind a horizontal scroll bar.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem, QWidget

from sr_studio.core.images import Picture
from sr_studio.ui.upscale.qimage import picture_to_qimage

THUMBNAIL_SIDE = 96  # small samples are enlarged (nearest neighbour) to at least this many pixels a side
MIN_THUMBNAIL_SIDE = 16  # however narrow the view: smaller than this shows nothing


def thumbnail_size(picture: Picture, room: float = math.inf) -> QSize:
    """The picture's size times the whole factor that brings it to about THUMBNAIL_SIDE pixels, made
    smaller to fit `room` pixels a side (by a whole factor while it can, at least MIN_THUMBNAIL_SIDE)."""
    side = max(picture.width, picture.height)
    zoom = min(max(1, math.ceil(THUMBNAIL_SIDE / side)), room / side)
    zoom = math.floor(zoom) if zoom >= 1 else max(zoom, MIN_THUMBNAIL_SIDE / side)
    return QSize(max(1, round(picture.width * zoom)), max(1, round(picture.height * zoom)))


def thumbnail(picture: Picture, size: QSize) -> QIcon:
    """The picture at `size`: enlarged with nearest neighbour, so 32 px samples stay crisp rather than
    blurred, and reduced smoothly."""
    enlarge = size.width() >= picture.width
    mode = Qt.TransformationMode.FastTransformation if enlarge else Qt.TransformationMode.SmoothTransformation
    image = picture_to_qimage(picture).scaled(size, Qt.AspectRatioMode.IgnoreAspectRatio, mode)
    pixmap = QPixmap.fromImage(image)
    icon = QIcon(pixmap)
    icon.addPixmap(pixmap, QIcon.Mode.Selected)  # the style would tint it; the item's frame shows selection
    return icon


class SampleGrid(QTableWidget):
    """Enlarged thumbnails laid out as the requested rows × columns (an interpolation wrapped into rows)."""

    MARGIN = 6  # around each thumbnail: where the selection highlight shows

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.horizontalHeader().hide()
        self.verticalHeader().hide()
        self.setShowGrid(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # it fits the width
        self._pictures: list[Picture] = []
        self._columns = 1
        self._wrap = False
        self._caption: Callable[[int], str] = str
        self._laid_out = (QSize(), 0)  # the thumbnail size and columns shown

    def show_pictures(
        self, pictures: Sequence[Picture], columns: int, caption: Callable[[int], str], *, wrap: bool = False
    ) -> None:
        """Replace the thumbnails, `columns` to a row (`wrap`: as many as fit); `caption(index)` becomes
        each one's tooltip."""
        self._pictures, self._columns, self._caption, self._wrap = list(pictures), columns, caption, wrap
        self._laid_out = (QSize(), 0)
        self._lay_out()

    def _room(self) -> int:
        """The width thumbnails may fill: the widget less its frame and a vertical scroll bar's width,
        kept free so that one appearing cannot make the grid relayout over and over."""
        bar = self.style().pixelMetric(self.style().PixelMetric.PM_ScrollBarExtent)
        return max(1, self.width() - 2 * self.frameWidth() - bar)

    def _lay_out(self) -> None:
        if not self._pictures:
            return
        first, count, room = self._pictures[0], len(self._pictures), self._room()
        if self._wrap:
            size = thumbnail_size(first, room - self.MARGIN)
            columns = max(1, min(count, room // (size.width() + self.MARGIN)))
        else:
            columns = self._columns
            size = thumbnail_size(first, room / columns - self.MARGIN)
        if self._laid_out == (size, columns):
            return
        self._laid_out = (size, columns)
        selected = self.selected_index()
        self.clear()
        self.setColumnCount(columns)
        self.setRowCount(math.ceil(count / columns))
        self.setIconSize(size)
        for column in range(columns):
            self.setColumnWidth(column, size.width() + self.MARGIN)
        for row in range(self.rowCount()):
            self.setRowHeight(row, size.height() + self.MARGIN)
        for index, picture in enumerate(self._pictures):
            item = QTableWidgetItem(thumbnail(picture, size), "")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            item.setToolTip(self._caption(index))
            self.setItem(*divmod(index, columns), item)
        if selected is not None:
            self.select(selected)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._lay_out()

    def item_at(self, index: int) -> QTableWidgetItem:
        """The thumbnail of picture `index` (counted row by row)."""
        return self.item(*divmod(index, self.columnCount()))

    def selected_index(self) -> int | None:
        selected = self.selectedIndexes()
        return selected[0].row() * self.columnCount() + selected[0].column() if selected else None

    def select(self, index: int | None) -> None:
        if index is None:
            self.clearSelection()
        else:
            self.setCurrentItem(self.item_at(index))
