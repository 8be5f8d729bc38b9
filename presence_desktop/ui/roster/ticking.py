"""The ticking fast path: the 1 s tick repaints only the on-screen cells of the ticking columns
(columns.py, ``ticking=True``) whose drawn face changed, from cached pixmaps of Qt's own drawing.

Why: the default path asks the model for 7 roles (Python calls) and lays the text out
again for every cell, plus a Python ``flags()`` and a delegate call per cell in the view; with
~100 ticking cells on screen each second that was most of the app's idle CPU (bench/README.md).

Switched off (``RosterWindow(fast_ticking=False)``), :func:`repaint_ticking_columns` repaints the
on-screen part of the ticking columns every tick through the view's default painting.

Pieces: :class:`TickingDelegate` (the columns' delegate: a blit of a cached pixmap when the tick
handed over the cell's look), :class:`TickingFastPath` (the tick's diff of faces, the table's
paint hook, and the rule that only the paint right after a tick uses the looks).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRect
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPalette, QPixmap, QRegion
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTableView

from presence_desktop.ui import theme
from presence_desktop.ui.roster.columns import TICKING_COLUMNS

_HAS_DISPLAY = QStyleOptionViewItem.ViewItemFeature.HasDisplay
_POSITIONAL = (QStyle.StateFlag.State_HasFocus | QStyle.StateFlag.State_MouseOver).value


def _visible_ticking_columns(table: QTableView) -> list[tuple[int, int, int]]:
    """(column, viewport x, width) of the ticking columns at least partly on screen."""
    viewport, header = table.viewport(), table.horizontalHeader()
    cols = []
    for col in TICKING_COLUMNS:
        x = header.sectionViewportPosition(col)
        width = header.sectionSize(col)
        if width > 0 and not header.isSectionHidden(col) and x < viewport.width() and x + width > 0:
            cols.append((col, x, width))
    return cols


def repaint_ticking_columns(table: QTableView) -> None:
    """The plain tick (fast path off): repaint the on-screen strips of the ticking columns."""
    viewport = table.viewport()
    for _col, x, width in _visible_ticking_columns(table):
        viewport.update(x, 0, width, viewport.height())


class TickingDelegate(QStyledItemDelegate):
    """Paints the ticking columns exactly as the default delegate does, faster for the cells the
    tick repaints: for those :class:`TickingFastPath` hands over :attr:`looks`
    (``{(row, column): RosterTableModel.ticking_faces(...)[column][1:]}``), and the cell is
    a blit of a cached pixmap of the same drawing, keyed by the look and the view's state for the
    cell. Any other cell, or when ``looks`` has no entry, takes the default path."""

    MAX_CACHED = 256  # pixmaps of one cell each (~10 KB at 100 %); ~2 ticks' worth of cells

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.looks: dict[tuple[int, int], tuple] = {}
        self._cache: dict[tuple, QPixmap] = {}
        self._env: tuple = ()
        self.blits = 0  # cells drawn from a look (tests count them)

    def set_environment(self, env: tuple) -> None:
        """What every cached pixmap depends on besides its key (view font, style, layout
        direction, device pixel ratio); a change empties the cache."""
        if env != self._env:
            self._env = env
            self._cache.clear()

    def paint(self, painter, option: QStyleOptionViewItem, index) -> None:
        looks = self.looks
        look = looks.get((index.row(), index.column())) if looks else None
        if (look is None or option.state & QStyle.StateFlag.State_HasFocus
                or painter.device().devicePixelRatio() != self.device_pixel_ratio):
            # the focus frame: Fusion's gradient drawn into a pixmap differs by a shade from the
            # same drawn on the view; that one cell takes the default path
            super().paint(painter, option, index)
            return
        rect = option.rect
        state = option.state.value
        key = (look, rect.width(), rect.height(), state, option.features.value, option.palette.cacheKey(),
               (rect.x(), rect.y()) if self.positional(state) else None)
        pm = self._cache.get(key)
        if pm is None:
            pm = self.render_cell(key, option, index)
        painter.drawPixmap(rect, pm)  # same size (in logical pixels): a plain copy
        self.blits += 1

    @property
    def device_pixel_ratio(self) -> float:
        """The scale the cached pixmaps are drawn at (the environment's last item)."""
        return self._env[-1] if self._env else 1.0

    def positional(self, state: int) -> bool:
        """Whether a cell in ``state`` (a QStyle.StateFlag value) is cached per position: the
        focus frame and hover decorations are antialiased curves whose edge pixels differ by a
        shade with the cell's position, so those cells are not reused elsewhere."""
        return bool(state & _POSITIONAL)

    def cached(self, key: tuple) -> QPixmap | None:
        """The pixmap cached for ``key``: ``(look, width, height, option state value, option
        features value, palette cache key, (x, y) or None (see :meth:`positional`))``."""
        return self._cache.get(key)

    def render_cell(self, key: tuple, option: QStyleOptionViewItem, index) -> QPixmap:
        """Draw the cell for ``key`` (see :meth:`cached`) with ``option`` and cache it."""
        pm = self._render(option, index, key[0])
        if len(self._cache) >= self.MAX_CACHED:
            self._cache.clear()
        self._cache[key] = pm
        return pm

    def _render(self, option: QStyleOptionViewItem, index, look: tuple) -> QPixmap:
        """The cell as the view and the default delegate draw it: viewport background, the
        row panel (alternate colour, selection), then the item with what initStyleOption would
        have taken from the model's roles (see RosterTableModel.data)."""
        text, level, dimmed, bold = look
        opt = QStyleOptionViewItem(option)
        rect = option.rect
        w, h = rect.width(), rect.height()
        opt.index = index
        if bold:
            font = QFont()
            font.setBold(True)
            font.setItalic(False)
            opt.font = font.resolve(opt.font)
            opt.fontMetrics = QFontMetrics(opt.font)
        c = theme.colors()
        if level in ("warn", "over"):  # as RosterTableModel.data: the budget's pair of colours
            opt.palette.setBrush(QPalette.ColorRole.Text, QBrush(QColor(getattr(c, f"budget_{level}_text"))))
            opt.backgroundBrush = QBrush(QColor(getattr(c, f"budget_{level}_bg")))
        elif dimmed:
            opt.palette.setBrush(QPalette.ColorRole.Text, QBrush(QColor(c.dim_text)))
        opt.features |= _HAS_DISPLAY
        opt.text = text
        widget = option.widget
        style = widget.style()
        dpr = self.device_pixel_ratio
        pm = QPixmap(round(w * dpr), round(h * dpr))
        pm.setDevicePixelRatio(dpr)
        p = QPainter(pm)
        p.translate(-rect.x(), -rect.y())  # drawn where the view draws it (see positional())
        viewport = widget.viewport()  # what its background fill paints under the cell
        p.fillRect(rect, viewport.palette().brush(viewport.backgroundRole()))
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewRow, opt, p, widget)
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, p, widget)
        p.end()
        return pm


