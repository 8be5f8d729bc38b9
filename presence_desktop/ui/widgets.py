"""Small single-purpose widgets of the roster window. They emit signals; they never see the app."""

from __future__ import annotations

import html
import time
from datetime import datetime

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QAbstractScrollArea,
    QApplication,
    QPushButton,
    QWidget,
)

from presence_desktop.domain.presence import MESSAGE_MAX_CHARS
from presence_desktop.domain.statuses import UNKNOWN, StatusCatalogue
from presence_desktop.domain.text import display_text
from presence_desktop.ui.painting import status_icon
from presence_desktop.ui.theme import colors



class PickOnlyComboBox(QComboBox):
    """A combo box whose value changes only by an explicit pick in its open list (a click, or
    Enter on an item): the wheel over it and the arrow, Page, Home/End and letter keys on the
    closed box change nothing (Up, Down, Space, Enter and F4 open the list instead). A plain
    QComboBox steps through its items on each of those and emits ``activated`` for every step:
    over "My status" that published each status it passed to the whole team."""

    _OPEN_KEYS = frozenset({Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Space, Qt.Key.Key_Return,
                            Qt.Key.Key_Enter, Qt.Key.Key_F4})
    _STEP_KEYS = frozenset({Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End,
                            Qt.Key.Key_Left, Qt.Key.Key_Right})

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        # Reached by Tab or a click, never by the wheel passing over it.
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event) -> None:
        event.ignore()  # the page (or nothing) scrolls; the status stays

    def keyPressEvent(self, event) -> None:
        key = Qt.Key(event.key())
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if key in self._OPEN_KEYS and mods in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.AltModifier):
            self.showPopup()
            event.accept()
            return
        if key in self._STEP_KEYS or (event.text() and event.text().isprintable()):
            event.accept()  # would select another item (keyboard search included)
            return
        super().keyPressEvent(event)


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
        self.combo = PickOnlyComboBox()
        self.combo.setIconSize(QSize(16, 16))
        self.combo.setAccessibleName("My status")
        self.combo.setToolTip("Your status, as your team sees it: pick one from the list (Space or a click opens it)")
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
        self.state_label.setTextFormat(Qt.TextFormat.PlainText)  # carries relay error text
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
        c = colors(self.palette())
        if n >= limit:
            self.counter.setStyleSheet(f"color: {c.error}; font-weight: 600;")
            self.counter.setToolTip(f"Limit reached: a status message holds at most {limit} characters.")
        else:
            self.counter.setStyleSheet(f"color: {c.warn};" if n >= limit * 0.9 else f"color: {c.muted};")
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
            self.state_label.setStyleSheet(f"color: {colors(self.palette()).warn};")
            return
        self._dirty = False
        self.statusRequested.emit(sid, self.message.text())

    def set_state(self, status_id: str | None, message: str | None, pending: bool, error: str | None = None,
                  unconfirmed: str | None = None) -> None:
        """Show the own status; ``pending`` = not yet confirmed by the relay; ``unconfirmed``: why
        the shown status cannot be vouched for right now ("disconnected", "session expired"), so
        it never reads "✓ confirmed" then (None: the connection is live)."""
        self._updating = True
        self._shown_status = status_id
        try:
            i = self.combo.findData(status_id) if status_id else -1
            self.combo.setCurrentIndex(i)
            # Never overwrite what the user is editing (focus is no guide: the status list
            # takes it while open); the box follows the own status again once sent.
            if not self._dirty:
                self.message.setText(display_text(message))
            elif self.message.text() == display_text(message):
                self._dirty = False
            if pending:
                self.state_label.setText("pending…" + (f" ({display_text(error)})" if error else ""))
                self.state_label.setStyleSheet(f"color: {colors(self.palette()).warn};")
            elif unconfirmed and status_id:
                self.state_label.setText(f"not confirmed ({unconfirmed})")
                self.state_label.setStyleSheet(f"color: {colors(self.palette()).warn};")
            else:
                self.state_label.setText("✓ confirmed" if status_id else "")
                self.state_label.setStyleSheet(f"color: {colors(self.palette()).ok};")
        finally:
            self._updating = False


class ConnectionBanner(QFrame):
    """Shown while this app's own connection is down: since when, and when the next retry is.
    When the session is what failed, a button offers to sign in again (``signInAgain``)."""

    signInAgain = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionBanner")
        self._restyle()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        self.icon = QLabel()
        self.icon.setPixmap(status_icon(UNKNOWN).pixmap(18, 18))
        lay.addWidget(self.icon)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)  # our markup; the reason in it is escaped
        lay.addWidget(self.label, 1)
        self.sign_in_button = QPushButton("Sign in again")
        self.sign_in_button.clicked.connect(self.signInAgain)
        self.sign_in_button.hide()
        lay.addWidget(self.sign_in_button)
        self.since: float | None = None
        self.next_retry_at: float | None = None
        self.reason: str | None = None
        self.hide()

    def _restyle(self) -> None:
        c = colors(self.palette())
        self.setStyleSheet(
            f"#connectionBanner {{ background: {c.banner_bg}; border: 1px solid {c.banner_border}; border-radius: 4px; }}"
            f" QLabel {{ color: {c.banner_text}; }}"
        )

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ApplicationPaletteChange:
            self._restyle()
            self.refresh()

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
            detail = colors(self.palette()).banner_detail
            parts.append(f" <span style='color:{detail}'>({html.escape(display_text(plain_reason(self.reason)))})</span>")
            self.label.setToolTip(f"<p>{html.escape(display_text(self.reason))}</p>")  # server text: never markup
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


