"""The roster's headline counts: one chip per status, in catalogue order, zeros shown."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from presence_desktop.domain.roster import Counts
from presence_desktop.domain.statuses import UNKNOWN, StatusCatalogue
from presence_desktop.ui.painting import status_icon
from presence_desktop.ui.theme import colors


class CountsBar(QWidget):
    """Headline counts per status: "● Available 3 / 12" chips, in catalogue order.

    The bar never sets the window's minimum width (its minimum width is 0): when the full chips
    do not fit its width they drop the shared total ("● Available 3"), and if that does not fit
    either, the label ("● 3": the status's coloured symbol and its count); the full headline is
    always each chip's tooltip and accessible name. With 4-digit counts the nine full chips need
    ~1,530 px: they resized a 1,040 px window as statuses appeared (repainting the whole roster)
    and did not fit a 1,366 px laptop screen."""

    SPACING = 14  # between chips, in full
    COMPACT_SPACING = 10  # between symbol-and-count chips
    FULL, NO_TOTAL, COMPACT = range(3)  # chip styles, widest first

    def __init__(self, catalogue: StatusCatalogue, parent=None) -> None:
        super().__init__(parent)
        self.catalogue = catalogue
        self._lay = lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(self.SPACING)
        self.labels: dict[str, tuple[QLabel, QLabel]] = {}
        for st in [*catalogue, UNKNOWN]:
            icon = QLabel()
            icon.setPixmap(status_icon(st).pixmap(14, 14))
            text = QLabel()
            text.setObjectName(f"count_{st.id}")
            box = QHBoxLayout()
            box.setSpacing(4)
            box.addWidget(icon)
            box.addWidget(text)
            lay.addLayout(box)
            self.labels[st.id] = (icon, text)
        lay.addStretch(1)
        self._styled: dict[str, str] = {}  # status id -> style sheet set on its label
        # per chip style: status id -> reserved width of its text (px), see _reserve_width
        self._widths: tuple[dict[str, int], ...] = ({}, {}, {})
        self.style_shown = -1  # FULL, NO_TOTAL or COMPACT (see class doc); -1 before any counts

    def minimumSizeHint(self) -> QSize:
        # Width 0: the window's minimum width is the other bars' business (see class doc).
        return QSize(0, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        return QSize(0, super().sizeHint().height())

    @property
    def compact(self) -> bool:
        """Chips show less than their full headline (see class doc)."""
        return self.style_shown > self.FULL

    def set_counts(self, counts: Counts) -> None:
        # Called after every batch and every second; unchanged counts must not restyle nine
        # labels (setStyleSheet re-polishes and re-lays out the bar).
        if counts == getattr(self, "_shown", None):
            return
        self._shown = counts
        self._reserve_width(len(str(counts.total)))
        styled = self._styled
        for sid, (icon, text) in self.labels.items():
            n = counts.get(sid)
            style = "font-weight: 600;" if n else f"color: {colors(self.palette()).muted};"
            if styled.get(sid) != style:  # a style sheet re-polishes the label: only on a change
                styled[sid] = style
                text.setStyleSheet(style)  # before the text: it sizes the label
            # Every chip always shows, zeros too (muted), in catalogue order: chips that came
            # and went moved the others under the reader's eyes. Unknown only while any row is.
            visible = n > 0 if sid == UNKNOWN.id else True
            if visible != (not text.isHidden()):
                icon.setVisible(visible)
                text.setVisible(visible)
        self._fit(force=True)

    def text(self) -> str:
        """The visible chips' full headlines (also when compact), two spaces apart."""
        return "  ".join(t.accessibleName() for _i, t in self.labels.values() if t.isVisible())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._fit()

    def _needed(self, style: int) -> int:
        """Width (px) the visible chips need in ``style``, with their reserved widths."""
        shown = [sid for sid, (_i, t) in self.labels.items() if not t.isHidden()]
        spacing = self.COMPACT_SPACING if style == self.COMPACT else self.SPACING
        widths = self._widths[style]
        return sum(14 + 4 + widths.get(sid, 0) for sid in shown) + spacing * max(0, len(shown) - 1)

    def _fit(self, force: bool = False) -> None:
        """The widest chip style that fits the bar's width; sets the texts."""
        counts = getattr(self, "_shown", None)
        if counts is None:
            return
        style = self.FULL
        if self.isVisible():  # not laid out while hidden: showEvent/resizeEvent decide
            while style < self.COMPACT and self._needed(style) > self.width():
                style += 1
        if style == self.style_shown and not force:
            return
        self.style_shown = style
        self._lay.setSpacing(self.COMPACT_SPACING if style == self.COMPACT else self.SPACING)
        widths = self._widths[style]
        for sid, (icon, text) in self.labels.items():
            st = UNKNOWN if sid == UNKNOWN.id else self.catalogue.get(sid)
            headline = counts.headline(st)
            n = counts.get(sid)
            text.setMinimumWidth(widths[sid])
            text.setText((headline, f"{st.label} {n}", str(n))[style])
            if text.accessibleName() != headline:
                text.setAccessibleName(headline)
                text.setToolTip(headline)
                icon.setToolTip(headline)

    def _reserve_width(self, digits: int) -> None:
        """Each chip is as wide as its widest text for totals of ``digits`` digits, so changing
        numbers never change the bar's size: at the window's minimum width that resized the
        window and repainted the whole roster (~60-200 ms at 5,000 agents) on every count."""
        if digits == getattr(self, "_digits", None):
            return
        self._digits = digits
        font = QFont(self.font())
        font.setWeight(QFont.Weight.DemiBold)  # the widest style a chip uses
        metrics = QFontMetrics(font)
        nines = "8" * digits
        full, no_total, compact = self._widths
        for sid in self.labels:
            label = UNKNOWN.label if sid == UNKNOWN.id else self.catalogue.get(sid).label
            full[sid] = metrics.horizontalAdvance(f"{label} {nines} / {nines}") + 2
            no_total[sid] = metrics.horizontalAdvance(f"{label} {nines}") + 2
            compact[sid] = metrics.horizontalAdvance(nines) + 2
