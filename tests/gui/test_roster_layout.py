"""Layout details users noticed: header text under the sort arrow; rows moving under the pointer."""

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QStyle

from presence_desktop.ui.roster.columns import COL_TIME, HEADERS
from tests.gui.test_roster_window import make_window


def test_every_header_has_room_for_its_text_and_the_sort_arrow(qtbot, artifacts_dir):
    win, _roster = make_window(qtbot)
    header = win.table.horizontalHeader()
    style = header.style()
    room = style.pixelMetric(QStyle.PixelMetric.PM_HeaderMarkSize) + 3 * style.pixelMetric(QStyle.PixelMetric.PM_HeaderMargin)
    fm = QFontMetrics(header.font())
    for col, title in enumerate(HEADERS):
        if title and not win.table.isColumnHidden(col):
            assert header.sectionSize(col) >= fm.horizontalAdvance(title) + room, title
    win.table.sortByColumn(COL_TIME, Qt.SortOrder.DescendingOrder)
    win.show()
    qtbot.waitExposed(win)
    win.grab().save(str(artifacts_dir / "roster-sorted-by-time.png"))


def test_the_confirmation_bar_does_not_move_the_rows(qtbot, artifacts_dir):
    win, roster = make_window(qtbot)
    win.show()
    qtbot.waitExposed(win)
    table_at = win.table.mapTo(win, QPoint(0, 0))
    first_row_at = win.table.rowViewportPosition(0)
    agent = roster.agent_ids()[0]
    menu = win.build_row_menu(agent)
    menu.actions()[0].menu().actions()[0].trigger()  # pick a status: the bar asks to confirm
    QApplication.processEvents()
    assert win.confirm.isVisible()
    assert win.table.mapTo(win, QPoint(0, 0)) == table_at  # the table did not move down
    assert win.table.rowViewportPosition(0) == first_row_at
    win.grab().save(str(artifacts_dir / "roster-confirm-bar.png"))
    # It sits inside the window, over the table's bottom edge, fully visible.
    bar = win.confirm.geometry()
    assert bar.height() > 0 and bar.width() > 200
    assert win.confirm.parentWidget().rect().contains(bar)
