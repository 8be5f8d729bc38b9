"""Small single-purpose widgets of the roster window. They emit signals; they never see the app."""

from __future__ import annotations

import html
import time
from datetime import datetime

from PySide6.QtCore import QEvent, QSize, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from presence_desktop.domain.presence import MESSAGE_MAX_CHARS
from presence_desktop.domain.roster import Counts
from presence_desktop.domain.statuses import UNKNOWN, StatusCatalogue
from presence_desktop.ui.painting import status_icon

ALL = "__all__"


class OwnStatusBar(QWidget):
    """The own status picker and message. Emits ``statusRequested(status_id, typed)``: ``typed``
    is the message the user entered for this request (str, "" = clear it) or None when nothing
    was typed; the app turns it into the message sent (``OwnStatus.message_for``, the tray's rule
    too), so a new status never carries the previous status's message."""

    statusRequested = Signal(str, object)

    def __init__(self, catalogue: StatusCatalogue, parent=None) -> None:
        super().__init__(parent)
        self.catalogue = catalogue
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("My status:"))
        self.combo = QComboBox()
        self.combo.setIconSize(QSize(16, 16))
        self.combo.setAccessibleName("My status")
        for st in catalogue:
            self.combo.addItem(status_icon(st), st.label, st.id)
        self.combo.setCurrentIndex(-1)
        self.combo.setPlaceholderText("Unknown")
        lay.addWidget(self.combo)
        self.message = QLineEdit()
        self.message.setPlaceholderText("Status message (optional)")
        self.message.setMaxLength(MESSAGE_MAX_CHARS)
        self.message.setAccessibleName("Status message")
        self.message.setMinimumWidth(220)
        lay.addWidget(self.message, 1)
        # The box stops at the limit: say so while typing instead of cutting silently.
        self.counter = QLabel()
        self.counter.setObjectName("messageCounter")
        self.counter.setAccessibleName("Message length")
        lay.addWidget(self.counter)
        self.message.textChanged.connect(self._count)
        self._count("")
        self.apply_button = QPushButton("Set")
        lay.addWidget(self.apply_button)
        self.state_label = QLabel("")
        self.state_label.setObjectName("ownStatusState")
        lay.addWidget(self.state_label)
        self._updating = False
        self._dirty = False  # the user edited the box since it was last set
        self.message.textEdited.connect(self._edited)
        self.combo.activated.connect(lambda _i: self._status_chosen())
        self.apply_button.clicked.connect(self._emit)
        self.message.returnPressed.connect(self._emit)

    def _edited(self, _text: str) -> None:
        self._dirty = True

    def _count(self, text: str) -> None:
        n, limit = len(text), MESSAGE_MAX_CHARS
        self.counter.setText(f"{n} / {limit}")
        if n >= limit:
            self.counter.setStyleSheet("color: #c62828; font-weight: 600;")
            self.counter.setToolTip(f"Limit reached: a status message holds at most {limit} characters.")
        else:
            self.counter.setStyleSheet("color: #8a6d00;" if n >= limit * 0.9 else "color: #888;")
            self.counter.setToolTip(f"A status message holds at most {limit} characters.")

    def _status_chosen(self) -> None:
        if self._updating:
            return
        sid = self.combo.currentData()
        if not sid:
            return
        typed = self.message.text() if self._dirty else None
        if typed is None and sid != self._shown_status:
            self.message.clear()  # the shown message belonged to the old status
        self._dirty = False
        self.statusRequested.emit(sid, typed)

    _shown_status: str | None = None

    def _emit(self) -> None:
        if self._updating:
            return
        sid = self.combo.currentData()
        if not sid:
            # A message is sent with a status; keep the text for when one is chosen.
            self.state_label.setText("Choose a status first: the message is sent with it.")
            self.state_label.setStyleSheet("color: #8a6d00;")
            return
        self._dirty = False
        self.statusRequested.emit(sid, self.message.text())

    def set_state(self, status_id: str | None, message: str | None, pending: bool, error: str | None = None) -> None:
        """Show the own status; ``pending`` = not yet confirmed by the relay."""
        self._updating = True
        self._shown_status = status_id
        try:
            i = self.combo.findData(status_id) if status_id else -1
            self.combo.setCurrentIndex(i)
            # Never overwrite what the user is editing (focus is no guide: the status list
            # takes it while open); the box follows the own status again once sent.
            if not self._dirty:
                self.message.setText(message or "")
            elif self.message.text() == (message or ""):
                self._dirty = False
            if pending:
                self.state_label.setText("pending…" + (f" ({error})" if error else ""))
                self.state_label.setStyleSheet("color: #8a6d00;")
            else:
                self.state_label.setText("✓ confirmed" if status_id else "")
                self.state_label.setStyleSheet("color: #2e7d32;")
        finally:
            self._updating = False


