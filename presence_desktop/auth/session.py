"""The signed-in session: Cognito SRP sign-in, challenges, refresh, sign-out.

Protocol sources: Amazon Cognito API reference (InitiateAuth with ``USER_SRP_AUTH`` and
``REFRESH_TOKEN_AUTH``, RespondToAuthChallenge with ``PASSWORD_VERIFIER``,
``NEW_PASSWORD_REQUIRED``, ``SOFTWARE_TOKEN_MFA``, ``SMS_MFA``, ``MFA_SETUP``,
``SELECT_MFA_TYPE``; AssociateSoftwareToken / VerifySoftwareToken; GlobalSignOut) and the
developer guide's "User pool authentication flow". The SRP math is pycognito's ``aws_srp``.

Every Cognito call goes through an unsigned botocore ``cognito-idp`` client (the AWS SDK, not
our own HTTP code), created when a call is due and released once the sign-in, refresh or
sign-out is done (its service model is most of its memory; a remembered session needs it about
once an hour); pycognito (and boto3, which it imports) only for the interactive SRP sign-in,
imported then. A restart within the id token's lifetime uses the id and access tokens kept in
the keyring beside the refresh token (:mod:`.token_store`) and loads no botocore at all until
they are due for a refresh; otherwise the restore refreshes. The id token's claims are read with
PyJWT without the signature check (:mod:`.claims`: the token comes straight from Cognito over
TLS; the servers verify it).

Every network call and the SRP exponentiations run in a worker thread (``asyncio.to_thread``):
the event loop (the GUI thread under qasync) never blocks on them. The Cognito endpoint comes
from the profile (:class:`presence_desktop.client.profile.CognitoSettings.endpoint`, None = AWS), and so
does the issuer the id token must name; nothing here is test-specific.

Expiry is tracked with the token lifetime Cognito reports (``ExpiresIn``) against this
process's monotonic clock, not by comparing ``exp`` with the wall clock, so a computer whose
clock is wrong by minutes or hours does not refresh in a loop. Remembered tokens carry the
wall-clock time they arrived on this computer: a restart counts their age on the same (local)
clock, and tokens that look older than their lifetime less the refresh margin, or stamped more
than a minute in this clock's future (it was set back), are refreshed instead of used. A clock
set forward between runs costs a refresh; one set back makes a token look younger than it is:
the server's 401 then gets the usual single refresh (:meth:`AuthSession.force_refresh`). An authorization failure reported
by a server (:meth:`AuthSession.force_refresh`) gets one refresh; a second one within
``forced_refresh_window_s`` raises :class:`~presence_desktop.auth.errors.ClockSkewError`.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import linecache
import logging
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from presence_desktop.auth import errors as E
from presence_desktop.auth.claims import ClaimsError, id_token_claims
from presence_desktop.auth.token_store import LiveTokens, StoredSession, TokenStore
from presence_desktop.net.aws_sdk_logs import quiet_aws_sdk_logs

log = logging.getLogger(__name__)

FUTURE_STAMP_TOLERANCE_S = 60.0  # remembered tokens stamped further ahead of this clock are not trusted

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def cognito_timestamp(when: _dt.datetime) -> str:
    """The SRP ``TIMESTAMP`` Cognito expects, e.g. ``"Sun Nov 29 20:05:13 UTC 2026"``: English
    names and no leading zero on the day, whatever the process locale (``strftime("%a %b")``
    would give "So Nov" under de_DE and "日 11月" under ja_JP, which Cognito refuses)."""
    return (
        f"{_WEEKDAYS[when.weekday()]} {_MONTHS[when.month - 1]} {when.day:d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} UTC {when.year:d}"
    )


# --- results a UI acts on ----------------------------------------------------------------------

@dataclass(frozen=True)
class SignedIn:
    """Signed in. ``remembered``: the session will survive a restart; ``note``: a sentence to
    show (e.g. "Session will not be remembered ..."), or None."""

    username: str
    claims: Any  # presence_desktop.auth.claims.Claims
    remembered: bool
    note: str | None = None


@dataclass(frozen=True)
class NewPasswordRequired:
    """Temporary password: ask for a new one, then :meth:`AuthSession.respond_new_password`.
    ``required_attributes``: attribute names Cognito wants too (without "userAttributes.")."""

    username: str
    required_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TotpRequired:
    """Ask for the authenticator app's 6-digit code: :meth:`AuthSession.respond_totp`."""

    username: str


