"""AuthSession against the local Cognito (real SRP check): sign-in, challenges, errors,
refresh, clock skew, sign-out, remembered sessions."""

from __future__ import annotations

import asyncio
import base64
import locale
import logging
import time
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from presence_desktop.auth import errors as E
from presence_desktop.auth.session import (
    MfaSetupRequired,
    NewPasswordRequired,
    SignedIn,
    SmsMfaRequired,
    TotpRequired,
    cognito_timestamp,
)
from presence_desktop.client.profile import CognitoSettings
from presence_desktop.devstack.cognito import LocalCognito


def totp_code(secret: str, at: float | None = None) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    return TOTP(key, 6, SHA1(), 30, enforce_key_length=False).generate(at or time.time()).decode()


class FakeClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


def unverified(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


# --- sign-in ---------------------------------------------------------------------------------

async def test_right_password_signs_in_and_id_token_carries_groups(make_session, local_cognito, keyring_backend):
    session = make_session()
    user = local_cognito.user("sup-1")
    result = await session.sign_in("sup-1", user.password)
    assert isinstance(result, SignedIn)
    assert result.remembered is True and result.note is None
    assert session.claims.groups == ("supervisors",) and session.claims.team_id == "team-1"
    token = await session.id_token()
    assert unverified(token)["cognito:groups"] == ["supervisors"]
    assert unverified(await session.access_token())["token_use"] == "access"
    assert 3000 < session.seconds_until_expiry() <= 3600
    index = keyring_backend.entries[("presence-desktop", f"{local_cognito.user_pool_id}/{local_cognito.client_id}")]
    assert '"user":"sup-1"' in index


async def test_wrong_password_is_refused_and_nothing_is_stored(make_session, local_cognito, keyring_backend):
    session = make_session()
    with pytest.raises(E.WrongCredentialsError) as err:
        await session.sign_in("agent-1", "Not-The-Password-1!")
    assert err.value.message == "Wrong username or password."
    assert not session.signed_in
    assert keyring_backend.entries == {}
    with pytest.raises(E.NotSignedInError):
        await session.id_token()


async def test_unknown_user_gets_the_same_message(make_session):
    with pytest.raises(E.WrongCredentialsError) as err:
        await make_session().sign_in("nobody-here", "Whatever-1!")
    assert err.value.message == "Wrong username or password."


async def test_disabled_user(make_session, new_user):
    u = new_user(enabled=False)
    with pytest.raises(E.UserDisabledError):
        await make_session().sign_in(u.username, u.password)


async def test_unconfirmed_user(make_session, local_cognito):
    import uuid

    name = f"t-{uuid.uuid4().hex[:10]}"
    local_cognito.admin_client().sign_up(ClientId=local_cognito.client_id, Username=name, Password="Signup-pass-1!")
    with pytest.raises(E.UserNotConfirmedError):
        await make_session().sign_in(name, "Signup-pass-1!")


async def test_password_reset_required(make_session, local_cognito, new_user):
    u = new_user(attributes={"email": "reset@example.com", "email_verified": "true"})
    local_cognito.admin_client().admin_reset_user_password(UserPoolId=local_cognito.user_pool_id, Username=u.username)
    with pytest.raises(E.PasswordResetRequiredError):
        await make_session().sign_in(u.username, u.password)


async def test_throttled(make_session):
    session = make_session()
    with Stubber(session._client()) as stub:
        stub.add_client_error("initiate_auth", "TooManyRequestsException", "Rate exceeded", 400)
        with pytest.raises(E.ThrottledError) as err:
            await session.sign_in("agent-1", "Whatever-1!")
    assert "Wait" in err.value.message


async def test_network_down(make_session, local_cognito):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = local_cognito.cognito_settings().model_copy(update={"endpoint": f"http://127.0.0.1:{port}"})
    with pytest.raises(E.NetworkError) as err:
        await make_session(settings=settings).sign_in("agent-1", "Whatever-1!")
    assert "network" in err.value.message


async def test_sign_in_does_not_block_the_event_loop(make_session, local_cognito):
    session = make_session()
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await session.sign_in("agent-3", local_cognito.user("agent-3").password)
    task.cancel()
    assert len(gaps) >= 3  # the loop ran during the sign-in
    # GIL-bound 3072-bit pow calls cause short hitches, never the whole sign-in (~100+ ms)
    assert max(gaps) < 2.0


# --- challenges --------------------------------------------------------------------------------

async def test_temporary_password_then_new_password_then_signed_in(make_session, new_user):
    u = new_user(temporary=True)
    session = make_session()
    result = await session.sign_in(u.username, u.password)
    assert isinstance(result, NewPasswordRequired) and result.username == u.username
    assert not session.signed_in
    with pytest.raises(E.InvalidNewPasswordError):
        await session.respond_new_password("short")
    result = await session.respond_new_password("Brand-new-pass-9!")
    assert isinstance(result, SignedIn) and session.claims.username == u.username
    # the new password is now the password, the temporary one is not
    with pytest.raises(E.WrongCredentialsError):
        await make_session().sign_in(u.username, u.password)
    assert isinstance(await make_session().sign_in(u.username, "Brand-new-pass-9!"), SignedIn)


async def _enable_totp(local_cognito: LocalCognito, username: str, password: str) -> str:
    from tests.fixtures.cognito import srp_sign_in

    idp = local_cognito.admin_client()
    access = srp_sign_in(local_cognito, username, password)["access_token"]
    secret = idp.associate_software_token(AccessToken=access)["SecretCode"]
    idp.verify_software_token(AccessToken=access, UserCode=totp_code(secret))
    idp.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return secret


async def test_totp_bad_code_then_good_code(make_session, local_cognito, new_user):
    u = new_user()
    secret = await _enable_totp(local_cognito, u.username, u.password)
    session = make_session()
    result = await session.sign_in(u.username, u.password)
    assert isinstance(result, TotpRequired)
    good = totp_code(secret)
    bad = "000000" if good != "000000" else "111111"
    with pytest.raises(E.InvalidCodeError):
        await session.respond_totp(bad)
    assert not session.signed_in
    result = await session.respond_totp(totp_code(secret))
    assert isinstance(result, SignedIn) and session.claims.username == u.username


async def test_sms_mfa_challenge_is_typed(make_session, local_cognito, new_user):
    # moto does not send or check SMS codes: this shows the typed challenge and its answer path.
    u = new_user()
    local_cognito.admin_client().admin_set_user_mfa_preference(
        UserPoolId=local_cognito.user_pool_id, Username=u.username,
        SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    session = make_session()
    result = await session.sign_in(u.username, u.password)
    assert isinstance(result, SmsMfaRequired)
    with pytest.raises(E.ChallengeExpiredError):
        await session.respond_totp("123456")  # answering a challenge that was not asked
    assert isinstance(await session.respond_sms("123456"), SignedIn)


async def test_mfa_setup_required_is_handled(make_session, local_cognito):
    # A pool with MFA required and TOTP enabled: first sign-in must set up TOTP.
    # (pycognito itself crashes here with KeyError 'AuthenticationResult'.)
    idp = local_cognito.admin_client()
    pool_id = idp.create_user_pool(PoolName="mfa-required", Policies={"PasswordPolicy": {"MinimumLength": 8}})["UserPool"]["Id"]
    idp.set_user_pool_mfa_config(UserPoolId=pool_id, SoftwareTokenMfaConfiguration={"Enabled": True},
                                 MfaConfiguration="ON")
    client_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="c", GenerateSecret=False,
                                            ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool_id, Username="mfa-user", TemporaryPassword="Mfa-pass-123!", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool_id, Username="mfa-user", Password="Mfa-pass-123!", Permanent=True)
    settings = CognitoSettings(region="us-east-1", user_pool_id=pool_id, client_id=client_id,
                               endpoint=local_cognito.endpoint,
                               jwks_url=f"{local_cognito.endpoint}/{pool_id}/.well-known/jwks.json")
    session = make_session(settings=settings)
    with pytest.raises(E.WrongCredentialsError):
        await session.sign_in("mfa-user", "Wrong-pass-123!")
    result = await session.sign_in("mfa-user", "Mfa-pass-123!")
    assert isinstance(result, MfaSetupRequired) and "SOFTWARE_TOKEN_MFA" in result.options
    setup = await session.begin_totp_setup()
    assert setup.uri.startswith("otpauth://totp/") and "secret=" in setup.uri and "hidden" in repr(setup)
    with pytest.raises(E.InvalidCodeError):
        await session.respond_totp_setup("000000" if totp_code(setup.secret) != "000000" else "111111")
    result = await session.respond_totp_setup(totp_code(setup.secret))
    assert isinstance(result, SignedIn) and session.claims.username == "mfa-user"


# --- tokens: refresh, clock skew ---------------------------------------------------------------

async def test_refresh_after_expiry(make_session, local_cognito):
    clock = FakeClock()
    session = make_session(monotonic=clock)
    await session.sign_in("agent-4", local_cognito.user("agent-4").password)
    first_id, first_access = await session.id_token(), await session.access_token()
    assert session.refresh_count == 0
    clock.offset = 3600 + 10  # past expiry
    new_id = await session.id_token()
    assert session.refresh_count == 1
    assert new_id != first_id and await session.access_token() != first_access
    assert unverified(new_id)["jti"] != unverified(first_id)["jti"]
    assert session.seconds_until_expiry() > 3000
    assert await session.id_token() == new_id and session.refresh_count == 1


async def test_refresh_before_expiry_within_margin_and_once_for_concurrent_callers(make_session, local_cognito):
    clock = FakeClock()
    session = make_session(monotonic=clock, refresh_margin_s=300)
    await session.sign_in("agent-5", local_cognito.user("agent-5").password)
    clock.offset = 3600 - 400
    await session.id_token()
    assert session.refresh_count == 0
    clock.offset = 3600 - 200  # inside the margin: refresh ahead of expiry
    tokens = await asyncio.gather(*(session.id_token() for _ in range(5)))
    assert session.refresh_count == 1 and len(set(tokens)) == 1


async def test_clock_skew_no_refresh_storm_then_clear_message(make_session, local_cognito):
    # This computer's clock is 3 hours ahead: a naive exp-vs-now check would refresh forever.
    session = make_session(wall_clock=lambda: time.time() + 3 * 3600)
    result = await session.sign_in("agent-6", local_cognito.user("agent-6").password)
    assert isinstance(result, SignedIn)
    assert "3 hours ahead" in (result.note or "")
    for _ in range(5):
        await session.id_token()
    assert session.refresh_count == 0
    # a server rejects the token: one refresh, then a clear error instead of another refresh
    await session.force_refresh()
    assert session.refresh_count == 1
    with pytest.raises(E.ClockSkewError) as err:
        await session.force_refresh()
    assert session.refresh_count == 1
    assert "3 hours ahead" in err.value.message and err.value.skew_s > 3 * 3600 - 120


async def test_force_refresh_again_after_the_window(make_session, local_cognito):
    clock = FakeClock()
    session = make_session(monotonic=clock, forced_refresh_window_s=60)
    await session.sign_in("agent-7", local_cognito.user("agent-7").password)
    await session.force_refresh()
    with pytest.raises(E.ClockSkewError) as err:
        await session.force_refresh()
    assert "clock" in err.value.message  # right clock here: the generic advice
    clock.offset = 61
    await session.force_refresh()
    assert session.refresh_count == 2


async def test_a_failed_forced_refresh_does_not_use_up_the_retry(make_session, local_cognito):
    import socket

    session = make_session()
    await session.sign_in("agent-11", local_cognito.user("agent-11").password)
    good = session.settings
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    session.settings, session._boto = good.model_copy(update={"endpoint": f"http://127.0.0.1:{port}"}), None
    with pytest.raises(E.NetworkError):
        await session.force_refresh()
    session.settings, session._boto = good, None
    await session.force_refresh()  # the network is back: this is the one refresh, not an error
    assert session.refresh_count == 1


async def test_network_down_at_refresh_time_keeps_a_still_valid_token(make_session, local_cognito):
    import socket

    clock = FakeClock()
    session = make_session(monotonic=clock)
    await session.sign_in("agent-12", local_cognito.user("agent-12").password)
    token = await session.id_token()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    session.settings = session.settings.model_copy(update={"endpoint": f"http://127.0.0.1:{port}"})
    session._boto = None
    clock.offset = 3600 - 100  # inside the refresh margin, not yet expired
    assert await session.id_token() == token
    clock.offset = 3600 + 1  # expired and still no network
    with pytest.raises(E.NetworkError):
        await session.id_token()


# --- sign-out and remembered sessions ----------------------------------------------------------

async def test_sign_out_revokes_the_refresh_token(make_session, local_cognito, new_user, keyring_backend):
    u = new_user()
    session = make_session()
    await session.sign_in(u.username, u.password)
    refresh_token = session._tokens.refresh_token
    assert keyring_backend.entries
    assert await session.sign_out() is True
    assert keyring_backend.entries == {}
    assert not session.signed_in
    with pytest.raises(ClientError) as err:
        local_cognito.admin_client().initiate_auth(
            AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh_token},
            ClientId=local_cognito.client_id)
    assert err.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert await make_session().restore() is None


