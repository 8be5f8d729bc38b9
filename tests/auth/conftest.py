"""Helpers for the sign-in tests: fresh users and sessions against the local Cognito."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from presence_desktop.auth.session import AuthSession
from presence_desktop.auth.token_store import TokenStore
from presence_desktop.devstack.cognito import DemoUser, LocalCognito
from tests.auth.memkeyring import MemoryKeyring


@pytest.fixture
def keyring_backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def new_user(local_cognito: LocalCognito) -> Callable[..., DemoUser]:
    """``new_user(temporary=False, groups=("support_agents",), team_id="team-1", enabled=True)``:
    a user no other test touches."""

    def make(**kw: Any) -> DemoUser:
        kw.setdefault("groups", ("support_agents",))
        kw.setdefault("team_id", "team-1")
        return local_cognito.create_user(f"t-{uuid.uuid4().hex[:10]}", **kw)

    return make


@pytest.fixture
def make_session(local_cognito: LocalCognito, keyring_backend: MemoryKeyring) -> Iterator[Callable[..., AuthSession]]:
    """``make_session(settings=None, backend=<the test's MemoryKeyring>, **AuthSession kwargs)``."""
    stores: list[TokenStore] = []

    def make(settings: Any = None, backend: Any = None, **kw: Any) -> AuthSession:
        settings = settings or local_cognito.cognito_settings()
        store = TokenStore.for_settings(settings, backend=backend or keyring_backend)
        stores.append(store)
        return AuthSession(settings, store, **kw)

    yield make
    for store in stores:
        store.close()
