"""The before/after view, driven like a user: real mouse drags, wheel events and keys on a shown widget."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from sr_studio.ui.upscale.split_view import HINT, MAX_ZOOM, SplitView
from sr_studio.ui.upscale.view_overlays import OUTLINE_COLOUR

RED, BLUE, GREEN = QColor(255, 0, 0), QColor(0, 0, 255), QColor(0, 255, 0)


def solid(width: int, height: int, colour: QColor, fmt=QImage.Format.Format_RGB888) -> QImage:
    image = QImage(width, height, fmt)
    image.fill(colour)
    return image


def checkerboard(size: int) -> QImage:
    """Single-pixel black and white squares: the most visible difference between nearest and bilinear."""
    image = QImage(size, size, QImage.Format.Format_RGB888)
    for y in range(size):
        for x in range(size):
            image.setPixelColor(x, y, QColor(255, 255, 255) if (x + y) % 2 else QColor(0, 0, 0))
    return image


def wheel(view: SplitView, pos: QPointF, notches: float) -> None:
    event = QWheelEvent(
        pos,
        QPointF(view.mapToGlobal(pos.toPoint())),
        QPoint(),
        QPoint(0, round(120 * notches)),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view, event)


def drag(qtbot, view: SplitView, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    middle = (start + end) / 2
    qtbot.mouseMove(view, middle)
    qtbot.mouseMove(view, end)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)


def colour_at(view: SplitView, x: int, y: int) -> QColor:
    return view.grab().toImage().pixelColor(x, y)


def close(colour: QColor, expected: QColor, tolerance: int = 8) -> bool:
    pairs = zip(colour.getRgb()[:3], expected.getRgb()[:3], strict=True)
    return all(abs(a - b) <= tolerance for a, b in pairs)


@pytest.fixture
def view(qtbot) -> SplitView:
    widget = SplitView()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def compared(view: SplitView) -> SplitView:
    """A red 100×75 before and its blue ×2 after (200×150): fitted at zoom 2 in the 400×300 view."""
    view.set_before(solid(100, 75, RED))
    view.set_after(solid(200, 150, BLUE))
    return view


@pytest.fixture
def large(view: SplitView) -> SplitView:
    """An 800×600 after (×4 of a 200×150 before): fitted at zoom 0.5, so there is room to zoom in."""
    view.set_before(solid(200, 150, RED))
    view.set_after(solid(800, 600, BLUE))
    return view


def test_the_empty_view_shows_the_hint(view):
    assert HINT == "Drop an image here, or press Ctrl+O"
    image = view.grab().toImage()
    background = image.pixelColor(5, 5)
    row = [image.pixelColor(x, view.height() // 2) for x in range(view.width())]
    assert any(colour.lightness() > background.lightness() + 60 for colour in row)  # the hint's letters
    assert view.visible_region().isEmpty()
    assert view.last_paint_sources == []


def test_before_left_of_the_divider_and_after_right(compared):
    assert compared.divider_x() == 200
    image = compared.grab().toImage()
    for x in (40, 120, 190):
        assert close(image.pixelColor(x, 200), RED), x
    for x in (210, 300, 360):
        assert close(image.pixelColor(x, 200), BLUE), x


def test_fit_shows_the_whole_picture_and_1_gives_1_to_1(qtbot, compared):
    assert compared.zoom == 2.0
    assert compared.visible_region() == QRectF(0, 0, 200, 150)

    qtbot.keyClick(compared, Qt.Key.Key_1)
    assert compared.zoom == 1.0
    assert compared.visible_region() == QRectF(0, 0, 200, 150)  # smaller than the view: all of it shows

    qtbot.keyClick(compared, Qt.Key.Key_F)
    assert compared.zoom == 2.0


def test_fit_and_actual_size_on_a_picture_larger_than_the_view(qtbot, large):
    assert large.zoom == 0.5
    assert large.visible_region() == QRectF(0, 0, 800, 600)
    large.actual_size()
    assert large.zoom == 1.0
    assert large.visible_region() == QRectF(200, 150, 400, 300)  # 1:1 around the centre
    qtbot.keyClick(large, Qt.Key.Key_F)
    assert large.visible_region() == QRectF(0, 0, 800, 600)


def test_wheel_zoom_keeps_the_point_under_the_cursor(qtbot, large):
    cursor = QPointF(123, 87)
    point = large.image_point(cursor)
    region = large.visible_region()
    with qtbot.waitSignal(large.viewChanged):
        wheel(large, cursor, 1)
    assert large.zoom == pytest.approx(0.5 * 1.25)
    moved = large.image_point(cursor) - point
    assert abs(moved.x()) * large.zoom < 1 and abs(moved.y()) * large.zoom < 1  # within a screen pixel
    smaller = large.visible_region()
    assert smaller.width() < region.width() and smaller.height() < region.height()
    assert region.contains(smaller)

    wheel(large, cursor, -1)
    assert large.zoom == pytest.approx(0.5)


def test_zoom_is_clamped(large):
    wheel(large, QPointF(200, 150), 40)
    assert large.zoom == MAX_ZOOM == 16
    assert large.visible_region().width() == pytest.approx(400 / 16)
    wheel(large, QPointF(200, 150), -80)
    low, _ = large.zoom_limits()
    assert large.zoom == low == 0.05  # fit is 0.5, fit / 4 = 0.125: 0.05 is the floor


def test_a_picture_too_big_for_005_can_still_be_seen_whole(view):
    view.set_after(solid(20000, 200, GREEN, QImage.Format.Format_Grayscale8))
    assert view.zoom == pytest.approx(400 / 20000)
    wheel(view, QPointF(200, 150), -20)
    assert view.zoom == pytest.approx(400 / 20000 / 4)  # fit / 4


def test_dragging_the_divider_moves_it_by_the_drag_distance(qtbot, compared):
    moves: list[float] = []
    compared.dividerMoved.connect(moves.append)
    start = QPoint(round(compared.divider_x()) + 3, 100)  # a little off the line still grabs it
    drag(qtbot, compared, start, start + QPoint(60, 40))
    assert compared.divider_x() == pytest.approx(260)
    assert compared.divider == pytest.approx(0.65)
    assert moves[-1] == pytest.approx(0.65)
    assert compared.visible_region() == QRectF(0, 0, 200, 150)  # the picture did not move
    image = compared.grab().toImage()
    assert close(image.pixelColor(240, 200), RED)  # the before now reaches further right
    assert close(image.pixelColor(280, 200), BLUE)


def test_the_divider_stays_inside_the_widget(qtbot, compared):
    drag(qtbot, compared, QPoint(200, 100), QPoint(399, 100))
    drag(qtbot, compared, QPoint(399, 100), QPoint(-50, 100))
    assert compared.divider == 0.0


def test_dragging_elsewhere_pans(qtbot, large):
    large.set_zoom(2.0)
    region = large.visible_region()
    divider = large.divider
    with qtbot.waitSignal(large.viewChanged):
        drag(qtbot, large, QPoint(100, 100), QPoint(150, 130))
    moved = large.visible_region()
    assert moved.x() == pytest.approx(region.x() - 50 / 2)
    assert moved.y() == pytest.approx(region.y() - 30 / 2)
    assert moved.size() == region.size()
    assert large.divider == divider


def test_a_pan_leaves_some_of_the_picture_on_screen(qtbot, large):
    large.set_zoom(2.0)
    for _ in range(3):
        drag(qtbot, large, QPoint(10, 10), QPoint(390, 290))
    assert not large.visible_region().isEmpty()
    assert large.visible_region().width() >= 32 / 2 - 1e-9


def test_space_toggles_the_before_over_the_whole_view(qtbot, compared):
    with qtbot.waitSignal(compared.viewChanged):
        qtbot.keyClick(compared, Qt.Key.Key_Space)
    assert compared.showing_before_only
    image = compared.grab().toImage()
    assert close(image.pixelColor(300, 200), RED)
    assert close(image.pixelColor(10, 18), QColor(0, 0, 0), 110)  # the "Before" label stays
    assert close(image.pixelColor(389, 18), RED)  # no "After" label
    qtbot.keyClick(compared, Qt.Key.Key_Space)
    assert not compared.showing_before_only
    assert close(colour_at(compared, 300, 200), BLUE)


def test_space_does_nothing_without_a_result(qtbot, view):
    view.set_before(solid(100, 75, RED))
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert not view.showing_before_only


def test_side_by_side_shows_the_same_region_in_two_linked_panes(qtbot, large):
    with qtbot.waitSignal(large.viewChanged):
        large.set_mode("side_by_side")
    assert large.mode == "side_by_side"
    assert large.zoom == pytest.approx(0.25)  # the whole 800×600 now fits a 200×300 pane
    image = large.grab().toImage()
    assert close(image.pixelColor(100, 150), RED)
    assert close(image.pixelColor(300, 150), BLUE)

    wheel(large, QPointF(330, 170), 3)  # zoom in the right pane: both follow
    drag(qtbot, large, QPoint(250, 150), QPoint(280, 170))
    assert large.zoom > 0.25
    for x, y in ((20, 30), (150, 250)):
        assert large.image_point(QPointF(x, y)) == large.image_point(QPointF(x + 200, y))
    region = large.visible_region()
    assert region.width() == pytest.approx(200 / large.zoom)

    zoom = large.zoom
    large.set_mode("split")
    assert large.zoom == zoom
    assert large.visible_region().width() == pytest.approx(min(800, 400 / zoom))  # one pane, twice as wide
    with pytest.raises(ValueError, match="view mode"):
        large.set_mode("overlay")


def test_nearest_and_smooth_before_paint_differently(view):
    view.resize(256, 128)
    view.set_before(checkerboard(4))
    view.set_after(solid(8, 8, BLUE))
    assert view.zoom == MAX_ZOOM  # 16 × 8 = 128: each before pixel covers 32 screen pixels
    row = range(70, 118)  # inside the before, clear of the divider at 128 (and of its handle, at y = 64)

    view.set_smooth_before(False)
    image = view.grab().toImage()
    nearest = {image.pixelColor(x, 100).red() for x in row}
    assert nearest == {0, 255}

    view.set_smooth_before(True)
    assert view.smooth_before
    image = view.grab().toImage()
    smooth = {image.pixelColor(x, 100).red() for x in row}
    assert any(40 < value < 215 for value in smooth)  # bilinear greys between the squares


def test_the_after_shows_real_pixels_when_zoomed_in(view):
    view.resize(256, 128)
    view.set_after(checkerboard(8))
    assert view.zoom == MAX_ZOOM
    image = view.grab().toImage()
    assert {image.pixelColor(x, 70).red() for x in range(70, 190)} == {0, 255}


def test_a_huge_result_is_painted_from_the_visible_part_only(view):
    after = solid(10_000, 10_000, QColor(90, 90, 90), QImage.Format.Format_Grayscale8)  # 100 MB
    view.set_before(solid(100, 100, RED))
    view.set_after(after)
    view.grab()
    sources = dict(view.last_paint_sources)
    # At fit the after side (right of the divider) draws only the right half of the after.
    assert sources["after"].left() >= 5_000 - 1
    assert sources["after"].width() <= 5_000 + 1

    view.set_zoom(1.0)
    view.grab()
    region = view.visible_region()
    assert region.width() == 400 and region.height() == 300
    for name, source in view.last_paint_sources:
        scale = 100 if name == "before" else 1  # the before's pixels are 100 output pixels wide
        shown = QRectF(region.topLeft() / scale, region.size() / scale)
        grown = shown.adjusted(-2, -2, 2, 2)
        assert grown.contains(source), (name, source, shown)
        assert source.width() * source.height() <= grown.width() * grown.height()


def test_a_preview_shows_on_the_after_side_until_the_result_arrives(view):
    view.set_before(solid(100, 75, RED))
    view.set_output_scale(2)
    assert view.output_size().width() == 200
    assert view.zoom == 2.0  # the picture kept its place on screen: 2 output pixels per before pixel
    view.set_preview(solid(40, 30, GREEN), QRect(140, 60, 40, 30))  # widget x 280..360, y 120..180
    image = view.grab().toImage()
    assert close(image.pixelColor(320, 150), GREEN)
    assert close(image.pixelColor(320, 250), RED)  # the before elsewhere
    assert close(image.pixelColor(100, 150), RED)

    view.clear_preview()
    assert view.preview is None
    assert close(colour_at(view, 320, 150), RED)

    view.set_preview(solid(40, 30, GREEN), QRect(140, 60, 40, 30))
    view.set_after(solid(200, 150, BLUE))
    assert view.preview is None  # the result replaced it
    view.set_preview(solid(40, 30, GREEN), QRect(140, 60, 40, 30))
    assert view.preview is None  # a late preview never covers the result
    assert close(colour_at(view, 320, 150), BLUE)


def test_the_result_arriving_keeps_the_picture_in_place(large):
    large.set_after(None)  # back to the 200×150 before alone
    large.set_zoom(3.0, QPointF(50, 60))
    region = large.visible_region()
    large.set_after(solid(800, 600, BLUE))
    assert large.zoom == pytest.approx(3.0 / 4)
    after = large.visible_region()
    assert after.topLeft() == region.topLeft() * 4
    assert after.size() == region.size() * 4


def test_a_new_picture_drops_the_old_result_and_is_fitted(compared):
    compared.set_zoom(5.0)
    compared.set_before(solid(30, 20, GREEN))
    assert compared.after is None
    assert compared.visible_region() == QRectF(0, 0, 30, 20)
    assert compared.zoom == pytest.approx(min(400 / 30, 300 / 20, MAX_ZOOM))


def test_switching_to_an_a_b_comparison_keeps_the_view(compared):
    compared.set_zoom(5.0, QPointF(120, 80))
    region = compared.visible_region()
    compared.set_before(solid(200, 150, GREEN))  # result A, at output size, lines up with the after
    compared.set_after(solid(200, 150, BLUE))  # result B
    assert compared.after is not None
    assert compared.visible_region() == region
    assert compared.zoom == 5.0
    assert close(colour_at(compared, 150, 150), GREEN)
    compared.set_before(solid(100, 75, RED))  # back to the original: still lines up
    assert compared.after is not None
    assert compared.visible_region() == region


def test_a_transparent_picture_has_a_checkerboard_under_it(view):
    view.set_before(solid(50, 50, QColor(0, 0, 0, 0), QImage.Format.Format_RGBA8888))
    image = view.grab().toImage()
    colours = {image.pixelColor(x, 150).name() for x in range(60, 340)}
    assert len(colours) == 2  # two greys of the checkerboard
    assert all(QColor(name).lightness() > 120 for name in colours)


def test_labels_are_painted_in_the_top_corners(compared):
    left, right = (10, 18), (389, 18)  # inside each label's box, beside its text
    plain = compared.grab().toImage()
    assert close(plain.pixelColor(*left), QColor(0, 0, 0), 110)  # the dark label box over the red
    assert close(plain.pixelColor(*right), QColor(0, 0, 0), 110)
    compared.set_labels("", "")
    bare = compared.grab().toImage()
    assert close(bare.pixelColor(*left), RED)
    assert close(bare.pixelColor(*right), BLUE)
    compared.set_labels("A", "B")
    labelled = compared.grab().toImage()
    assert not close(labelled.pixelColor(*right), BLUE)


def test_a_fitted_view_follows_the_widget_size(qtbot, large):
    large.resize(200, 150)
    qtbot.waitUntil(lambda: large.zoom == pytest.approx(0.25))
    assert large.visible_region() == QRectF(0, 0, 800, 600)


def outline_pixels(view: SplitView, rect: QRectF) -> list[QColor]:
    """The colours painted along the middle of each edge of `rect`, give or take a pixel."""
    image = view.grab().toImage()
    middle = rect.center()
    points = [(rect.left(), middle.y()), (rect.right(), middle.y()), (middle.x(), rect.top())]
    points.append((middle.x(), rect.bottom()))
    return [
        image.pixelColor(round(x) + dx, round(y) + dy)
        for x, y in points
        for dx in (-1, 0, 1)
        for dy in (-1, 0, 1)
    ]


def test_a_preview_is_outlined_in_the_view_while_it_shows(view):
    view.set_before(solid(100, 75, RED))
    view.set_output_scale(2)
    view.set_preview(solid(40, 30, GREEN), QRect(60, 40, 40, 30))  # across the divider at 200
    (outline,) = view.preview_outline()
    assert outline == QRectF(120, 80, 80, 60)  # zoom 2, the picture fills the view
    assert sum(close(colour, OUTLINE_COLOUR, 40) for colour in outline_pixels(view, outline)) >= 4

    view.set_mode("side_by_side")  # one outline in each pane, the same place in both
    left, right = view.preview_outline()
    assert right.translated(-200, 0) == left
    assert any(close(colour, OUTLINE_COLOUR, 40) for colour in outline_pixels(view, right))

    view.set_mode("split")
    view.clear_preview()
    assert view.preview_outline() == []
    assert not any(close(colour, OUTLINE_COLOUR, 40) for colour in outline_pixels(view, outline))


def test_a_dimmed_view_keeps_the_old_result_darker_and_the_before_as_it_was(compared):
    compared.set_dimmed(True)
    assert compared.dimmed and compared.after is not None
    image = compared.grab().toImage()
    after, before = image.pixelColor(300, 200), image.pixelColor(100, 200)
    assert 0 < after.blue() < 200 and after.blue() > after.red()  # still the blue result, dimmed
    assert close(before, RED)
    compared.set_dimmed(False)
    assert close(colour_at(compared, 300, 200), BLUE)


def test_a_new_picture_puts_the_divider_back_in_the_middle(qtbot, compared):
    drag(qtbot, compared, QPoint(200, 100), QPoint(330, 100))
    assert compared.divider != 0.5
    compared.show_picture(solid(60, 40, GREEN))
    assert compared.divider == 0.5
    assert compared.after is None and compared.visible_region() == QRectF(0, 0, 60, 40)