async def test_restart_with_remembered_session_signs_in_without_password(make_session, local_cognito, new_user):
    u = new_user(team_id="team-3")
    first = make_session()
    await first.sign_in(u.username, u.password)
    # "restart": a new session and a new store over the same OS keyring
    second = make_session()
    result = await second.restore()
    assert isinstance(result, SignedIn) and result.username == u.username
    assert second.claims.team_id == "team-3"
    assert unverified(await second.id_token())["cognito:username"] == u.username


async def test_restore_with_a_revoked_session_forgets_it(make_session, local_cognito, new_user, keyring_backend):
    # The remembered id token has aged past its refresh point: the restore refreshes, Cognito
    # refuses the revoked refresh token, and the remembered session is forgotten.
    u = new_user()
    session = make_session()
    await session.sign_in(u.username, u.password)
    local_cognito.admin_client().admin_user_global_sign_out(UserPoolId=local_cognito.user_pool_id, Username=u.username)
    assert await make_session(wall_clock=lambda: time.time() + 3400).restore() is None
    assert keyring_backend.entries == {}


async def test_a_revoked_session_restored_within_the_token_lifetime_ends_at_its_refresh(
        make_session, local_cognito, new_user, keyring_backend):
    # Within the id token's lifetime a restart uses the remembered tokens without asking Cognito
    # (as a running app keeps using them): the revocation is found at the next refresh.
    u = new_user()
    await make_session().sign_in(u.username, u.password)
    local_cognito.admin_client().admin_user_global_sign_out(UserPoolId=local_cognito.user_pool_id, Username=u.username)
    restored = make_session()
    assert isinstance(await restored.restore(), SignedIn)
    with pytest.raises(E.SessionExpiredError):
        await restored.force_refresh()
    assert not restored.signed_in and keyring_backend.entries == {}


