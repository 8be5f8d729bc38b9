"""Delegates that paint roster cells the default delegate cannot: the status indicator."""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from presence_desktop.ui.painting import paint_status
from presence_desktop.ui.roster.model import STATUS_ROLE


class StatusDelegate(QStyledItemDelegate):
    """Paints the indicator column: the status's shape in its colour."""

    def paint(self, painter, option: QStyleOptionViewItem, index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        status = index.data(STATUS_ROLE)
        if status is None:
            return
        r = QRectF(option.rect)
        side = min(r.height(), 18.0) - 4
        target = QRectF(r.center().x() - side / 2, r.center().y() - side / 2, side, side)
        paint_status(painter, target, status)  # Unknown is grey already; fading it hides it

    def sizeHint(self, option, index):
        hint = super().sizeHint(option, index)
        hint.setWidth(max(hint.width(), 26))
        return hint
