"""Sign-in under hostile conditions: a sign-out while Cognito hangs, damaged keyring entries."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from presence_desktop.auth.session import SignedIn
from presence_desktop.auth.token_store import TokenStore
from tests.auth.memkeyring import MemoryKeyring


@pytest.fixture
async def hanging_endpoint():
    """An HTTP endpoint on 127.0.0.1 that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        for w in held:
            w.close()
        server.close()


async def test_sign_out_forgets_the_remembered_session_before_the_network_answers(
    make_session, new_user, keyring_backend, hanging_endpoint
):
    u = new_user()
    session = make_session(read_timeout_s=20.0)
    assert isinstance(await session.sign_in(u.username, u.password), SignedIn)
    assert keyring_backend.entries
    # The network goes bad: Cognito accepts the connection and never answers.
    session.settings = session.settings.model_copy(update={"endpoint": hanging_endpoint})
    session._boto = None  # the client is made from the settings on next use
    task = asyncio.create_task(session.sign_out())
    try:
        deadline = time.monotonic() + 3.0
        while keyring_backend.entries and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # If the app quits now (the user gave up waiting), the next start must not restore it.
        assert not keyring_backend.entries, "refresh token still in the keyring while GlobalSignOut hangs"
        assert not task.done()
        assert not session.signed_in
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await make_session().restore() is None


def _index_key(backend: MemoryKeyring) -> tuple[str, str]:
    return next(k for k in backend.entries if "#" not in k[1])


@pytest.mark.parametrize(
    "damage",
    [
        {"n": 10**7},  # a damaged chunk count must not keep the keyring thread busy for minutes
        {"n": -1},
        {"n": True},
        {"user": None},  # the chunks still hash right, the owner is gone
        {"user": ""},
        {"gen": None},
    ],
    ids=["n-huge", "n-negative", "n-bool", "user-missing", "user-empty", "gen-missing"],
)
async def test_a_damaged_index_means_sign_in_again_and_the_keyring_stays_usable(damage):
    backend = MemoryKeyring()
    store = TokenStore("ns", backend=backend, timeout_s=2.0)
    token = "r" * 2500
    await store.save("agent-1", token)
    key = _index_key(backend)
    index = json.loads(backend.entries[key])
    for name, value in damage.items():
        if value is None:
            index.pop(name)
        else:
            index[name] = value
    backend.entries[key] = json.dumps(index)
    started = time.monotonic()
    assert await store.load() is None
    assert time.monotonic() - started < 1.0
    assert store.status_message is None and store.remembered is True  # the keyring itself is fine
    # and it keeps working: the next sign-in is remembered again
    assert await store.save("agent-1", token) is True
    assert (await store.load()).refresh_token == token
    store.close()


async def test_restore_with_a_missing_chunk_or_bad_checksum_says_sign_in_again(make_session, new_user, keyring_backend):
    u = new_user()
    assert isinstance(await make_session().sign_in(u.username, u.password), SignedIn)
    saved = dict(keyring_backend.entries)
    chunk = next(k for k in saved if "#" in k[1])
    del keyring_backend.entries[chunk]
    assert await make_session().restore() is None
    keyring_backend.entries.clear()
    keyring_backend.entries.update(saved)
    key = _index_key(keyring_backend)
    keyring_backend.entries[key] = json.dumps({**json.loads(saved[key]), "sha256": "0" * 64})
    assert await make_session().restore() is None


@pytest.mark.parametrize("admin_action", ["admin_disable_user", "admin_delete_user"])
async def test_refresh_after_the_user_is_disabled_or_deleted_ends_the_session(
    make_session, local_cognito, new_user, keyring_backend, admin_action
):
    from presence_desktop.auth import errors as E

    u = new_user()
    session = make_session()
    assert isinstance(await session.sign_in(u.username, u.password), SignedIn)
    remembered = dict(keyring_backend.entries)
    getattr(local_cognito.admin_client(), admin_action)(UserPoolId=local_cognito.user_pool_id, Username=u.username)
    # Cognito refuses REFRESH_TOKEN_AUTH for a disabled or deleted user (NotAuthorizedException).
    with pytest.raises(E.SessionExpiredError):
        await session.force_refresh()
    assert not keyring_backend.entries
    keyring_backend.entries.update(remembered)
    # A restart once the remembered id token is due for a refresh: "sign in again", and forgotten.
    # (Within its lifetime the restart uses it, as a running app would, until its refresh:
    # test_session.py, test_a_revoked_session_restored_within_the_token_lifetime_ends_at_its_refresh.)
    assert await make_session(wall_clock=lambda: time.time() + 3400).restore() is None
    assert not keyring_backend.entries


async def test_a_token_echoed_in_a_cognito_error_message_is_not_logged(make_session, local_cognito, new_user, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    u = new_user()
    session = make_session()
    assert isinstance(await session.sign_in(u.username, u.password), SignedIn)
    access, refresh = session._tokens.access_token, session._tokens.refresh_token
    # Revoked elsewhere (an admin, another window): moto answers GlobalSignOut with the token
    # itself as the error message, and a server's message must never carry a token into our logs.
    local_cognito.admin_client().admin_user_global_sign_out(UserPoolId=local_cognito.user_pool_id, Username=u.username)
    assert await session.sign_out() is False
    assert caplog.records
    for secret in (access, refresh):
        for piece in (secret[:40], secret[-40:]):
            assert piece not in caplog.text
