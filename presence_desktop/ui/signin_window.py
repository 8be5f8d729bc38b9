"""The sign-in window: profile, username, password, remember me; then the challenge steps.

Emits ``signInRequested(profile, username, password, remember)``,
``newPasswordSubmitted(password)``, ``mfaCodeSubmitted(code)`` and ``cancelled()``. The app
answers with :meth:`show_error` (plain words), :meth:`show_challenge` or closes the window.
Never modal: the event loop keeps running while it is open.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

PAGE_CREDENTIALS, PAGE_NEW_PASSWORD, PAGE_MFA = range(3)


class SignInWindow(QWidget):
    signInRequested = Signal(str, str, str, bool)
    newPasswordSubmitted = Signal(str)
    mfaCodeSubmitted = Signal(str)
    cancelled = Signal()

    def __init__(self, profiles: list[tuple[str, str]], parent=None) -> None:
        """``profiles``: (name, description) pairs, e.g. ("local", "Local devstack")."""
        super().__init__(parent)
        self.setWindowTitle("Presence — sign in")
        self.setObjectName("signInWindow")
        self._closing_by_app = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 20, 24, 20)
        title = QLabel("<h2 style='margin:0'>Sign in to Presence</h2>")
        outer.addWidget(title)
        self.subtitle = QLabel("See who is available, and tell your team where you are.")
        self.subtitle.setStyleSheet("color: #555;")
        outer.addWidget(self.subtitle)

        self.pages = QStackedWidget()
        outer.addWidget(self.pages)

        # credentials
        cred = QWidget()
        form = QFormLayout(cred)
        self.profile = QComboBox()
        for name, desc in profiles:
            self.profile.addItem(f"{desc} ({name})" if desc and desc != name else name, name)
        form.addRow("Profile:", self.profile)
        self.username = QLineEdit()
        self.username.setPlaceholderText("e.g. agent-7")
        form.addRow("Username:", self.username)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("Password:", self.password)
        self.remember = QCheckBox("Keep me signed in on this computer")
        self.remember.setChecked(True)
        form.addRow("", self.remember)
        self.pages.addWidget(cred)

        # new password challenge
        newpw = QWidget()
        form2 = QFormLayout(newpw)
        form2.addRow(QLabel("Your password is temporary. Choose a new one."))
        self.new_password = QLineEdit()
        self.new_password.setEchoMode(QLineEdit.EchoMode.Password)
        form2.addRow("New password:", self.new_password)
        self.new_password2 = QLineEdit()
        self.new_password2.setEchoMode(QLineEdit.EchoMode.Password)
        form2.addRow("Repeat:", self.new_password2)
        self.pages.addWidget(newpw)

        # MFA challenge
        mfa = QWidget()
        form3 = QFormLayout(mfa)
        form3.addRow(QLabel("Enter the 6-digit code from your authenticator app."))
        self.mfa_code = QLineEdit()
        self.mfa_code.setMaxLength(8)
        self.mfa_code.setInputMask("")
        form3.addRow("Code:", self.mfa_code)
        self.pages.addWidget(mfa)

        self.error = QLabel()
        self.error.setObjectName("signInError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        self.error.hide()
        outer.addWidget(self.error)
        self.busy_label = QLabel("Signing in…")
        self.busy_label.setStyleSheet("color: #555;")
        self.busy_label.hide()
        outer.addWidget(self.busy_label)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.submit = QPushButton("Sign in")
        self.submit.setDefault(True)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.submit)
        outer.addLayout(buttons)

        self.submit.clicked.connect(self._submit)
        for edit in (self.username, self.password, self.new_password2, self.mfa_code):
            edit.returnPressed.connect(self._submit)
        self.cancel_button.clicked.connect(self.close)
        for edit in (self.username, self.password, self.new_password, self.new_password2, self.mfa_code):
            edit.textEdited.connect(lambda _t: self.error.hide())  # an old error must not linger
        self.setMinimumWidth(420)

    def _submit(self) -> None:
        if not self.submit.isEnabled():
            return
        self.error.hide()
        page = self.pages.currentIndex()
        if page == PAGE_CREDENTIALS:
            user = self.username.text().strip()
            if not user or not self.password.text():
                self.show_error("Enter your username and password.")
                return
            self.set_busy(True)
            self.signInRequested.emit(self.profile.currentData(), user, self.password.text(), self.remember.isChecked())
        elif page == PAGE_NEW_PASSWORD:
            if self.new_password.text() != self.new_password2.text():
                self.show_error("The two new passwords differ.")
                return
            if not self.new_password.text():
                self.show_error("Enter a new password.")
                return
            self.set_busy(True)
            self.newPasswordSubmitted.emit(self.new_password.text())
        else:
            code = self.mfa_code.text().strip()
            if not code.isdigit():
                self.show_error("The code is the digits shown in your authenticator app.")
                return
            self.set_busy(True)
            self.mfaCodeSubmitted.emit(code)

    # --- answers from the app ------------------------------------------------------------------
    def set_busy(self, busy: bool, text: str = "Signing in…") -> None:
        self.busy_label.setText(text)
        self.busy_label.setVisible(busy)
        for w in (self.submit, self.profile, self.username, self.password, self.remember, self.new_password,
                  self.new_password2, self.mfa_code):
            w.setEnabled(not busy)

    def show_error(self, text: str) -> None:
        self.set_busy(False)
        self.error.setText(text)
        self.error.show()

    def show_challenge(self, kind: str) -> None:
        """``kind``: "new_password" or "mfa"."""
        self.set_busy(False)
        self.error.hide()
        self.pages.setCurrentIndex(PAGE_NEW_PASSWORD if kind == "new_password" else PAGE_MFA)
        self.submit.setText("Continue")
        (self.new_password if kind == "new_password" else self.mfa_code).setFocus()

    def reset(self) -> None:
        self.pages.setCurrentIndex(PAGE_CREDENTIALS)
        self.submit.setText("Sign in")
        self.password.clear()
        self.set_busy(False)

    def select_profile(self, name: str) -> None:
        i = self.profile.findData(name)
        if i >= 0:
            self.profile.setCurrentIndex(i)

    def close_by_app(self) -> None:
        self._closing_by_app = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing_by_app:
            self.cancelled.emit()
        super().closeEvent(event)
