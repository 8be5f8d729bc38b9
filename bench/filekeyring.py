"""A keyring backend for the start-up benchmark only: entries in a JSON file named by
``$BENCH_KEYRING_FILE`` (a temporary folder of the bench run, deleted afterwards).

It exists so that a freshly launched app process finds a remembered session without a desktop
Secret Service; it claims ``priority = 1`` so the app's token store (which refuses
non-recommended and plaintext backends) accepts it. Never used outside ``python -m bench``.
Select it with ``PYTHON_KEYRING_BACKEND=bench.filekeyring.BenchFileKeyring``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend


class BenchFileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    @property
    def _path(self) -> Path:
        return Path(os.environ["BENCH_KEYRING_FILE"])

    def _load(self) -> dict:
        try:
            return json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _save(self, data: dict) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self._path)

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\x00{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\x00{username}"] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        data.pop(f"{service}\x00{username}", None)
        self._save(data)