@dataclass(frozen=True)
class SmsMfaRequired:
    """Ask for the code sent by SMS to ``destination`` (masked): :meth:`AuthSession.respond_sms`."""

    username: str
    destination: str | None = None


@dataclass(frozen=True)
class MfaSetupRequired:
    """MFA must be set up first. ``options`` e.g. ("SOFTWARE_TOKEN_MFA",). For TOTP:
    :meth:`AuthSession.begin_totp_setup`, show the secret/QR, then
    :meth:`AuthSession.respond_totp_setup` with a code."""

    username: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class MfaSelectionRequired:
    """Choose one of ``options`` ("SMS_MFA", "SOFTWARE_TOKEN_MFA"): :meth:`AuthSession.select_mfa`."""

    username: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class TotpSetup:
    """A TOTP secret to enter in an authenticator app (base32), and the same as an otpauth URI
    (for a QR code; Key Uri Format)."""

    secret: str
    uri: str

    def __repr__(self) -> str:
        return "TotpSetup(secret=<hidden>)"


SignInResult = (SignedIn | NewPasswordRequired | TotpRequired | SmsMfaRequired | MfaSetupRequired
                | MfaSelectionRequired)


@dataclass
class _Tokens:
    id_token: str
    access_token: str
    refresh_token: str
    lifetime_s: float
    obtained_mono: float
    obtained_wall: float
    claims: Any

    def __repr__(self) -> str:
        return f"_Tokens(<hidden>, lifetime_s={self.lifetime_s})"

    def remaining_s(self, mono_now: float) -> float:
        """Seconds until the id/access tokens expire, on the monotonic clock."""
        return self.lifetime_s - (mono_now - self.obtained_mono)


@dataclass
class _Pending:
    name: str
    session: str
    username: str


def _srp_class() -> type:
    from pycognito.aws_srp import AWSSRP

    class _SRP(AWSSRP):
        # Our own timestamp: locale-independent whatever pycognito's version does.
        @staticmethod
        def get_cognito_formatted_timestamp(input_datetime: _dt.datetime) -> str:
            return cognito_timestamp(input_datetime)

    return _SRP


