"""Remembering a session: the refresh token (and the username it belongs to) in the OS keyring.

Only the refresh token is kept; id and access tokens live in memory. Rules:

- Only a recommended keyring backend is used (``priority >= 1``: Windows Credential Locker,
  macOS Keychain, Secret Service / KWallet). When the only backends are non-recommended
  (``keyrings.alt`` plaintext or "encrypted" files, ``fail``, ``null``), the store keeps the
  session in memory only and :attr:`TokenStore.status_message` says the session will not be
  remembered. Nothing is ever written to a plaintext file.
- Windows Credential Manager refuses a secret over 2,560 bytes (CRED_MAX_CREDENTIAL_BLOB_SIZE,
  "The stub received bad data"); a Cognito refresh token is ~1.8k chars and may grow. The token
  is therefore split into chunks of at most 2,000 UTF-16 bytes under separate entries, with a
  small index entry (JSON: version, username, generation, chunk count, SHA-256) written last;
  a token whose chunks do not hash to the index is ignored, so a half-written save is never
  used.
- Keyring calls can block for a long time (a locked keyring showing an unlock prompt, a hung
  D-Bus): they run on one dedicated worker thread, never on the event loop thread, and each
  call times out (``timeout_s``).
- Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

SERVICE = "presence-desktop"
MAX_CHUNK_UTF16_BYTES = 2000  # under Windows' 2,560-byte CredWrite limit, with margin
MAX_CHUNKS = 32  # 32 x 1,000 chars; a damaged index must not mean millions of keyring reads
_FORMAT_VERSION = 1

NOT_REMEMBERED_NO_KEYRING = (
    "Session will not be remembered: this computer has no secure keyring "
    "(for example GNOME Keyring, KWallet, macOS Keychain or Windows Credential Manager)."
)
NOT_REMEMBERED_KEYRING_FAILED = "Session will not be remembered: the keyring did not answer or refused access."


@dataclass(frozen=True)
class StoredSession:
    """What is remembered between runs. ``repr`` hides the token."""

    username: str
    refresh_token: str

    def __repr__(self) -> str:
        return f"StoredSession(username={self.username!r}, refresh_token=<{len(self.refresh_token)} chars>)"


def split_utf16(text: str, max_bytes: int = MAX_CHUNK_UTF16_BYTES) -> list[str]:
    """Split ``text`` into chunks whose UTF-16-LE encoding is at most ``max_bytes`` each
    (never splitting a character). ``"".join(result) == text``."""
    if max_bytes < 4:
        raise ValueError("max_bytes must be >= 4")
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:
        n = 4 if ord(ch) > 0xFFFF else 2
        if size + n > max_bytes:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += n
    if current or not chunks:
        chunks.append("".join(current))
    return chunks


def secure_backend(backend: Any) -> Any | None:
    """The keyring backend to use, or None when only non-recommended ones exist.

    A chainer is resolved to its highest-priority recommended member (using the chainer itself
    could fall through to a plaintext backend when the secure one errors).
    """
    from keyring.backends.chainer import ChainerBackend

    if isinstance(backend, ChainerBackend):
        members = [b for b in backend.backends if _priority(b) >= 1 and not _plaintext(b)]
        return max(members, key=_priority) if members else None
    if _priority(backend) >= 1 and not _plaintext(backend):
        return backend
    return None


def _priority(backend: Any) -> float:
    try:
        return float(backend.priority)
    except Exception:  # noqa: BLE001 - a backend that cannot say is not viable
        return -1.0


def _plaintext(backend: Any) -> bool:
    # keyrings.alt file backends write to disk whatever priority a config gives them.
    return type(backend).__module__.startswith(("keyrings.alt", "keyring.backends.fail", "keyring.backends.null"))


class KeyringTimeout(Exception):
    """A keyring call did not return within the timeout."""


class TokenStore:
    """The refresh token of one profile (``namespace``, e.g. ``"<user pool id>/<client id>"``).

    ``backend``: a keyring backend to use (tests); None = ``keyring.get_keyring()`` resolved on
    first use. All methods are async and run keyring calls on a dedicated worker thread with a
    ``timeout_s`` (seconds) per call. They never raise for keyring trouble: they fall back to
    memory and set :attr:`status_message`.

    Attributes: ``remembered`` (True when sessions persist across runs; known after the first
    call), ``status_message`` (None, or a sentence for the user).
    """

    def __init__(self, namespace: str, *, backend: Any = None, timeout_s: float = 5.0, service: str = SERVICE):
        if not namespace:
            raise ValueError("namespace must not be empty")
        self.namespace = namespace
        self.service = service
        self.timeout_s = timeout_s
        self._requested_backend = backend
        self._backend: Any = None
        self._resolved = False
        self._memory: StoredSession | None = None
        self.remembered: bool | None = None
        self.status_message: str | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyring")

    @classmethod
    def for_settings(cls, cognito: Any, **kwargs: Any) -> TokenStore:
        """A store for a :class:`presence_desktop.client.profile.CognitoSettings` (one entry per pool+client)."""
        return cls(f"{cognito.user_pool_id}/{cognito.client_id}", **kwargs)

    # --- public -----------------------------------------------------------------------------
    async def load(self) -> StoredSession | None:
        """The remembered session, or None (nothing stored, unreadable, keyring unavailable)."""
        if not await self._ensure_backend():
            return self._memory
        try:
            found = await self._call(self._load_sync)
        except Exception as exc:  # noqa: BLE001
            self._degrade(exc)
            return self._memory
        return found

    async def save(self, username: str, refresh_token: str) -> bool:
        """Remember ``refresh_token`` for ``username``. Returns True if stored in the keyring,
        False if kept in memory only (then :attr:`status_message` says why)."""
        if not username or not refresh_token:
            raise ValueError("username and refresh_token are required")
        self._memory = StoredSession(username, refresh_token)
        if not await self._ensure_backend():
            return False
        try:
            await self._call(self._save_sync, username, refresh_token)
        except Exception as exc:  # noqa: BLE001
            self._degrade(exc)
            return False
        return True

    async def clear(self) -> None:
        """Forget the session (memory and keyring). Keyring trouble is logged, not raised."""
        self._memory = None
        if not await self._ensure_backend():
            return
        try:
            await self._call(self._clear_sync)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not clear the remembered session from the keyring: %s", type(exc).__name__)

    def close(self) -> None:
        """Release the worker thread (does not wait for a hung keyring call)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- plumbing ---------------------------------------------------------------------------
    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._executor, fn, *args)
        try:
            return await asyncio.wait_for(fut, self.timeout_s)
        except TimeoutError:
            raise KeyringTimeout(f"keyring call took longer than {self.timeout_s:g} s") from None

    async def _ensure_backend(self) -> bool:
        if not self._resolved:
            try:
                self._backend = await self._call(self._resolve_sync)
            except Exception as exc:  # noqa: BLE001
                log.warning("keyring unavailable: %s", type(exc).__name__)
                self._backend = None
            self._resolved = True
            self.remembered = self._backend is not None
            if self._backend is None:
                self.status_message = NOT_REMEMBERED_NO_KEYRING
        return self._backend is not None

    def _degrade(self, exc: BaseException) -> None:
        log.warning("keyring call failed (%s); keeping the session in memory only", type(exc).__name__)
        self.remembered = False
        self.status_message = NOT_REMEMBERED_KEYRING_FAILED

    def _resolve_sync(self) -> Any:
        if self._requested_backend is not None:
            backend = self._requested_backend
        else:
            import keyring

            backend = keyring.get_keyring()
        chosen = secure_backend(backend)
        log.info("keyring backend: %s", type(chosen).__name__ if chosen else f"none secure ({type(backend).__name__})")
        return chosen

    def _index_key(self) -> str:
        return self.namespace

    def _chunk_key(self, gen: str, i: int) -> str:
        return f"{self.namespace}#{gen}#{i}"

    def _read_index(self) -> dict | None:
        raw = self._backend.get_password(self.service, self._index_key())
        if not raw:
            return None
        try:
            index = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(index, dict) or index.get("v") != _FORMAT_VERSION:
            return None
        return index

    def _load_sync(self) -> StoredSession | None:
        index = self._read_index()
        if index is None:
            return None
        n, gen, user = index.get("n"), index.get("gen"), index.get("user")
        if (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_CHUNKS
                or not isinstance(gen, str) or not gen or not isinstance(user, str) or not user):
            log.warning("remembered session entry is damaged; ignoring it")
            return None
        parts = [self._backend.get_password(self.service, self._chunk_key(gen, i)) for i in range(n)]
        if any(not isinstance(p, str) for p in parts):
            log.warning("remembered session is incomplete; ignoring it")
            return None
        token = "".join(parts)  # type: ignore[arg-type]
        if hashlib.sha256(token.encode("utf-8")).hexdigest() != index.get("sha256"):
            log.warning("remembered session is incomplete; ignoring it")
            return None
        return StoredSession(user, token)

    def _save_sync(self, username: str, refresh_token: str) -> None:
        old = self._read_index()
        gen = secrets.token_hex(4)
        chunks = split_utf16(refresh_token)
        if len(chunks) > MAX_CHUNKS:
            raise ValueError(f"refresh token longer than {MAX_CHUNKS} keyring entries")
        for i, chunk in enumerate(chunks):
            self._backend.set_password(self.service, self._chunk_key(gen, i), chunk)
        index = {"v": _FORMAT_VERSION, "user": username, "gen": gen, "n": len(chunks),
                 "sha256": hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()}
        self._backend.set_password(self.service, self._index_key(), json.dumps(index, separators=(",", ":")))
        if old is not None and old.get("gen") != gen:
            self._delete_chunks(old)

    def _clear_sync(self) -> None:
        index = self._read_index()
        if index is not None:
            self._delete_chunks(index)
        self._delete(self._index_key())

    def _delete_chunks(self, index: dict) -> None:
        try:
            n = int(index.get("n", 0))
        except (TypeError, ValueError):
            return
        for i in range(min(n, MAX_CHUNKS)):
            self._delete(self._chunk_key(str(index.get("gen")), i))

    def _delete(self, key: str) -> None:
        from keyring.errors import PasswordDeleteError

        try:
            self._backend.delete_password(self.service, key)
        except PasswordDeleteError:
            pass