class TickingFastPath(QObject):
    """Attached to the roster's table (a view with a ``paint_hook`` attribute, see window.py)
    and its model. :meth:`repaint` runs on each tick while the window shows; the paint that
    follows it draws the changed cells from the delegate's cache in one pass (:meth:`_paint`),
    each with the option the view would give it (selection, focus, alternate row, enabled/active).
    A pointer over the table (hover), an editor, a right-to-left layout or any other paint takes
    the view's default painting."""

    def __init__(self, table, model) -> None:
        super().__init__(table)
        self.table, self.model = table, model
        self.delegate = TickingDelegate(table)
        for col in TICKING_COLUMNS:
            table.setItemDelegateForColumn(col, self.delegate)
        # (region, [(row, column, cell rect, look, x, y, width, height)]) for the next paint only
        self.cells: tuple[QRegion, list] | None = None
        self.shown: dict[tuple[int, int], tuple] = {}  # (row, column) -> face last drawn
        self.fast_paints = 0  # paint events drawn from cells (tests count them)
        self._armed = False
        self._armed_flushes = -1  # the model's flush count when the looks were made
        table.paint_hook = self._paint_event
        self._viewport = table.viewport()
        self._viewport.installEventFilter(self)
        # The looks handed over hold until the rows move; changed data is caught by the model's
        # flush count (a slot on dataChanged would run per changed row).
        for signal in (model.layoutChanged, model.rowsInserted, model.rowsRemoved, model.rowsMoved, model.modelReset):
            signal.connect(self._rows_moved)

    def hidden(self) -> None:
        """The window is hidden or minimized: nothing to repaint; shown again, it paints all and
        the next tick compares anew."""
        self.shown = {}
        self.drop_looks()

    def drop_looks(self) -> None:
        self._armed = False
        self.cells = None
        if self.delegate.looks:
            self.delegate.looks = {}

    def _rows_moved(self, *_args) -> None:
        self.drop_looks()

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint and obj is self._viewport:
            # The first paint after a tick draws the looks it handed over; later paints (hover,
            # selection, scrolling, changed data) take the default path again.
            if self._armed and self._armed_flushes == self.model.flushes:
                self._armed = False
            else:
                self.drop_looks()
        return False

    def repaint(self, now: float) -> None:
        """Repaint the on-screen ticking cells whose face (text, budget colour, dimmed, bold)
        changed since the last tick, and hand their looks to the delegate for the next paint."""
        table, model = self.table, self.model
        viewport = table.viewport()
        self.drop_looks()
        dpr = viewport.devicePixelRatio()
        # A cached cell pixmap is blitted at whole device pixels: only at integer scales.
        fast = dpr == int(dpr)
        if fast:
            self.delegate.set_environment((table.font().key(), table.style().name(), table.layoutDirection(), dpr))
        looks: dict[tuple[int, int], tuple] = {}
        cells, region = [], QRegion()
        grid = 1 if table.showGrid() else 0  # a cell's rect leaves out its grid lines (they never change)
        cols = _visible_ticking_columns(table)
        first = table.rowAt(0)
        if not cols or first < 0:
            self.shown = {}
            return
        last = table.rowAt(viewport.height() - 1)
        if last < 0:
            last = model.rowCount() - 1
        before, shown = self.shown, {}
        faces_of = model.ticking_faces
        for prow in range(first, last + 1):
            faces = faces_of(prow, now)
            y = h = None
            for col, x, width in cols:
                key = (prow, col)
                face = shown[key] = faces[col]
                if before.get(key) != face:
                    if y is None:
                        y, h = table.rowViewportPosition(prow), table.rowHeight(prow) - grid
                    rect = QRect(x, y, width - grid, h)
                    region += rect
                    if fast:
                        looks[key] = face[1:]
                        cells.append((prow, col, rect, face[1:], x, y, width - grid, h))
        self.shown = shown
        if not region.isEmpty():
            viewport.update(region)
        if looks:
            self.delegate.looks = looks
            self.cells = (region, cells)
            self._armed = True
            self._armed_flushes = self.model.flushes

    def _paint_event(self, event) -> bool:
        """The table's paint hook: True when this paint was drawn here."""
        cells, self.cells = self.cells, None
        if cells is not None and event.region().subtracted(cells[0]).isEmpty() and self._paint(cells[1]):
            self.fast_paints += 1
            return True
        return False

    def _paint(self, cells: list) -> bool:
        table, delegate = self.table, self.delegate
        viewport = table.viewport()
        if (table.state() != QAbstractItemView.State.NoState or viewport.underMouse()
                or table.isRightToLeft() or table.selectionModel() is None):
            return False
        base = QStyleOptionViewItem()
        table.initViewItemOption(base)
        state, features = base.state, base.features
        enabled = bool(state & QStyle.StateFlag.State_Enabled)
        selected, focused = QStyle.StateFlag.State_Selected, QStyle.StateFlag.State_HasFocus
        # What QTableView gives a cell on top of the view's option (QTableViewPrivate::drawCell):
        # (state, its value, whether cached per position) per (selected, current with focus).
        states = {}
        for sel in (False, True):
            for foc in (False, True):
                st = state | selected if sel else state
                st = st | focused if foc else st
                states[sel, foc] = (st, st.value, delegate.positional(st.value))
        alternate = table.alternatingRowColors()
        feats = (features, features | QStyleOptionViewItem.ViewItemFeature.Alternate)
        feat_values = (feats[0].value, feats[1].value)
        palette_key = base.palette.cacheKey()
        model, selection = table.model(), table.selectionModel()
        current = table.currentIndex()
        # only the current cell shows focus, and only while the view has it
        current = (current.row(), current.column()) if current.isValid() and (table.hasFocus() or viewport.hasFocus()) else None
        header = table.verticalHeader()
        moved = header.sectionsMoved()
        cached = delegate.cached
        painter = QPainter(viewport)
        if painter.device().devicePixelRatio() != delegate.device_pixel_ratio:  # e.g. render() elsewhere
            painter.end()
            return False
        if current is not None and any((prow, col) == current for prow, col, *_rest in cells):
            painter.end()  # the focused cell is drawn by the view (see TickingDelegate.paint)
            return False
        draw = painter.drawPixmap
        for prow, col, rect, look, x, y, w, h in cells:
            index = model.index(prow, col)
            st, st_value, exact = states[selection.isSelected(index), current == (prow, col)]
            alt = alternate and (header.visualIndex(prow) if moved else prow) & 1 == 1
            key = (look, w, h, st_value, feat_values[alt], palette_key, (x, y) if exact else None)
            pm = cached(key)
            if pm is None:
                opt = QStyleOptionViewItem(base)
                opt.rect = rect
                opt.state = st
                opt.features = feats[alt]
                if enabled:
                    opt.palette.setCurrentColorGroup(QPalette.ColorGroup.Normal)
                pm = delegate.render_cell(key, opt, index)
            draw(rect, pm)
        painter.end()
        return True
