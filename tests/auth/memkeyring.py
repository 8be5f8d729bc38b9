"""An in-memory keyring backend for tests that behaves like Windows Credential Manager on size:
a secret over 2,560 bytes (UTF-16) is refused, as CredWrite does."""

from __future__ import annotations

import threading
import time

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError, PasswordSetError

WINDOWS_MAX_BLOB = 2560


class MemoryKeyring(KeyringBackend):
    priority = 5  # type: ignore[assignment]  # a "recommended" backend

    def __init__(self, *, delay_s: float = 0.0) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.threads: set[int] = set()
        self.delay_s = delay_s
        self.calls = 0

    def _enter(self) -> None:
        self.calls += 1
        self.threads.add(threading.get_ident())
        if self.delay_s:
            time.sleep(self.delay_s)

    def get_password(self, service: str, username: str) -> str | None:
        self._enter()
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._enter()
        if len(password.encode("utf-16-le")) > WINDOWS_MAX_BLOB:
            raise PasswordSetError("(1783, 'CredWrite', 'The stub received bad data')")
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._enter()
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")
