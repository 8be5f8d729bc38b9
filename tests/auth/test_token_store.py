"""The refresh-token store: split entries (Windows 2,560-byte limit), secure backends only,
never on the event loop thread, timeouts, nothing on disk without a secure keyring."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
from pathlib import Path

import keyring
import pytest
from keyring.backends import chainer, fail, null

from presence_desktop.auth.token_store import (
    MAX_CHUNK_UTF16_BYTES,
    NOT_REMEMBERED_NO_KEYRING,
    LiveTokens,
    StoredSession,
    TokenStore,
    secure_backend,
    split_utf16,
)
from tests.auth.memkeyring import WINDOWS_MAX_BLOB, MemoryKeyring


def _token(n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    return "".join(secrets.choice(alphabet) for _ in range(n))


async def test_4000_char_token_round_trips_exactly_under_the_windows_limit() -> None:
    backend = MemoryKeyring()
    token = _token(4000)
    store = TokenStore("pool/client", backend=backend)
    assert await store.save("agent-1", token) is True
    assert store.remembered is True and store.status_message is None
    for value in backend.entries.values():
        assert len(value.encode("utf-16-le")) <= WINDOWS_MAX_BLOB
    assert len(backend.entries) >= 3  # index + at least two chunks
    # a new store (a restart) reads it back
    again = TokenStore("pool/client", backend=backend)
    assert await again.load() == StoredSession("agent-1", token)
    store.close(), again.close()


async def test_the_limit_is_real_in_the_fake_backend() -> None:
    # Guards the test above: one 4,000-char secret is refused as Windows refuses it.
    with pytest.raises(keyring.errors.PasswordSetError):
        MemoryKeyring().set_password("s", "u", _token(4000))


@pytest.mark.parametrize("text", ["", "a", "x" * 1000, "x" * 1001, "é" * 2500, "😀" * 1200 + "z", "ab😀" * 700])
def test_split_utf16_keeps_every_character_and_the_byte_limit(text: str) -> None:
    chunks = split_utf16(text)
    assert "".join(chunks) == text
    assert all(len(c.encode("utf-16-le")) <= MAX_CHUNK_UTF16_BYTES for c in chunks)


async def test_save_replaces_old_chunks_and_clear_removes_everything() -> None:
    backend = MemoryKeyring()
    store = TokenStore("ns", backend=backend)
    await store.save("agent-1", _token(4000))
    n_first = len(backend.entries)
    await store.save("agent-2", _token(1500))
    assert len(backend.entries) < n_first  # the first token's chunks are gone
    loaded = await store.load()
    assert loaded is not None and loaded.username == "agent-2" and len(loaded.refresh_token) == 1500
    await store.clear()
    assert backend.entries == {}
    assert await store.load() is None
    store.close()


async def test_profiles_do_not_share_entries() -> None:
    backend = MemoryKeyring()
    a, b = TokenStore("pool-a/c", backend=backend), TokenStore("pool-b/c", backend=backend)
    await a.save("u1", "token-a")
    assert await b.load() is None
    await b.save("u2", "token-b")
    assert (await a.load()).refresh_token == "token-a"
    a.close(), b.close()


async def test_a_damaged_entry_is_ignored() -> None:
    backend = MemoryKeyring()
    store = TokenStore("ns", backend=backend)
    await store.save("agent-1", _token(3000))
    chunk_key = next(k for k in backend.entries if "#" in k[1])
    backend.entries[chunk_key] = backend.entries[chunk_key][:-1] + "!"
    assert await store.load() is None
    store.close()


def _live(obtained: float = 1_800_000_000.5) -> LiveTokens:
    return LiveTokens(f"eyJ.{_token(1200)}.sig", f"eyJ.{_token(1100)}.sig", obtained, 3600.0)


async def test_id_and_access_tokens_round_trip_beside_the_refresh_token_under_the_windows_limit() -> None:
    backend = MemoryKeyring()
    store = TokenStore("ns", backend=backend)
    live, refresh = _live(), _token(1800)
    assert await store.save("agent-1", refresh, live) is True
    for value in backend.entries.values():
        assert len(value.encode("utf-16-le")) <= WINDOWS_MAX_BLOB
    again = TokenStore("ns", backend=backend)
    assert await again.load() == StoredSession("agent-1", refresh, live)
    # repr never shows a token
    shown = repr(await again.load())
    assert live.id_token not in shown and live.access_token not in shown and refresh not in shown
    # a save without them (an older caller) leaves none behind; clear removes every chunk
    await store.save("agent-1", refresh, live)
    await store.save("agent-1", refresh)
    assert (await store.load()).live is None
    assert not any("#t" in key for _, key in backend.entries)
    await store.save("agent-1", refresh, live)
    await store.clear()
    assert backend.entries == {}
    store.close(), again.close()


async def test_an_entry_an_older_app_wrote_loads_with_the_refresh_token_only() -> None:
    backend = MemoryKeyring()
    store = TokenStore("ns", backend=backend)
    await store.save("agent-1", "refresh-1")
    index = json.loads(backend.entries[("presence-desktop", "ns")])
    assert index["v"] == 1 and "live" not in index  # the index format an older app reads
    assert await store.load() == StoredSession("agent-1", "refresh-1", None)
    await store.save("agent-1", "refresh-1", _live())
    assert json.loads(backend.entries[("presence-desktop", "ns")])["v"] == 1  # still readable by it
    store.close()


async def test_damaged_id_and_access_tokens_leave_the_refresh_token_usable() -> None:
    backend = MemoryKeyring()
    store = TokenStore("ns", backend=backend)
    await store.save("agent-1", "refresh-1", _live())
    key = next(k for k in backend.entries if "#t" in k[1])
    backend.entries[key] = backend.entries[key][:-1] + "!"
    assert await store.load() == StoredSession("agent-1", "refresh-1", None)
    del backend.entries[key]
    assert await store.load() == StoredSession("agent-1", "refresh-1", None)
    store.close()


async def test_keyring_calls_never_run_on_the_event_loop_thread() -> None:
    backend = MemoryKeyring()
    store = TokenStore("ns", backend=backend)
    await store.save("agent-1", "tok")
    await store.load()
    await store.clear()
    assert backend.calls > 0
    assert threading.get_ident() not in backend.threads
    store.close()


async def test_a_hanging_keyring_times_out_without_blocking_the_loop() -> None:
    backend = MemoryKeyring(delay_s=2.0)
    store = TokenStore("ns", backend=backend, timeout_s=0.2)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    saved = await store.save("agent-1", "tok")
    elapsed = time.monotonic() - started
    task.cancel()
    assert saved is False
    assert elapsed < 1.5
    assert ticks >= 3  # the loop kept running while the keyring hung
    assert store.remembered is False and "not be remembered" in store.status_message
    assert (await store.load()) == StoredSession("agent-1", "tok")  # kept in memory for this run
    store.close()


@pytest.mark.parametrize("backend_name", ["fail", "null", "plaintext", "chainer-of-insecure", "default"])
async def test_no_secure_backend_keeps_the_session_in_memory_and_writes_nothing(
    backend_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyrings.alt.file import PlaintextKeyring

    for var in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    plaintext = PlaintextKeyring()
    plaintext.file_path = str(tmp_path / "plain" / "keyring_pass.cfg")  # where it *would* write
    backend = {
        "fail": fail.Keyring(),
        "null": null.Keyring(),
        "plaintext": plaintext,
        "chainer-of-insecure": None,
        "default": None,
    }[backend_name]
    if backend_name == "chainer-of-insecure":
        monkeypatch.setattr(chainer.ChainerBackend, "backends", [plaintext, null.Keyring()])
        backend = chainer.ChainerBackend()
    previous = keyring.get_keyring()
    if backend_name == "default":
        # the process-wide keyring, as keyring picks it on a headless machine with keyrings.alt
        keyring.set_keyring(plaintext)
    try:
        store = TokenStore("ns", backend=backend)
        token = _token(2000)
        assert await store.save("agent-1", token) is False
        assert store.remembered is False
        assert store.status_message == NOT_REMEMBERED_NO_KEYRING
        assert (await store.load()) == StoredSession("agent-1", token)
        await store.clear()
        assert await store.load() is None
        store.close()
    finally:
        keyring.set_keyring(previous)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [], f"files written: {written}"
    # and the plaintext backend, asked directly, holds nothing
    assert plaintext.get_password("presence-desktop", "ns") is None


def test_secure_backend_resolution() -> None:
    mem = MemoryKeyring()
    assert secure_backend(mem) is mem
    assert secure_backend(fail.Keyring()) is None
    assert secure_backend(null.Keyring()) is None


async def test_tokens_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend = MemoryKeyring()
    token = _token(3000)
    store = TokenStore("ns", backend=backend)
    await store.save("agent-1", token)
    loaded = await store.load()
    assert token[:40] not in caplog.text and token[-40:] not in caplog.text
    assert token not in repr(loaded)
    store.close()


def _exit_holders() -> list[str]:
    """Threads the interpreter would join at exit (what made the app leave through os._exit)."""
    return [t.name for t in threading.enumerate()
            if t is not threading.main_thread() and t.is_alive() and not t.daemon and t.name.startswith("keyring")]


async def test_a_store_leaves_no_thread_that_holds_the_exit_idle_or_hung() -> None:
    """Every quit went through os._exit ("leaving with 1 busy worker thread(s): keyring_0"): the
    store's idle pool worker, never shut down for stores nobody closed, was a non-daemon thread."""
    store = TokenStore("ns", backend=MemoryKeyring())  # never closed, as an abandoned sign-in's store
    await store.save("agent-1", "tok")
    assert (await store.load()) == StoredSession("agent-1", "tok")
    await asyncio.sleep(0.05)
    assert _exit_holders() == []
    hung = TokenStore("ns2", backend=MemoryKeyring(delay_s=2.0), timeout_s=0.1)
    assert await hung.save("agent-1", "tok") is False  # timed out
    assert _exit_holders() == []  # the hung call's thread does not hold the exit either


async def test_a_profile_whose_app_client_changed_leaves_no_old_refresh_token() -> None:
    """The entry is keyed by pool/client: after the profile's app client id changed, the old
    refresh token stayed in the keyring for ever."""
    backend = MemoryKeyring()
    old = TokenStore("pool-1/client-old", backend=backend, profile="aws")
    await old.save("agent-1", "old-refresh-token" * 50)
    assert any("client-old" in key for (_svc, key) in backend.entries)
    new = TokenStore("pool-1/client-new", backend=backend, profile="aws")
    assert await new.load() is None
    assert not any("client-old" in key for (_svc, key) in backend.entries)
    assert "old-refresh-token" not in "".join(backend.entries.values())
    await new.save("agent-1", "new-token")
    other = TokenStore("pool-9/client-9", backend=backend, profile="another")  # other profiles untouched
    await other.save("agent-2", "t2")
    assert (await TokenStore("pool-1/client-new", backend=backend, profile="aws").load()) == StoredSession("agent-1", "new-token")
    assert (await other.load()) == StoredSession("agent-2", "t2")