class ConnectionBanner(QFrame):
    """Shown while this app's own connection is down: since when, and when the next retry is.
    When the session is what failed, a button offers to sign in again (``signInAgain``)."""

    signInAgain = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionBanner")
        self.setStyleSheet(
            "#connectionBanner { background: #fff3cd; border: 1px solid #e0b000; border-radius: 4px; }"
            " QLabel { color: #5c4400; }"
        )
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        self.icon = QLabel()
        self.icon.setPixmap(status_icon(UNKNOWN).pixmap(18, 18))
        lay.addWidget(self.icon)
        self.label = QLabel()
        self.label.setWordWrap(True)
        lay.addWidget(self.label, 1)
        self.sign_in_button = QPushButton("Sign in again")
        self.sign_in_button.clicked.connect(self.signInAgain)
        self.sign_in_button.hide()
        lay.addWidget(self.sign_in_button)
        self.since: float | None = None
        self.next_retry_at: float | None = None
        self.reason: str | None = None
        self.hide()

    def set_down(self, since: float | None, next_retry_at: float | None, reason: str | None) -> None:
        self.since, self.next_retry_at, self.reason = since, next_retry_at, reason
        self.sign_in_button.setVisible(needs_sign_in(reason))
        self.refresh()
        self.show()

    def set_up(self) -> None:
        self.since = self.next_retry_at = None
        self.hide()

    def refresh(self, now: float | None = None) -> None:
        if self.since is None and self.isHidden():
            return
        now = time.time() if now is None else now
        parts = ["<b>Connection lost</b>"]
        if self.since is not None:
            parts.append(f" since {datetime.fromtimestamp(self.since).strftime('%H:%M:%S')}")
        parts.append(". Statuses are shown as Unknown until it is back.")
        if self.next_retry_at is not None:
            wait = self.next_retry_at - now
            parts.append(f" Next retry in {int(wait) + 1} s." if wait > 0 else " Reconnecting…")
        elif not needs_sign_in(self.reason):
            parts.append(" Reconnecting…")  # an attempt is under way: there is no next-retry time
        if self.reason:
            parts.append(f" <span style='color:#7a6a3a'>({html.escape(plain_reason(self.reason))})</span>")
            self.label.setToolTip(self.reason)
        self.label.setText("".join(parts))


def needs_sign_in(reason: str | None) -> bool:
    """True when retrying cannot help: the session itself was refused."""
    low = (reason or "").lower()
    return "sign in again" in low or "unauthorized" in low