# --- remembered id and access tokens (a restart within their lifetime) -------------------------

async def test_a_restart_within_the_token_lifetime_makes_no_cognito_call(make_session, new_user, keyring_backend):
    u = new_user(team_id="team-2")
    first = make_session()
    await first.sign_in(u.username, u.password)
    assert first.clients_made == 1 and first._boto is None  # released once signed in
    calls = keyring_backend.calls
    second = make_session()
    result = await second.restore()
    assert isinstance(result, SignedIn) and result.username == u.username and result.remembered is True
    assert second.claims.team_id == "team-2"
    assert second.clients_made == 0 and second.refresh_count == 0
    assert await second.id_token() == first._tokens.id_token
    assert await second.access_token() == first._tokens.access_token
    assert 3000 < second.seconds_until_expiry() <= 3600
    assert second.clock_skew_s is not None and abs(second.clock_skew_s) < 60
    assert keyring_backend.calls > calls  # it did read the keyring


async def test_remembered_tokens_due_for_a_refresh_are_refreshed_and_remembered_again(make_session, new_user):
    u = new_user()
    first = make_session()
    await first.sign_in(u.username, u.password)
    later = time.time() + 3400  # 57 min after: inside the 5 min refresh margin
    second = make_session(wall_clock=lambda: later)
    assert isinstance(await second.restore(), SignedIn)
    assert second.clients_made == 1 and second._boto is None
    assert second._tokens.obtained_wall == later
    stored = await second.token_store.load()
    assert stored.live is not None and stored.live.id_token == second._tokens.id_token
    assert stored.live.obtained_wall == pytest.approx(later, abs=0.01)


