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