def plain_reason(reason: str) -> str:
    """A connection error in a few plain words (the raw text goes to the tooltip)."""
    low = reason.lower()
    if "refused" in low or "unreachable" in low or "name or service" in low or "no route" in low:
        return "the server cannot be reached"
    if "timed out" in low or "timeout" in low:
        return "the server stopped answering"
    if "sign in again" in low or "unauthorized" in low:
        return "your session has expired: sign in again"
    if "certificate" in low or "ssl" in low:
        return "the server's certificate is not trusted"
    if "closed" in low or "1006" in low or "1001" in low or "lost" in low:
        return "the connection was closed"
    return reason if len(reason) <= 60 else reason[:57] + "…"


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
        unknown = counts.get(UNKNOWN.id) > 0
        for sid, (icon, text) in self.labels.items():
            n = counts.get(sid)
            style = "font-weight: 600;" if n else "color: #888;"
            if styled.get(sid) != style:  # a style sheet re-polishes the label: only on a change
                styled[sid] = style
                text.setStyleSheet(style)  # before the text: it sizes the label
            # Empty chips are left out (the bar must fit a laptop screen), except Available:
            # "Available 0 / 12" is the one number a supervisor must always see.
            visible = n > 0 or (sid == "available" and not unknown)
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
        window and repainted the whole roster on every count."""
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


class FilterBar(QWidget):
    """Team and status filters and a name search. Emits ``changed()``."""

    changed = Signal()

    def __init__(self, catalogue: StatusCatalogue, parent=None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("Team:"))
        self.team = QComboBox()
        self.team.addItem("All teams", ALL)
        self.team.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        lay.addWidget(self.team)
        lay.addWidget(QLabel("Status:"))
        self.status = QComboBox()
        self.status.setIconSize(QSize(14, 14))
        self.status.addItem("All statuses", ALL)
        for st in [*catalogue, UNKNOWN]:
            self.status.addItem(status_icon(st), st.label, st.id)
        lay.addWidget(self.status)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name…")
        self.search.setClearButtonEnabled(True)
        self.search.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        lay.addWidget(self.search, 1)
        self.team.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.status.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.search.textChanged.connect(lambda _t: self.changed.emit())

    def set_teams(self, teams: list[str]) -> None:
        have = {self.team.itemData(i) for i in range(self.team.count())}
        for team in teams:
            if team not in have:
                self.team.addItem(team, team)

    def selected_team(self) -> str | None:
        data = self.team.currentData()
        return None if data in (None, ALL) else data

    def selected_status(self) -> str | None:
        data = self.status.currentData()
        return None if data in (None, ALL) else data


class ConfirmBar(QFrame):
    """A non-modal, in-window confirmation: ``ask(text, payload)``; emits ``confirmed(payload)``."""

    confirmed = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("confirmBar")
        self.setStyleSheet("#confirmBar { background: #e3f2fd; border: 1px solid #64b5f6; border-radius: 4px; }")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        self.label = QLabel()
        lay.addWidget(self.label, 1)
        self.yes = QPushButton("Confirm")
        self.no = QPushButton("Cancel")
        lay.addWidget(self.yes)
        lay.addWidget(self.no)
        self.payload = None
        self.yes.clicked.connect(self._yes)
        self.no.clicked.connect(self._no)
        self.hide()

    def overlay_on(self, widget: QWidget) -> None:
        """Float over ``widget``'s bottom edge instead of taking layout space (showing it then
        moves nothing), following its size."""
        self.setParent(widget)
        self.setAutoFillBackground(True)
        widget.installEventFilter(self)
        self.hide()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.parentWidget() and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return super().eventFilter(obj, event)

    def _place(self) -> None:
        host = self.parentWidget()
        if host is None or host.layout() is not None and host.layout().indexOf(self) >= 0:
            return
        h = self.sizeHint().height()
        self.setGeometry(8, max(0, host.height() - h - 8), max(0, host.width() - 16), h)
        self.raise_()

    def ask(self, text: str, payload) -> None:
        self.label.setText(text)
        self.payload = payload
        self._place()
        self.show()
        self.yes.setFocus()

    def _yes(self) -> None:
        payload, self.payload = self.payload, None
        self.hide()
        if payload is not None:
            self.confirmed.emit(payload)

    def _no(self) -> None:
        self.payload = None
        self.hide()


class MessageBar(QFrame):
    """A dismissible line for errors (or notes) in plain words (never a modal box)."""

    ERROR_STYLE = "#messageBar { background: #fdecea; border: 1px solid #e57373; border-radius: 4px; }"
    INFO_STYLE = "#messageBar { background: #e8f0fe; border: 1px solid #90b4f0; border-radius: 4px; }"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setStyleSheet(self.ERROR_STYLE)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        lay.addWidget(self.label, 1)
        close = QPushButton("Dismiss")
        close.clicked.connect(self.hide)
        lay.addWidget(close)
        self.hide()

    def show_text(self, text: str, info: bool = False) -> None:
        self.setStyleSheet(self.INFO_STYLE if info else self.ERROR_STYLE)
        self.label.setText(text)
        self.show()