async def test_tokens_stamped_in_this_clocks_future_are_not_trusted(make_session, new_user):
    u = new_user()
    await make_session().sign_in(u.username, u.password)
    second = make_session(wall_clock=lambda: time.time() - 600)  # the clock was set back 10 min
    assert isinstance(await second.restore(), SignedIn)
    assert second.clients_made == 1  # refreshed


async def test_a_remembered_id_token_failing_the_claim_checks_is_not_used(make_session, local_cognito, new_user):
    u = new_user()
    await make_session().sign_in(u.username, u.password)
    settings = local_cognito.cognito_settings()
    # Same keyring entry (same pool and client id), but the profile names another issuer.
    other = settings.model_copy(update={"issuer": settings.effective_issuer + "-other"})
    second = make_session(settings=other)
    with pytest.raises(E.AuthServiceError):  # the refreshed token fails the same check
        await second.restore()
    assert second.clients_made == 1 and not second.signed_in


async def test_each_refresh_remembers_the_new_tokens_for_the_next_start(make_session, new_user):
    u = new_user()
    clock = FakeClock()
    session = make_session(monotonic=clock)
    await session.sign_in(u.username, u.password)
    clock.offset = 3400
    await asyncio.sleep(1.1)  # Cognito's iat has a resolution of a second: a new token differs
    fresh = await session.id_token()
    assert session.refresh_count == 1 and session._boto is None
    assert session.clients_made == 2  # one for the sign-in, one for the refresh
    restarted = make_session()
    assert isinstance(await restarted.restore(), SignedIn)
    assert restarted.clients_made == 0 and await restarted.id_token() == fresh


