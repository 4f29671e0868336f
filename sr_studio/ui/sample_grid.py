"""The GAN tab's results: samples as enlarged thumbnails in the requested rows × columns, one selectable.

Samples are small (32 or 64 px), so thumbnails are enlarged by a whole factor with nearest neighbour:
every generated pixel stays a crisp square instead of a blur.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem, QWidget

from sr_studio.core.images import Picture
from sr_studio.ui.qimage import picture_to_qimage

THUMBNAIL_SIDE = 96  # small samples are enlarged (nearest neighbour) to at least this many pixels a side


def thumbnail_size(picture: Picture) -> QSize:
    """The picture's size times the whole factor that brings it to about THUMBNAIL_SIDE pixels."""
    zoom = max(1, math.ceil(THUMBNAIL_SIDE / max(picture.width, picture.height)))
    return QSize(picture.width * zoom, picture.height * zoom)


def thumbnail(picture: Picture) -> QIcon:
    """The picture enlarged with nearest neighbour, so 32 px samples stay crisp rather than blurred."""
    image = picture_to_qimage(picture).scaled(
        thumbnail_size(picture),
        Qt.AspectRatioMode.IgnoreAspectRatio,
        Qt.TransformationMode.FastTransformation,
    )
    pixmap = QPixmap.fromImage(image)
    icon = QIcon(pixmap)
    icon.addPixmap(pixmap, QIcon.Mode.Selected)  # the style would tint it; the item's frame shows selection
    return icon


class SampleGrid(QTableWidget):
    """Enlarged thumbnails laid out as the requested rows × columns (an interpolation as one row)."""

    MARGIN = 6  # around each thumbnail: where the selection highlight shows

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.horizontalHeader().hide()
        self.verticalHeader().hide()
        self.setShowGrid(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)

    def show_pictures(self, pictures: Sequence[Picture], columns: int, caption: Callable[[int], str]) -> None:
        """Replace the thumbnails; `caption(index)` becomes each one's tooltip."""
        self.clear()
        self.setColumnCount(columns)
        self.setRowCount(math.ceil(len(pictures) / columns))
        size = thumbnail_size(pictures[0])
        self.setIconSize(size)
        for column in range(self.columnCount()):
            self.setColumnWidth(column, size.width() + self.MARGIN)
        for row in range(self.rowCount()):
            self.setRowHeight(row, size.height() + self.MARGIN)
        for index, picture in enumerate(pictures):
            item = QTableWidgetItem(thumbnail(picture), "")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            item.setToolTip(caption(index))
            self.setItem(*divmod(index, columns), item)

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