class ConfirmBar(QFrame):
    """A non-modal, in-window confirmation: ``ask(text, payload, near=...)``; emits
    ``confirmed(payload)``. ``text`` is plain text (it carries a display name: never markup).
    Enter confirms, Escape cancels; the focused button shows a ring; the bar floats next to the
    row it is about (``near``), over the view, so showing it scrolls and moves nothing."""

    confirmed = Signal(object)
    cancelled = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("confirmBar")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        lay.addWidget(self.label, 1)
        self.yes = QPushButton("Confirm")
        self.no = QPushButton("Cancel")
        self.yes.setToolTip("Confirm (Enter)")
        self.no.setToolTip("Cancel (Escape)")
        lay.addWidget(self.yes)
        lay.addWidget(self.no)
        self.payload = None
        self.near: tuple[int, int] | None = None
        self._restore_focus: QWidget | None = None
        self.yes.clicked.connect(self._yes)
        self.no.clicked.connect(self._no)
        self._restyle()
        self.hide()

    def _restyle(self) -> None:
        c = colors(self.palette())
        self.setStyleSheet(
            f"#confirmBar {{ background: {c.confirm_bg}; border: 1px solid {c.confirm_border}; border-radius: 4px; }}"
            f" #confirmBar QLabel {{ color: {c.confirm_text}; }}"
            f" #confirmBar QPushButton {{ color: {c.text}; background: {c.base}; border: 1px solid {c.confirm_border};"
            f" border-radius: 4px; padding: 3px 12px; }}"
            f" #confirmBar QPushButton:focus {{ border: 2px solid {c.focus}; padding: 2px 11px; }}"
        )

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ApplicationPaletteChange:
            self._restyle()

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            # Enter on Cancel cancels; anywhere else in the bar it confirms.
            (self._no if self.no.hasFocus() else self._yes)()
            return
        if key == Qt.Key.Key_Escape:
            self._no()
            return
        super().keyPressEvent(event)

    def overlay_on(self, widget: QWidget) -> None:
        """Float over ``widget`` instead of taking layout space (showing it then moves nothing),
        following its size."""
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
        if self.near is None:
            y = host.height() - h - 8
        elif self.near[1] + h + 4 <= host.height():
            y = self.near[1] + 2  # right under the row it is about
        else:
            y = self.near[0] - h - 2  # no room below: above it
        # Over a scroll area: within its viewport, leaving the scroll bar usable.
        viewport = host.viewport() if isinstance(host, QAbstractScrollArea) else None
        left, right = (viewport.geometry().left(), viewport.geometry().right() + 1) if viewport is not None else (0, host.width())
        self.setGeometry(left + 8, max(0, min(y, host.height() - h)), max(0, right - left - 16), h)
        self.raise_()

    def ask(self, text: str, payload, near: tuple[int, int] | None = None) -> None:
        """Ask ``text`` (plain text). ``near``: (top, bottom) of the row it is about, in the host
        widget's coordinates; the bar goes just under it (or above when there is no room)."""
        self.label.setText(display_text(text))
        self.payload = payload
        self.near = near
        focus = QApplication.focusWidget()
        self._restore_focus = focus if focus is not None and not self.isAncestorOf(focus) else None
        self._place()
        self.show()
        self.yes.setFocus(Qt.FocusReason.OtherFocusReason)

    def _done(self) -> None:
        self.hide()
        back, self._restore_focus = self._restore_focus, None
        if back is not None:
            back.setFocus(Qt.FocusReason.OtherFocusReason)

    def _yes(self) -> None:
        payload, self.payload = self.payload, None
        self._done()
        if payload is not None:
            self.confirmed.emit(payload)

    def _no(self) -> None:
        self.payload = None
        self._done()
        self.cancelled.emit()


class MessageBar(QFrame):
    """A dismissible line for errors (or notes) in plain words (never a modal box)."""


    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self._info = False
        self._restyle()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # carries names and server text
        lay.addWidget(self.label, 1)
        close = QPushButton("Dismiss")
        close.clicked.connect(self.hide)
        lay.addWidget(close)
        self.hide()

    def _restyle(self) -> None:
        c = colors(self.palette())
        bg, border, fg = (c.info_bg, c.info_border, c.info_text) if self._info else (c.error_bg, c.error_border, c.error_text)
        self.setStyleSheet(
            f"#messageBar {{ background: {bg}; border: 1px solid {border}; border-radius: 4px; }}"
            f" #messageBar QLabel {{ color: {fg}; }}"
        )

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ApplicationPaletteChange:
            self._restyle()

    def show_text(self, text: str, info: bool = False) -> None:
        self._info = info
        self._restyle()
        self.label.setText(display_text(text))
        self.show()


def clamp_to_screen(window: QWidget, margin: int = 0) -> None:
    """Shrink and move ``window`` so its frame lies within its screen's available area (the
    desktop minus panels). A restored geometry or the default size can exceed it: at 200 % scale
    the roster opened 2080x1440 on a 1600x1000 screen."""
    screen = window.screen() or QApplication.primaryScreen()
    if screen is None:
        return
    area = screen.availableGeometry().adjusted(margin, margin, -margin, -margin)
    frame = window.frameGeometry()
    extra_w = max(0, frame.width() - window.width())  # title bar and borders, once shown
    extra_h = max(0, frame.height() - window.height())
    width = min(window.width(), max(1, area.width() - extra_w))
    height = min(window.height(), max(1, area.height() - extra_h))
    if (width, height) != (window.width(), window.height()):
        window.resize(width, height)
    frame = window.frameGeometry()
    x = min(max(frame.x(), area.x()), area.right() + 1 - frame.width())
    y = min(max(frame.y(), area.y()), area.bottom() + 1 - frame.height())
    if (x, y) != (frame.x(), frame.y()):
        window.move(x, y)