async def test_a_shared_client_is_never_released(make_session, local_cognito, new_user):
    u = new_user()
    shared = make_session().cognito_client()
    session = make_session(cognito_client=shared)
    await session.sign_in(u.username, u.password)
    assert session._boto is shared and session.clients_made == 0


async def test_remembered_tokens_never_logged(make_session, new_user, caplog):
    caplog.set_level(logging.DEBUG)
    u = new_user()
    first = make_session()
    await first.sign_in(u.username, u.password)
    second = make_session()
    await second.restore()
    assert "remembered tokens valid for" in caplog.text
    for secret in (first._tokens.id_token, first._tokens.access_token, first._tokens.refresh_token, u.password):
        assert secret not in caplog.text
        assert secret not in repr(await second.token_store.load())


async def test_revoked_session_raises_session_expired_on_refresh(make_session, local_cognito, new_user):
    u = new_user()
    session = make_session()
    await session.sign_in(u.username, u.password)
    local_cognito.admin_client().admin_user_global_sign_out(UserPoolId=local_cognito.user_pool_id, Username=u.username)
    with pytest.raises(E.SessionExpiredError):
        await session.force_refresh()
    assert not session.signed_in


async def test_no_secure_keyring_signs_in_but_says_so(make_session, local_cognito):
    from keyring.backends import fail

    result = await make_session(backend=fail.Keyring()).sign_in("agent-8", local_cognito.user("agent-8").password)
    assert isinstance(result, SignedIn) and result.remembered is False
    assert "Session will not be remembered" in result.note


async def test_tokens_and_passwords_never_logged(make_session, local_cognito, caplog):
    caplog.set_level(logging.DEBUG)
    session = make_session(monotonic=FakeClock())
    password = local_cognito.user("agent-9").password
    await session.sign_in("agent-9", password)
    secrets_seen = [session._tokens.id_token, session._tokens.access_token, session._tokens.refresh_token, password]
    session._mono.offset = 4000
    await session.id_token()
    secrets_seen += [session._tokens.id_token, session._tokens.access_token]
    await session.sign_out()
    assert caplog.records  # logging was on
    for s in secrets_seen:
        assert s not in caplog.text


# --- locale --------------------------------------------------------------------------------

def _set_locale(name: str) -> str | None:
    try:
        return locale.setlocale(locale.LC_ALL, name)
    except locale.Error:
        return None


@pytest.mark.parametrize("name", ["de_DE.UTF-8", "ja_JP.UTF-8"])
async def test_srp_works_under_non_english_locales(make_session, local_cognito, name, monkeypatch):
    import datetime as dt

    saved = locale.setlocale(locale.LC_ALL)
    if _set_locale(name) is None:
        pytest.skip(f"locale {name} is not installed here (localedef -i {name.split('.')[0]} -f UTF-8 {name})")
    try:
        sample = dt.datetime(2026, 11, 29, 20, 5, 3)
        assert sample.strftime("%a %b") != "Sun Nov"  # the locale really is active
        assert cognito_timestamp(sample) == "Sun Nov 29 20:05:03 UTC 2026"
        result = await make_session().sign_in("agent-10", local_cognito.user("agent-10").password)
        assert isinstance(result, SignedIn)
        # and the bug this guards against would fail here: a strftime-formatted timestamp
        import presence_desktop.auth.session as S

        monkeypatch.setattr(S, "cognito_timestamp", lambda when: when.strftime("%a %b %-d %H:%M:%S UTC %Y"))
        with pytest.raises(E.WrongCredentialsError):
            await make_session().sign_in("agent-10", local_cognito.user("agent-10").password)
    finally:
        locale.setlocale(locale.LC_ALL, saved)


def test_timestamp_has_no_leading_zero_day() -> None:
    import datetime as dt

    assert cognito_timestamp(dt.datetime(2026, 3, 1, 9, 4, 5)) == "Sun Mar 1 09:04:05 UTC 2026"


def test_making_the_client_leaves_no_library_source_in_linecache(local_cognito) -> None:
    # In the GUI, PySide6's import hook reads every later-imported module's source into
    # linecache; the client's lazy botocore import drops that cache (bench/README.md).
    import linecache

    from presence_desktop.auth.session import AuthSession

    linecache.getlines(__file__)  # something cached
    session = AuthSession(local_cognito.cognito_settings())
    session.cognito_client()
    assert session.clients_made == 1 and linecache.cache == {}
