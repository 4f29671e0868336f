"""The before/after comparison at the centre of the main window: one view of two aligned images.

Everything is laid out in *output* coordinates, the pixels of the "after" (the result). The "before" (the
input) is stretched over the same rectangle, so both line up pixel for pixel, and one zoom and one pan serve
both sides. A view is `widget = pane_left + origin + zoom * output_point`.

With no after yet, the output size is the before's size times `output_scale` (1 by default: the before at
its own size); the main window sets the model's scale there so that `visible_region()` and previews
(`set_preview`) already speak in output pixels before the full result exists. A preview is outlined, so a
small crop in a big picture is not mistaken for nothing; while a new job runs the after side is dimmed
(`set_dimmed`), the old result still there to compare with but plainly not the coming one.

The maths of that view (fitting, panning, zooming around a point, keeping it across a resize, the visible
region) lives in `view_geometry`, as pure functions; this widget holds the state, and its base class
`view_input.ViewInput` turns the mouse, the wheel and the keys into calls on it.

Painting touches only what is visible: each side of the widget (`view_sides`) draws each image from the
source rectangle under the visible part of the widget (`view_layers`), so a 100-megapixel result costs what
the screen shows, and nothing is cached.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, QSizeF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QWidget

from sr_studio.ui.upscale import view_geometry as geometry
from sr_studio.ui.upscale.view_input import ViewInput
from sr_studio.ui.upscale.view_layers import Side
from sr_studio.ui.upscale.view_overlays import checker_brush, draw_divider, draw_labels, draw_outlines
from sr_studio.ui.upscale.view_sides import layout_sides, paint_sides

HINT = "Drop an image here, or press Ctrl+O"
MAX_ZOOM = 16.0
MIN_ZOOM = 0.05  # the least zoom-out allowed, unless the picture needs more to fit (then fit / 4)
MODES = ("split", "side_by_side")
_BACKGROUND = QColor(43, 43, 43)
_HINT_COLOUR = QColor(190, 190, 190)


class SplitView(ViewInput):
    """Before on the left of a draggable divider, after on the right; or both side by side, linked."""

    viewChanged = Signal()  # zoom, pan, divider, mode or before-only changed
    dividerMoved = Signal(float)  # the divider's new position, 0..1 of the widget width

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)  # the mouse, wheel and keys: `view_input`
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._before: QImage | None = None
        self._after: QImage | None = None
        self._preview: QImage | None = None
        self._preview_region = QRect()
        self._output_scale = 1.0
        self._labels = ("Before", "After")
        self._smooth_before = True
        self._divider = 0.5
        self._mode = "split"
        self._before_only = False
        self._dimmed = False
        self._zoom = 1.0
        self._origin = QPointF()
        self._fitted = True  # follow the widget's size until the user zooms or pans
        self._checker = checker_brush()
        self.last_paint_sources: list[tuple[str, QRectF]] = []  # (layer, source rect) of the last paint

    def sizeHint(self) -> QSize:
        return QSize(800, 600)

    # ------------------------------------------------------------------------------------------ images

    def set_before(self, image: QImage | None) -> None:
        """The original (or result A of an A | B comparison), drawn stretched over the after.

        An after that cannot be its result (another shape) is dropped, and a picture of a new size is fitted;
        one that lines up with the after keeps the view, so switching between comparisons does not jump.
        """
        if image is None:
            with self._keeping_view(False):
                self._before, self._before_only = None, False
            return
        lines_up = self._after is not None and geometry.lines_up(image.size(), self._after.size())
        new_picture = not lines_up and (self._before is None or image.size() != self._before.size())
        with self._keeping_view(new_picture):
            if not lines_up:
                self._after = None
            if new_picture:
                self._clear_preview()
            self._before = image

    def show_picture(self, image: QImage) -> None:
        """A new picture (another file): the before alone, fitted, and the divider back in the middle."""
        with self._keeping_view(True):
            self._after, self._before, self._before_only = None, image, False
            self._clear_preview()
            self.set_divider(0.5)

    def set_after(self, image: QImage | None) -> None:
        """The result (input size × scale); it replaces any preview, and the picture stays put on screen."""
        # Without a before, each after of a new size is a new picture (a GAN sample, say): fit it.
        alone = self._before is None and image is not None
        with self._keeping_view(alone and (self._after is None or image.size() != self._after.size())):
            self._after = image
            if image is not None:
                self._clear_preview()

    def set_output_scale(self, scale: float) -> None:
        """The scale of the coming result, which sets output coordinates while there is no after."""
        if scale <= 0:
            raise ValueError(f"output scale must be positive, not {scale}")
        if scale == self._output_scale:
            return
        with self._keeping_view(False):
            self._output_scale = float(scale)
            self._clear_preview()  # its region was in the old output coordinates

    def set_preview(self, image: QImage, region: QRect) -> None:
        """Overlay a crop of the output at `region` (output coordinates) on the after side, until the result.

        Ignored once a full after is shown: a late preview must not cover the finished result.
        """
        if self._after is not None:
            return
        with self._keeping_view(False):
            self._preview = image
            self._preview_region = QRect(region)

    def clear_preview(self) -> None:
        with self._keeping_view(False):
            self._clear_preview()

    def preview_outline(self) -> list[QRectF]:
        """Where the preview is, in widget pixels: one rectangle a pane (empty while none is shown)."""
        if self._preview is None or not self._comparing():
            return []
        lefts = (0.0, self._pane_rect().width()) if self._panes() == 2 else (0.0,)
        return geometry.outlines(QRectF(self._preview_region), lefts, self._origin, self._zoom)

    @property
    def dimmed(self) -> bool:
        return self._dimmed

    def set_dimmed(self, dimmed: bool) -> None:
        """Dim the after side (a result or preview a running job is about to replace), or show it plainly."""
        if dimmed != self._dimmed:
            self._dimmed = dimmed
            self.update()

    def set_labels(self, left: str, right: str) -> None:
        """Corner labels: "Before"/"After" by default, model names ("A"/"B") for a comparison."""
        self._labels = (left, right)
        self.update()

    @property
    def before(self) -> QImage | None:
        return self._before

    @property
    def after(self) -> QImage | None:
        return self._after

    @property
    def preview(self) -> QImage | None:
        return self._preview

    @property
    def output_scale(self) -> float:
        return self._output_scale

    def output_size(self) -> QSize:
        """The size of the output coordinate space: the after's, else the before's × output scale."""
        if self._after is not None:
            return self._after.size()
        if self._before is not None:
            return QSize(
                max(1, round(self._before.width() * self._output_scale)),
                max(1, round(self._before.height() * self._output_scale)),
            )
        return QSize()

    # ------------------------------------------------------------------------------------------ options

    @property
    def smooth_before(self) -> bool:
        return self._smooth_before

    def set_smooth_before(self, smooth: bool) -> None:
        """Draw the before bilinear (as a naive upscale would look) or nearest (its real pixels)."""
        self._smooth_before = bool(smooth)
        self.update()

    @property
    def divider(self) -> float:
        return self._divider

    def set_divider(self, position: float) -> None:
        position = min(1.0, max(0.0, float(position)))
        if position == self._divider:
            return
        self._divider = position
        self.update()
        self.dividerMoved.emit(position)
        self.viewChanged.emit()

    def divider_x(self) -> float:
        """Where the divider is painted, in widget pixels."""
        return self._divider * self.width()

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        """ "split" (one view, a divider) or "side_by_side" (two panes showing the same region)."""
        if mode not in MODES:
            raise ValueError(f"unknown view mode {mode!r}; expected one of {', '.join(MODES)}")
        if mode == self._mode:
            return
        with self._keeping_view(False, always_signal=True):
            self._mode = mode

    @property
    def showing_before_only(self) -> bool:
        return self._before_only

    def toggle_before_after(self) -> None:
        """Show only the before over the whole view, or go back to the comparison."""
        if not self._comparing() and not self._before_only:
            return
        with self._keeping_view(False, always_signal=True):
            self._before_only = not self._before_only

    # ------------------------------------------------------------------------------------------ view

    @property
    def zoom(self) -> float:
        """Widget pixels per output pixel: 1 is 1:1, 16 the closest look."""
        return self._zoom

    def zoom_limits(self) -> tuple[float, float]:
        """The least and most zoom: down to 0.05 (or fit / 4 for a picture that needs it), up to 16."""
        fit = self._fit_zoom()
        return (min(MIN_ZOOM, fit / 4) if fit else MIN_ZOOM, MAX_ZOOM)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom (clamped) keeping the output point under `anchor` (widget position; the centre) in place."""
        if self.output_size().isEmpty():
            return
        low, high = self.zoom_limits()
        zoom = min(high, max(low, zoom))
        pane = self._pane_rect()
        anchor = QPointF(pane.center()) if anchor is None else QPointF(anchor)
        point = self.image_point(anchor)
        self._fitted = False
        self._set_view(zoom, geometry.anchored_origin(self._in_pane(anchor), point, zoom))

    def fit(self) -> None:
        """Show the whole picture, as large as the view allows (at most 16×), centred."""
        size = self.output_size()
        self._fitted = True
        if size.isEmpty():
            return
        zoom = min(MAX_ZOOM, self._fit_zoom())
        self._set_view(zoom, geometry.centred_origin(size, self._pane_rect().size(), zoom))

    def actual_size(self) -> None:
        """1:1, one output pixel per screen pixel, around the centre of the view."""
        self.set_zoom(1.0)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the picture by (dx, dy) widget pixels, keeping some of it on screen."""
        if self.output_size().isEmpty():
            return
        self._fitted = False
        self._set_view(self._zoom, self._origin + QPointF(dx, dy))

    def image_point(self, widget_pos: QPointF | QPoint) -> QPointF:
        """The output-pixel coordinates under a widget position (in side by side, within its own pane)."""
        return geometry.output_point(self._in_pane(QPointF(widget_pos)), self._origin, self._zoom)

    def visible_region(self) -> QRectF:
        """The part of the output (output pixel coordinates) the view shows, clipped to the picture."""
        return geometry.visible_region(self.output_size(), self._pane_rect(), self._origin, self._zoom)

    # ------------------------------------------------------------------------------------------ layout

    def _comparing(self) -> bool:
        """Whether there is an after side: a result or a preview, next to a before."""
        return (
            self._before is not None
            and not self._before_only
            and (self._after is not None or self._preview is not None)
        )

    def _panes(self) -> int:
        return 2 if self._mode == "side_by_side" and self._comparing() else 1

    def _pane_rect(self) -> QRectF:
        """The first pane, in widget pixels; side by side has a second of the same size on the right."""
        return QRectF(0, 0, self.width() / self._panes(), self.height())

    def _in_pane(self, pos: QPointF) -> QPointF:
        """Widget position `pos` from the top left of the pane holding it."""
        width = self._pane_rect().width()
        return QPointF(pos.x() - (width if self._panes() == 2 and pos.x() >= width else 0.0), pos.y())

    def _fit_zoom(self) -> float:
        return geometry.fit_zoom(self.output_size(), self._pane_rect().size())

    def _set_view(self, zoom: float, origin: QPointF) -> None:
        origin = geometry.clamp_pan(origin, zoom, self.output_size(), self._pane_rect().size())
        if zoom == self._zoom and origin == self._origin:
            return
        self._zoom, self._origin = zoom, origin
        self.update()
        self.viewChanged.emit()

    @contextmanager
    def _keeping_view(self, new_picture: bool, *, always_signal: bool = False) -> Iterator[None]:
        """Around a change of images, scale or mode: then fit a new picture or keep the view; repaint."""
        size, pane, state = self.output_size(), self._pane_rect().size(), (self._zoom, QPointF(self._origin))
        yield
        self._relayout(size, pane, new_picture)
        self.update()
        if always_signal and (self._zoom, self._origin) == state:
            self.viewChanged.emit()  # a view that moved has announced it already

    def _relayout(self, old_size: QSize, old_pane: QSizeF, new_picture: bool) -> None:
        """After the output size or pane size changed: keep the picture where it was on screen.

        A new picture, or a view still fitted to the widget, is fitted again instead.
        """
        size = self.output_size()
        if size.isEmpty():
            self._fitted = True
            self._set_view(1.0, QPointF())
            return
        if new_picture or self._fitted or old_size.isEmpty():
            self.fit()
            return
        old, new = (old_size, old_pane), (size, self._pane_rect().size())
        self._set_view(*geometry.kept_view(self._zoom, self._origin, old, new, self.zoom_limits()))

    def _clear_preview(self) -> None:
        self._preview = None
        self._preview_region = QRect()

    def resizeEvent(self, event: QResizeEvent) -> None:
        old = event.oldSize()
        old_pane = QSizeF(old.width() / self._panes(), old.height()) if old.isValid() else QSizeF()
        self._relayout(self.output_size(), old_pane, not old.isValid())
        super().resizeEvent(event)

    # ------------------------------------------------------------------------------------------ painting

    def _sides(self) -> list[Side]:
        """What each part of the widget shows, left to right."""
        return layout_sides(
            QRectF(self.rect()),
            self.output_size(),
            before=self._before,
            after=self._after,
            preview=(self._preview, self._preview_region),
            smooth_before=self._smooth_before,
            zoom=self._zoom,
            comparing=self._comparing(),
            panes=self._panes(),
            divider_x=self.divider_x(),
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), _BACKGROUND)
        self.last_paint_sources = []
        if self.output_size().isEmpty():
            painter.setPen(_HINT_COLOUR)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, HINT)
            return
        view, clip = (self._origin, self._zoom), QRectF(event.rect())
        self.last_paint_sources = paint_sides(painter, self._sides(), clip, view, self._checker, self._dimmed)
        draw_outlines(painter, self.preview_outline())
        if self._comparing():
            if self._panes() == 1:
                draw_divider(painter, self.divider_x(), self.height())
            else:  # a gutter between the two panes
                middle = self._pane_rect().width()
                painter.fillRect(QRectF(middle - 1, 0, 2, self.height()), _BACKGROUND)
            draw_labels(painter, QFontMetrics(self.font()), self.width(), self._labels)
        elif self._before_only:  # say so, or the missing result would look lost
            draw_labels(painter, QFontMetrics(self.font()), self.width(), (self._labels[0], ""))
