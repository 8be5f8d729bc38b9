"""The agent's day questions in the window: a bar per question with its answers as buttons.

Never modal and never takes the focus (a call may be under way in another window): the bar
appears above the roster; the tray notification says the same and a click on it shows the
window. Text is plain text (messages are user text). Emits ``answered(kind, answer)``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from presence_desktop.client.agent_day import Prompt, PromptKind
from presence_desktop.ui.theme import colors


class PromptBar(QFrame):
    answered = Signal(object, object)  # PromptKind, Answer

    def __init__(self, prompt: Prompt, parent=None) -> None:
        super().__init__(parent)
        self.prompt = prompt
        self.setObjectName("promptBar")
        c = colors()  # a question to the user: the confirm step's colours
        self.setStyleSheet(f"#promptBar {{ background: {c.confirm_bg}; border: 1px solid {c.confirm_border}; "
                           f"border-radius: 4px; }} #promptBar QLabel {{ color: {c.confirm_text}; }}")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        self.title = QLabel(prompt.title)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        lay.addWidget(self.title)
        self.label = QLabel(prompt.text)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        lay.addWidget(self.label, 1)
        self.buttons: dict[object, QPushButton] = {}
        for answer, text in prompt.answers:
            button = QPushButton(text)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # never steals the keyboard
            button.clicked.connect(lambda _c=False, a=answer: self.answered.emit(prompt.kind, a))
            lay.addWidget(button)
            self.buttons[answer] = button


class PromptArea(QWidget):
    """Holds the open questions, one bar per kind (a new one of a kind replaces the old)."""

    answered = Signal(object, object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("promptArea")
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(4)
        self.bars: dict[PromptKind, PromptBar] = {}
        self.hide()

    def show_prompt(self, prompt: Prompt) -> PromptBar:
        self.withdraw(prompt.kind)
        bar = PromptBar(prompt, self)
        bar.answered.connect(self.answered)
        self._lay.addWidget(bar)
        self.bars[prompt.kind] = bar
        self.show()
        return bar

    def withdraw(self, kind: PromptKind) -> None:
        bar = self.bars.pop(kind, None)
        if bar is not None:
            bar.hide()
            bar.deleteLater()
        if not self.bars:
            self.hide()