class AuthSession:
    """One user's session with a Cognito user pool (public app client, no secret).

    ``settings``: :class:`presence_desktop.client.profile.CognitoSettings`. ``token_store``: where the
    refresh token is remembered (None = memory only). Times in seconds.

    Use from one event loop: ``await sign_in(user, pw)`` -> a :data:`SignInResult`; answer a
    challenge with the matching ``respond_*``; ``await id_token()`` / ``access_token()`` give a
    token valid for at least ``refresh_margin_s`` (refreshing as needed); after a server said
    401, ``await force_refresh()`` once. ``await restore()`` signs in from the remembered refresh
    token. ``await sign_out()`` revokes the tokens (GlobalSignOut) and forgets them.

    Errors: subclasses of :class:`presence_desktop.auth.errors.AuthError`.

    ``cognito_client``: a botocore ``cognito-idp`` client to share (botocore clients are
    thread-safe); many sessions in one process (the devstack's simulated agents) then pay for
    loading the service model once instead of once per session.
    """

    def __init__(
        self,
        settings: Any,
        token_store: TokenStore | None = None,
        *,
        refresh_margin_s: float = 300.0,
        forced_refresh_window_s: float = 60.0,
        skew_tolerance_s: float = 300.0,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 15.0,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        cognito_client: Any = None,
    ) -> None:
        self.settings = settings
        self.token_store = token_store
        self.refresh_margin_s = refresh_margin_s
        self.forced_refresh_window_s = forced_refresh_window_s
        self.skew_tolerance_s = skew_tolerance_s
        self._timeouts = (connect_timeout_s, read_timeout_s)
        self._wall = wall_clock
        self._mono = monotonic
        self._boto: Any = cognito_client
        self._shared_client = cognito_client is not None  # someone else's: never released here
        self._boto_lock = threading.Lock()
        self.clients_made = 0  # botocore clients created (diagnostics and tests)
        self._tokens: _Tokens | None = None
        self._pending: _Pending | None = None
        self._refresh_lock: asyncio.Lock | None = None
        self._forced_at: float | None = None
        self.refresh_count = 0  # refreshes done (for diagnostics and tests)
        self.clock_skew_s: float | None = None  # this computer's clock minus Cognito's

    # --- state ---------------------------------------------------------------------------------
    @property
    def signed_in(self) -> bool:
        return self._tokens is not None

    @property
    def username(self) -> str | None:
        return self._tokens.claims.username if self._tokens else None

    @property
    def claims(self) -> Any:
        """The id token's claims (:class:`~presence_desktop.auth.claims.Claims`: ``sub``,
        ``username``, ``groups``, ``team_id``, ``raw``); raises NotSignedInError."""
        return self._require().claims

    @property
    def expires_at(self) -> _dt.datetime:
        """When the current id/access tokens expire, on this computer's clock (UTC)."""
        t = self._require()
        return _dt.datetime.fromtimestamp(t.obtained_wall + t.lifetime_s, _dt.UTC)

    def seconds_until_expiry(self) -> float:
        t = self._require()
        return t.remaining_s(self._mono())

    @property
    def clock_warning(self) -> str | None:
        """A sentence when this computer's clock differs from Cognito's by more than the tolerance."""
        if self.clock_skew_s is None or abs(self.clock_skew_s) <= self.skew_tolerance_s:
            return None
        return _skew_sentence(self.clock_skew_s)

    # --- sign-in and challenges ---------------------------------------------------------------
    async def sign_in(self, username: str, password: str) -> SignInResult:
        """SRP sign-in. Returns SignedIn or a challenge to answer. Raises WrongCredentialsError,
        UserDisabledError, UserNotConfirmedError, PasswordResetRequiredError, ThrottledError,
        NetworkError, AuthServiceError."""
        username = (username or "").strip()
        if not username or not password:
            raise E.WrongCredentialsError("Enter your username and password.")
        self._pending = None
        resp = await self._call(self._srp_sync, username, password)
        return await self._handle(resp, username)

    async def respond_new_password(self, new_password: str, attributes: dict[str, str] | None = None) -> SignInResult:
        """Answer NewPasswordRequired. Raises InvalidNewPasswordError (try again),
        ChallengeExpiredError, ..."""
        p = self._require_pending("NEW_PASSWORD_REQUIRED")
        responses = {"USERNAME": p.username, "NEW_PASSWORD": new_password}
        for name, value in (attributes or {}).items():
            responses[f"userAttributes.{name}"] = value
        return await self._respond(p, "NEW_PASSWORD_REQUIRED", responses)

    async def respond_totp(self, code: str) -> SignInResult:
        """Answer TotpRequired. A wrong code raises InvalidCodeError; the challenge stays open."""
        p = self._require_pending("SOFTWARE_TOKEN_MFA")
        return await self._respond(p, "SOFTWARE_TOKEN_MFA", {"USERNAME": p.username,
                                                              "SOFTWARE_TOKEN_MFA_CODE": code.strip()})

    async def respond_sms(self, code: str) -> SignInResult:
        """Answer SmsMfaRequired. A wrong code raises InvalidCodeError; the challenge stays open."""
        p = self._require_pending("SMS_MFA")
        return await self._respond(p, "SMS_MFA", {"USERNAME": p.username, "SMS_MFA_CODE": code.strip()})

    async def select_mfa(self, choice: str) -> SignInResult:
        """Answer MfaSelectionRequired with "SMS_MFA" or "SOFTWARE_TOKEN_MFA"."""
        p = self._require_pending("SELECT_MFA_TYPE")
        return await self._respond(p, "SELECT_MFA_TYPE", {"USERNAME": p.username, "ANSWER": choice})

    async def begin_totp_setup(self, issuer_label: str = "Presence") -> TotpSetup:
        """For MfaSetupRequired: get a TOTP secret (AssociateSoftwareToken with the challenge session)."""
        p = self._require_pending("MFA_SETUP")
        resp = await self._call(lambda: self._client().associate_software_token(Session=p.session),
                                during_challenge=True)
        p.session = resp.get("Session") or p.session
        secret = resp["SecretCode"]
        label = urllib.parse.quote(f"{issuer_label}:{p.username}")
        uri = f"otpauth://totp/{label}?secret={secret}&issuer={urllib.parse.quote(issuer_label)}"
        return TotpSetup(secret, uri)

    async def respond_totp_setup(self, code: str, device_name: str = "presence-desktop") -> SignInResult:
        """Finish MFA setup with a code from the authenticator (VerifySoftwareToken, then the
        MFA_SETUP challenge). A wrong code raises InvalidCodeError."""
        p = self._require_pending("MFA_SETUP")
        resp = await self._call(
            lambda: self._client().verify_software_token(Session=p.session, UserCode=code.strip(),
                                                         FriendlyDeviceName=device_name),
            during_challenge=True,
        )
        if resp.get("Status") != "SUCCESS":
            raise E.InvalidCodeError()
        p.session = resp.get("Session") or p.session
        return await self._respond(p, "MFA_SETUP", {"USERNAME": p.username})

    # --- remembered session -------------------------------------------------------------------
    async def restore(self) -> SignedIn | None:
        """Sign in from the remembered refresh token, without a password. None when nothing is
        remembered or it was revoked/expired (then it is forgotten). Raises NetworkError (the
        remembered session is kept for a retry), ThrottledError, AuthServiceError."""
        if self.token_store is None:
            return None
        stored = await self.token_store.load()
        if stored is None:
            return None
        kept = self._still_valid(stored)
        if kept is not None:
            self._tokens = kept
            log.info("restored session for %s (remembered tokens valid for %d more min; refresh then)",
                     kept.claims.username, self.seconds_until_expiry() // 60)
            return SignedIn(kept.claims.username, kept.claims, bool(self.token_store.remembered), self._note())
        try:
            resp = await self._call(self._refresh_sync, stored.refresh_token)
        except (E.WrongCredentialsError, E.UserDisabledError, E.PasswordResetRequiredError,
                E.UserNotConfirmedError) as exc:
            log.info("remembered session for %s no longer valid (%s)", stored.username, exc.code)
            await self.token_store.clear()
            return None
        finally:
            self._release_client()
        tokens = await self._tokens_from(resp["AuthenticationResult"], stored.refresh_token)
        self._tokens = tokens
        await self._remember(tokens)
        log.info("restored session for %s", tokens.claims.username)
        return SignedIn(tokens.claims.username, tokens.claims, bool(self.token_store.remembered),
                        self._note())

    def _still_valid(self, stored: StoredSession) -> _Tokens | None:
        """The remembered id and access tokens as this session's tokens, when they are this
        pool's and app client's, the remembered user's, and not yet due for a refresh by this
        computer's clock; else None (the restore refreshes)."""
        live = stored.live
        if live is None:
            return None
        age = self._wall() - live.obtained_wall
        if age < -FUTURE_STAMP_TOLERANCE_S:
            log.info("remembered tokens are stamped %d s in this clock's future; refreshing", -age)
            return None
        try:
            claims = id_token_claims(live.id_token, self.settings.effective_issuer, self.settings.client_id)
        except ClaimsError as exc:
            log.info("remembered id token not usable (%s); refreshing", exc.code)
            return None
        if claims.username != stored.username:
            return None
        tokens = _Tokens(id_token=live.id_token, access_token=live.access_token, refresh_token=stored.refresh_token,
                         lifetime_s=live.lifetime_s, obtained_mono=self._mono() - max(0.0, age),
                         obtained_wall=live.obtained_wall, claims=claims)
        if self._needs_refresh(tokens):
            return None
        self._note_clock_skew(claims, live.obtained_wall)
        return tokens

    async def _remember(self, tokens: _Tokens) -> bool:
        """Keep the refresh token and the current id and access tokens in the keyring."""
        if self.token_store is None or not tokens.refresh_token:
            return False
        return await self.token_store.save(
            tokens.claims.username, tokens.refresh_token,
            LiveTokens(tokens.id_token, tokens.access_token, tokens.obtained_wall, tokens.lifetime_s))

    # --- tokens -------------------------------------------------------------------------------
    async def id_token(self) -> str:
        """The id token (JWT), refreshed first if it expires within the refresh margin.
        Raises NotSignedInError, SessionExpiredError, NetworkError (only once it has expired)."""
        await self._ensure_fresh()
        return self._require().id_token

    async def access_token(self) -> str:
        """The access token (JWT); same refresh rules as :meth:`id_token`."""
        await self._ensure_fresh()
        return self._require().access_token

    async def force_refresh(self) -> None:
        """Call after a server rejected our token (401). Refreshes once; if called again within
        ``forced_refresh_window_s`` of that refresh, raises ClockSkewError instead of
        refreshing again (no refresh storm). Raises SessionExpiredError, NetworkError too."""
        self._require()
        now = self._mono()
        if self._forced_at is not None and now - self._forced_at < self.forced_refresh_window_s:
            skew = self.clock_skew_s
            msg = _skew_sentence(skew) if skew is not None and abs(skew) > self.skew_tolerance_s else None
            raise E.ClockSkewError(msg, skew_s=skew, detail="fresh token rejected again")
        previous, self._forced_at = self._forced_at, now
        try:
            await self._refresh(force=True)
        except E.NetworkError:
            self._forced_at = previous  # nothing was refreshed: the one allowed refresh is still due
            raise

    async def sign_out(self) -> bool:
        """Revoke this user's tokens everywhere (GlobalSignOut) and forget the session (memory
        and keyring). Returns True if Cognito confirmed the revocation; False if it could not be
        reached (the local session is forgotten anyway).

        The keyring is cleared *first*: revoking may wait for network timeouts (tens of seconds),
        and an app closed meanwhile must not restore the session the user signed out of."""
        tokens, self._tokens, self._pending = self._tokens, None, None
        revoked = False
        if self.token_store is not None:
            await self.token_store.clear()
        try:
            if tokens is not None:
                access = tokens.access_token
                if tokens.remaining_s(self._mono()) < 30:
                    try:
                        resp = await self._call(self._refresh_sync, tokens.refresh_token)
                        access = resp["AuthenticationResult"]["AccessToken"]
                    except E.AuthError:
                        pass
                await self._call(lambda: self._client().global_sign_out(AccessToken=access))
                revoked = True
        except E.AuthError as exc:
            log.warning("sign-out could not reach Cognito (%s); the local session is forgotten", exc.code)
        finally:
            self._release_client()
        return revoked

    # --- internals ----------------------------------------------------------------------------
    def _require(self) -> _Tokens:
        if self._tokens is None:
            raise E.NotSignedInError()
        return self._tokens

    def _require_pending(self, name: str) -> _Pending:
        p = self._pending
        if p is None or p.name != name:
            raise E.ChallengeExpiredError("There is no sign-in step waiting for that answer. Start again.")
        return p

    def _note(self) -> str | None:
        notes = []
        if self.token_store is None:
            notes.append("Session will not be remembered.")
        elif self.token_store.status_message:
            notes.append(self.token_store.status_message)
        if self.clock_warning:
            notes.append(self.clock_warning)
        return " ".join(notes) or None

    def cognito_client(self) -> Any:
        """The botocore ``cognito-idp`` client this session uses (made on first use; blocking).
        A caller that keeps it (to share it) should pass it to the sessions that use it as
        ``cognito_client``: this session may release its own after a sign-in or refresh."""
        return self._client()

    def _release_client(self) -> None:
        """Drop this session's botocore client once no call needs it: after a sign-in, a refresh,
        a restore or a sign-out (not while a challenge waits for an answer). The next due call
        makes a new one (~0.1 s on a worker thread, about once an hour). A shared client
        (``cognito_client=``) is kept."""
        if self._shared_client or self._pending is not None:
            return
        with self._boto_lock:
            self._boto = None

    def _client(self) -> Any:
        with self._boto_lock:
            if self._boto is None:
                self.clients_made += 1
                quiet_aws_sdk_logs()
                import botocore.session
                from botocore import UNSIGNED
                from botocore.config import Config

                # In the GUI, botocore is imported long after PySide6, whose import hook reads the
                # source of every module imported after it into linecache, which keeps it (~6 MB
                # for botocore's ~100 modules). It is only a cache (tracebacks read files again):
                # dropped here, so the client made next reuses that memory (bench/README.md).
                linecache.clearcache()

                # Cognito's user-facing calls are unauthenticated (no AWS credentials on a desktop).
                config = Config(
                    signature_version=UNSIGNED,
                    connect_timeout=self._timeouts[0],
                    read_timeout=self._timeouts[1],
                    retries={"mode": "standard", "total_max_attempts": 2},
                    user_agent_extra="presence-desktop",
                )
                self._boto = botocore.session.get_session().create_client(
                    "cognito-idp", region_name=self.settings.region, endpoint_url=self.settings.endpoint,
                    config=config,
                )
            return self._boto

    async def _call(self, fn: Callable[..., Any], *args: Any, during_challenge: bool = False) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(fn, *args)
        except ClientError as exc:
            raise self._refused(exc, during_challenge) from None
        except (BotoCoreError, OSError) as exc:
            raise self._unreachable(exc) from None

    @staticmethod
    def _refused(exc: Any, during_challenge: bool) -> E.AuthError:
        mapped = E.map_client_error(exc, during_challenge=during_challenge)
        log.info("Cognito refused: %s", mapped.detail)
        return mapped

    @staticmethod
    def _unreachable(exc: BaseException) -> E.AuthError:
        log.info("Cognito unreachable: %s", type(exc).__name__)
        return E.NetworkError(detail=type(exc).__name__)

    def _srp_sync(self, username: str, password: str) -> dict:
        client = self._client()
        srp = _srp_class()(username, password, self.settings.user_pool_id, self.settings.client_id, client=client)
        params = srp.get_auth_params()
        resp = client.initiate_auth(AuthFlow="USER_SRP_AUTH", AuthParameters=params, ClientId=self.settings.client_id)
        if resp.get("ChallengeName") != "PASSWORD_VERIFIER":
            return resp
        answer = srp.process_challenge(resp["ChallengeParameters"], params)
        return client.respond_to_auth_challenge(
            ClientId=self.settings.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer
        )

    def _refresh_sync(self, refresh_token: str) -> dict:
        return self._client().initiate_auth(
            AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh_token},
            ClientId=self.settings.client_id,
        )

    async def _respond(self, p: _Pending, name: str, responses: dict[str, str]) -> SignInResult:
        resp = await self._call(
            lambda: self._client().respond_to_auth_challenge(
                ClientId=self.settings.client_id, ChallengeName=name, Session=p.session,
                ChallengeResponses=responses,
            ),
            during_challenge=True,
        )
        return await self._handle(resp, p.username)

    async def _handle(self, resp: dict, username: str) -> SignInResult:
        result = resp.get("AuthenticationResult")
        if result:
            self._pending = None
            tokens = await self._tokens_from(result, result.get("RefreshToken"))
            self._tokens = tokens
            self._forced_at = None
            self._release_client()
            remembered = await self._remember(tokens)
            log.info("signed in as %s (remembered=%s)", tokens.claims.username, remembered)
            return SignedIn(tokens.claims.username, tokens.claims, remembered, self._note())
        name = resp.get("ChallengeName") or ""
        params = resp.get("ChallengeParameters") or {}
        user = params.get("USERNAME") or params.get("USER_ID_FOR_SRP") or username
        self._pending = _Pending(name, resp.get("Session") or "", user)
        log.info("sign-in for %s needs %s", username, name)
        if name == "NEW_PASSWORD_REQUIRED":
            attrs = _list_param(params.get("requiredAttributes"))
            return NewPasswordRequired(username, tuple(a.removeprefix("userAttributes.") for a in attrs))
        if name == "SOFTWARE_TOKEN_MFA":
            return TotpRequired(username)
        if name == "SMS_MFA":
            return SmsMfaRequired(username, params.get("CODE_DELIVERY_DESTINATION"))
        if name == "MFA_SETUP":
            return MfaSetupRequired(username, tuple(_list_param(params.get("MFAS_CAN_SETUP"))))
        if name == "SELECT_MFA_TYPE":
            return MfaSelectionRequired(username, tuple(_list_param(params.get("MFAS_CAN_CHOOSE"))))
        self._pending = None
        raise E.AuthServiceError(f"This sign-in step is not supported by this app ({name or 'unknown'}).",
                                 detail=name)

    async def _tokens_from(self, result: dict, refresh_token: str | None) -> _Tokens:
        received_wall, received_mono = self._wall(), self._mono()
        try:
            claims = id_token_claims(result["IdToken"], self.settings.effective_issuer, self.settings.client_id)
        except ClaimsError as exc:
            raise E.AuthServiceError("The sign-in service returned a token that is not for this app.",
                                     detail=exc.code) from None
        self._note_clock_skew(claims, received_wall)
        return _Tokens(
            id_token=result["IdToken"],
            access_token=result["AccessToken"],
            refresh_token=refresh_token or (self._tokens.refresh_token if self._tokens else ""),
            lifetime_s=float(result.get("ExpiresIn") or 3600),
            obtained_mono=received_mono,
            obtained_wall=received_wall,
            claims=claims,
        )

    def _note_clock_skew(self, claims: Any, received_wall: float) -> None:
        """This computer's clock minus Cognito's, from the id token's ``iat`` and when it arrived."""
        iat = claims.raw.get("iat")
        if isinstance(iat, (int, float)):
            self.clock_skew_s = received_wall - float(iat)

    def _needs_refresh(self, t: _Tokens) -> bool:
        margin = min(self.refresh_margin_s, t.lifetime_s / 2)
        return t.remaining_s(self._mono()) <= margin

    async def _ensure_fresh(self) -> None:
        t = self._require()
        if self._needs_refresh(t):
            try:
                await self._refresh(force=False)
            except E.NetworkError:
                if self.seconds_until_expiry() <= 0:
                    raise
                log.info("refresh failed (network); the current token is still valid")

    async def _refresh(self, *, force: bool) -> None:
        if self._refresh_lock is None:
            self._refresh_lock = asyncio.Lock()
        before = self._tokens
        async with self._refresh_lock:
            t = self._require()
            if t is not before or (not force and not self._needs_refresh(t)):
                return  # another caller refreshed meanwhile
            try:
                resp = await self._call(self._refresh_sync, t.refresh_token)
            except (E.WrongCredentialsError, E.UserDisabledError, E.PasswordResetRequiredError) as exc:
                self._tokens = None
                if self.token_store is not None:
                    await self.token_store.clear()
                raise E.SessionExpiredError(detail=exc.detail) from None
            finally:
                self._release_client()
            new = await self._tokens_from(resp["AuthenticationResult"],
                                          resp["AuthenticationResult"].get("RefreshToken") or t.refresh_token)
            if self._tokens is not t:  # signed out meanwhile
                return
            self._tokens = new
            self.refresh_count += 1
            # The new id and access tokens (and a rotated refresh token), for the next start.
            if self.token_store is not None and self.token_store.remembered is not False:
                await self._remember(new)
                if self._tokens is not new:  # signed out while it was written: forget it again
                    await self.token_store.clear()


def _list_param(value: Any) -> list[str]:
    """Cognito sends list parameters as JSON strings ('["SOFTWARE_TOKEN_MFA"]'); moto as lists."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return re.findall(r"[A-Z][A-Z_]+", str(value))  # e.g. moto's "['SOFTWARE_TOKEN_MFA']"
    return [str(v) for v in parsed] if isinstance(parsed, list) else [str(parsed)]


def _skew_sentence(skew_s: float) -> str:
    minutes = max(1, round(abs(skew_s) / 60))
    direction = "ahead" if skew_s > 0 else "behind"
    amount = f"{minutes} minutes" if minutes < 120 else f"{round(minutes / 60)} hours"
    return (f"This computer's clock is about {amount} {direction}. Set the date and time to update "
            "automatically, then sign in again.")
