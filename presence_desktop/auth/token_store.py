"""Remembering a session: the refresh token (and the username it belongs to) in the OS keyring,
and beside it the id and access tokens of the last sign-in or refresh while they are valid.

Why the id and access tokens too: a restart within their lifetime (an hour) then opens the roster
without a Cognito refresh, i.e. without loading botocore's Cognito client at start-up (its
service model is most of the sign-in's import weight; bench/README.md, figures 4 and 5); the
session refreshes when they are due, as a running app does. They are no more secret than the
refresh token kept in the same keyring (which mints them), and shorter-lived. Rules:

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
- The id and access tokens are kept under the same rules (keyring only, chunked, hashed in
  the index, written before the index) with the wall-clock time they were received and their
  lifetime; the index stays version 1 (an older app reads the refresh token and ignores them).
- Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from presence_desktop.domain.compact_json import compact_json

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
class LiveTokens:
    """The id and access tokens of the last sign-in or refresh, as remembered: ``obtained_wall``
    = this computer's clock (epoch seconds) when Cognito's answer arrived, ``lifetime_s`` = the
    ``ExpiresIn`` it gave. ``repr`` hides the tokens."""

    id_token: str
    access_token: str
    obtained_wall: float
    lifetime_s: float

    def __repr__(self) -> str:
        return f"LiveTokens(<hidden>, obtained_wall={self.obtained_wall:.0f}, lifetime_s={self.lifetime_s:g})"


@dataclass(frozen=True)
class StoredSession:
    """What is remembered between runs. ``repr`` hides the tokens. ``live``: the id and access
    tokens beside the refresh token (None: only the refresh token was kept)."""

    username: str
    refresh_token: str
    live: LiveTokens | None = None

    def __repr__(self) -> str:
        return (f"StoredSession(username={self.username!r}, refresh_token=<{len(self.refresh_token)} chars>, "
                f"live={self.live!r})")


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


def _settle(fut: asyncio.Future, result: Any, exc: BaseException | None) -> None:
    if fut.done():  # timed out and cancelled meanwhile
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


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

    def __init__(self, namespace: str, *, backend: Any = None, timeout_s: float = 5.0, service: str = SERVICE,
                 profile: str | None = None):
        if not namespace:
            raise ValueError("namespace must not be empty")
        self.namespace = namespace
        # The profile this entry belongs to: when the profile's pool or app client changes, the
        # namespace changes, and the old entry (a refresh token nobody can use any more) is
        # removed instead of staying in the keyring for ever.
        self.profile = profile
        self._replaced_checked = False
        self.service = service
        self.timeout_s = timeout_s
        self._requested_backend = backend
        self._backend: Any = None
        self._resolved = False
        self._memory: StoredSession | None = None
        self.remembered: bool | None = None
        self.status_message: str | None = None
        self.timed_out = False  # a keyring call did not answer within timeout_s (a hung or locked keyring)
        self._lock = threading.Lock()  # one keyring call at a time, as with a single worker
        self._calls = 0

    @classmethod
    def for_settings(cls, cognito: Any, **kwargs: Any) -> TokenStore:
        """A store for a :class:`presence_desktop.client.profile.CognitoSettings` (one entry per
        pool+client); pass ``profile=<name>`` so an entry its old pool or client left is removed."""
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

    async def save(self, username: str, refresh_token: str, live: LiveTokens | None = None) -> bool:
        """Remember ``refresh_token`` for ``username`` (and ``live``, the current id and access
        tokens, if given). Returns True if stored in the keyring, False if kept in memory only
        (then :attr:`status_message` says why)."""
        if not username or not refresh_token:
            raise ValueError("username and refresh_token are required")
        self._memory = StoredSession(username, refresh_token, live)
        if not await self._ensure_backend():
            return False
        try:
            await self._call(self._save_sync, username, refresh_token, live)
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
        """Nothing to release: each keyring call runs on a daemon thread of its own that ends
        with the call (kept for callers that close stores)."""

    # --- plumbing ---------------------------------------------------------------------------
    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a daemon thread, one at a time. A pool's idle worker is not a daemon:
        it held every exit of the app (the interpreter joins such threads), which then had to
        leave through os._exit; a keyring call that hangs must not hold it either."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()

        def run() -> None:
            result: Any = None
            error: BaseException | None = None
            try:
                with self._lock:
                    result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                error = exc
            try:
                loop.call_soon_threadsafe(_settle, fut, result, error)
            except RuntimeError:  # the loop is gone (a hung call that ended after the app)
                pass

        self._calls += 1
        threading.Thread(target=run, name=f"keyring_{self._calls}", daemon=True).start()
        try:
            return await asyncio.wait_for(fut, self.timeout_s)
        except TimeoutError:
            self.timed_out = True
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

    def _live_key(self, gen: str, i: int) -> str:
        return f"{self.namespace}#{gen}#t{i}"

    def _read_chunks(self, key: Callable[[str, int], str], gen: str, n: Any, sha256: Any) -> str | None:
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_CHUNKS:
            return None
        parts = [self._backend.get_password(self.service, key(gen, i)) for i in range(n)]
        if any(not isinstance(p, str) for p in parts):
            return None
        text = "".join(parts)
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != sha256:
            return None
        return text

    def _write_chunks(self, key: Callable[[str, int], str], gen: str, text: str) -> dict[str, Any]:
        chunks = split_utf16(text)
        if len(chunks) > MAX_CHUNKS:
            raise ValueError(f"token longer than {MAX_CHUNKS} keyring entries")
        for i, chunk in enumerate(chunks):
            self._backend.set_password(self.service, key(gen, i), chunk)
        return {"n": len(chunks), "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}

    def _read_live(self, index: dict, gen: str) -> LiveTokens | None:
        live = index.get("live")
        if not isinstance(live, dict):
            return None
        t, lifetime = live.get("t"), live.get("l")
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (t, lifetime)):
            return None
        text = self._read_chunks(self._live_key, gen, live.get("n"), live.get("sha256"))
        id_token, _, access_token = (text or "").partition(" ")
        if not id_token or not access_token:
            if text is not None or live.get("n"):
                log.info("remembered id/access tokens are incomplete; the session will be refreshed")
            return None
        return LiveTokens(id_token, access_token, float(t), float(lifetime))  # type: ignore[arg-type]

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

    def _forget_replaced_sync(self) -> None:
        """Once per store: if this profile's last entry was under another namespace (its app
        client id or pool changed), delete that entry and record the current namespace."""
        if self.profile is None or self._replaced_checked:
            return
        self._replaced_checked = True
        key = f"profile:{self.profile}"
        previous = self._backend.get_password(self.service, key)
        if previous and previous != self.namespace:
            old = TokenStore(previous, backend=self._backend, service=self.service)
            old._backend = self._backend
            old._clear_sync()
            log.info("removed the remembered session of profile %s's previous app client", self.profile)
        if previous != self.namespace:
            self._backend.set_password(self.service, key, self.namespace)

    def _load_sync(self) -> StoredSession | None:
        self._forget_replaced_sync()
        index = self._read_index()
        if index is None:
            return None
        n, gen, user = index.get("n"), index.get("gen"), index.get("user")
        if (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_CHUNKS
                or not isinstance(gen, str) or not gen or not isinstance(user, str) or not user):
            log.warning("remembered session entry is damaged; ignoring it")
            return None
        token = self._read_chunks(self._chunk_key, gen, n, index.get("sha256"))
        if token is None:
            log.warning("remembered session is incomplete; ignoring it")
            return None
        return StoredSession(user, token, self._read_live(index, gen))

    def _save_sync(self, username: str, refresh_token: str, live: LiveTokens | None = None) -> None:
        self._forget_replaced_sync()
        old = self._read_index()
        gen = secrets.token_hex(4)
        index: dict[str, Any] = {"v": _FORMAT_VERSION, "user": username, "gen": gen,
                                 **self._write_chunks(self._chunk_key, gen, refresh_token)}
        if live is not None:
            # JWTs never contain a space: one secret holds both, split back at the space.
            index["live"] = {**self._write_chunks(self._live_key, gen, f"{live.id_token} {live.access_token}"),
                             "t": round(live.obtained_wall, 3), "l": live.lifetime_s}
        self._backend.set_password(self.service, self._index_key(), compact_json(index))
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
        live = index.get("live")
        if isinstance(live, dict):
            try:
                k = int(live.get("n", 0))
            except (TypeError, ValueError):
                return
            for i in range(min(k, MAX_CHUNKS)):
                self._delete(self._live_key(str(index.get("gen")), i))

    def _delete(self, key: str) -> None:
        from keyring.errors import PasswordDeleteError

        try:
            self._backend.delete_password(self.service, key)
        except PasswordDeleteError:
            pass
