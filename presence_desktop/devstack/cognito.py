"""A local Cognito user pool for the devstack and the tests: moto's user-pool API on 127.0.0.1,
with the SRP password proof verified for real.

moto implements the Cognito IdP API (users, groups, tokens signed RS256, JWKS, refresh,
new-password and TOTP challenges, GlobalSignOut) but it does not check the SRP proof: with moto
alone any password signs in. :func:`install_srp_verifier` patches moto's backend so that
``InitiateAuth(USER_SRP_AUTH)`` returns a real server challenge (salt, B, secret block) and
``RespondToAuthChallenge(PASSWORD_VERIFIER)`` checks the client's HMAC claim; a wrong password
gets ``NotAuthorizedException`` as in AWS.

Protocol (Cognito's variant of SRP-6a, RFC 5054 3072-bit group, SHA-256), as implemented by
AWS's own clients (amazon-cognito-identity-js ``AuthenticationHelper``, Amplify v6
``signInHelpers``) and pycognito ``aws_srp``:

- k = H(pad(N) | pad(g)), x = H(pad(salt) | H(poolname | userIdForSrp ":" password)), v = g^x
- server: B = k*v + g^b (mod N); u = H(pad(A) | pad(B)); S = (A * v^u)^b (mod N)
- key = HKDF-SHA256(ikm=pad(S), salt=pad(u), info="Caldera Derived Key")[:16]
- claim = base64(HMAC-SHA256(key, poolname | userIdForSrp | secret block bytes | timestamp))
  with timestamp "EEE MMM d HH:mm:ss UTC yyyy" in English (e.g. "Sun Nov 29 20:05:13 UTC 2026").

moto keeps each user's password in plaintext, so the verifier v is derived from it on demand.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# --- SRP (server side) ----------------------------------------------------------------------

_SRP_SESSION_TTL_S = 180  # Cognito's auth sessions last 3 minutes
_TIMESTAMP_RE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] UTC [0-9]{4}$"
)


@dataclass
class _PendingSrp:
    moto_session: str
    username: str
    user_id_for_srp: str
    pool_name: str
    salt_hex: str
    small_b: int
    big_b: int
    big_a: int
    created: float = field(default_factory=time.monotonic)


_pending: dict[str, _PendingSrp] = {}
# moto sessions handed out with a PASSWORD_VERIFIER challenge whose proof has not been checked:
# moto would accept them for any other challenge (NEW_PASSWORD_REQUIRED, SMS_MFA, MFA_SETUP ...)
# and issue tokens, or set a new password, without the password.
_unverified: set[str] = set()
_pending_lock = threading.Lock()
_installed = False
_install_lock = threading.Lock()


def _srp_consts() -> tuple[int, int, int]:
    from pycognito import aws_srp

    big_n = aws_srp.hex_to_long(aws_srp.N_HEX)
    g = aws_srp.hex_to_long(aws_srp.G_HEX)
    k = aws_srp.hex_to_long(aws_srp.hex_hash("00" + aws_srp.N_HEX + "0" + aws_srp.G_HEX))
    return big_n, g, k


def _random_salt_hex() -> str:
    """16 random bytes whose hex form needs no padding (first byte 0x10..0x7f): every client
    pads the salt the same way then (some parse it to an integer, some keep the string)."""
    first = 0x10 + secrets.randbelow(0x70)
    return f"{first:02x}" + secrets.token_hex(15)


def _password_verifier(pool_name: str, user_id: str, password: str, salt_hex: str) -> int:
    from pycognito import aws_srp

    big_n, g, _ = _srp_consts()
    inner = aws_srp.hash_sha256(f"{pool_name}{user_id}:{password}".encode())
    x = aws_srp.hex_to_long(aws_srp.hex_hash(aws_srp.pad_hex(salt_hex) + inner))
    return pow(g, x, big_n)


def _expected_claim(p: _PendingSrp, password: str, secret_block_b64: str, timestamp: str) -> str:
    from pycognito import aws_srp

    big_n, _, _ = _srp_consts()
    v = _password_verifier(p.pool_name, p.user_id_for_srp, password, p.salt_hex)
    u = aws_srp.calculate_u(p.big_a, p.big_b)
    s = pow(p.big_a * pow(v, u, big_n), p.small_b, big_n)
    key = aws_srp.compute_hkdf(
        bytearray.fromhex(aws_srp.pad_hex(s)), bytearray.fromhex(aws_srp.pad_hex(aws_srp.long_to_hex(u)))
    )
    msg = (
        p.pool_name.encode("utf-8")
        + p.user_id_for_srp.encode("utf-8")
        + base64.standard_b64decode(secret_block_b64)
        + timestamp.encode("utf-8")
    )
    return base64.standard_b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode("ascii")


def install_srp_verifier() -> None:
    """Patch moto's Cognito backend (process-wide, idempotent) to verify SRP proofs.

    Affects every moto Cognito backend in this process (which is what a local stack wants).
    Errors as AWS returns them: wrong password -> NotAuthorizedException "Incorrect username or
    password."; user in RESET_REQUIRED -> PasswordResetRequiredException; answering any other
    challenge with the session of an unproven PASSWORD_VERIFIER -> NotAuthorizedException; a refresh
    (REFRESH_TOKEN_AUTH) for a disabled or deleted user -> NotAuthorizedException.
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.cognitoidp import models as cm
        from moto.cognitoidp.exceptions import NotAuthorizedError, ResourceNotFoundError
        from moto.core.exceptions import JsonRESTError

        class PasswordResetRequiredError(JsonRESTError):
            def __init__(self) -> None:
                super().__init__("PasswordResetRequiredException", "Password reset required for the user")

        backend_cls = cm.CognitoIdpBackend
        orig_initiate = backend_cls.initiate_auth
        orig_respond = backend_cls.respond_to_auth_challenge

        def initiate_auth(self: Any, client_id: str, auth_flow: str, auth_parameters: dict[str, str]) -> dict:
            flow = str(getattr(auth_flow, "value", auth_flow))
            if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
                _check_refresh_user(self, client_id, (auth_parameters or {}).get("REFRESH_TOKEN"))
            result = orig_initiate(self, client_id, auth_flow, auth_parameters)
            if flow != "USER_SRP_AUTH":
                return result
            moto_session = result["Session"]
            _, pool = self.sessions[moto_session]
            user = pool._get_user(auth_parameters["USERNAME"])
            if user.status == cm.UserStatus.RESET_REQUIRED:
                self.sessions.pop(moto_session, None)
                raise PasswordResetRequiredError()
            big_n, g, k = _srp_consts()
            try:
                big_a = int(auth_parameters["SRP_A"], 16)
            except ValueError:
                raise NotAuthorizedError("Invalid SRP_A") from None
            if big_a % big_n == 0:
                raise NotAuthorizedError("Invalid SRP_A")
            pool_name = pool.id.split("_", 1)[1]
            user_id_for_srp = user.username  # AWS: the username (sub only for alias-as-username pools)
            salt_hex = _random_salt_hex()
            v = _password_verifier(pool_name, user_id_for_srp, user.password or "", salt_hex)
            while True:
                small_b = secrets.randbits(256)
                big_b = (k * v + pow(g, small_b, big_n)) % big_n
                if big_b != 0:
                    break
            secret_block = base64.standard_b64encode(secrets.token_bytes(48)).decode("ascii")
            now = time.monotonic()
            with _pending_lock:
                for key in [k_ for k_, p in _pending.items() if now - p.created > _SRP_SESSION_TTL_S]:
                    _pending.pop(key, None)
                _unverified.intersection_update(self.sessions)  # forget sessions moto dropped
                _unverified.add(moto_session)
                _pending[secret_block] = _PendingSrp(
                    moto_session, user.username, user_id_for_srp, pool_name, salt_hex, small_b, big_b, big_a
                )
            params = dict(result.get("ChallengeParameters", {}))
            params.update(
                SALT=salt_hex,
                SRP_B=format(big_b, "x"),
                SECRET_BLOCK=secret_block,
                USERNAME=user.username,
                USER_ID_FOR_SRP=user_id_for_srp,
            )
            return {**result, "ChallengeParameters": params}

        def respond_to_auth_challenge(
            self: Any, session: str, client_id: str, challenge_name: str, challenge_responses: dict[str, str]
        ) -> dict:
            if challenge_name != "PASSWORD_VERIFIER":
                with _pending_lock:
                    skipping_proof = session in _unverified
                if skipping_proof:
                    raise NotAuthorizedError("Invalid session for the user.")
                return orig_respond(self, session, client_id, challenge_name, challenge_responses)
            block = challenge_responses.get("PASSWORD_CLAIM_SECRET_BLOCK") or ""
            with _pending_lock:
                pending = _pending.pop(block, None)  # one proof per challenge
            if pending is None or time.monotonic() - pending.created > _SRP_SESSION_TTL_S:
                raise ResourceNotFoundError("Invalid or expired SRP session")
            if pending.moto_session not in self.sessions:
                raise ResourceNotFoundError("Invalid or expired SRP session")
            _, pool = self.sessions[pending.moto_session]
            if client_id not in pool.clients:
                raise ResourceNotFoundError(client_id)
            timestamp = challenge_responses.get("TIMESTAMP") or ""
            signature = challenge_responses.get("PASSWORD_CLAIM_SIGNATURE") or ""
            if not _TIMESTAMP_RE.match(timestamp):
                # AWS parses the timestamp (English names); a localised one fails the sign-in.
                self.sessions.pop(pending.moto_session, None)
                raise NotAuthorizedError("Incorrect username or password.")
            user = pool._get_user(pending.username)
            expected = _expected_claim(pending, (user.password if user else "") or "", block, timestamp)
            if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace")):
                self.sessions.pop(pending.moto_session, None)
                raise NotAuthorizedError("Incorrect username or password.")
            with _pending_lock:
                _unverified.discard(pending.moto_session)  # proven: its next challenge may be answered
            responses = dict(challenge_responses)
            responses["PASSWORD_CLAIM_SECRET_BLOCK"] = pending.moto_session  # moto keys sessions by it
            responses["USERNAME"] = pending.username
            return orig_respond(self, session, client_id, challenge_name, responses)

        def _check_refresh_user(backend: Any, client_id: str, refresh_token: str | None) -> None:
            # moto refreshes for disabled and deleted users (a deleted one even gets a 500);
            # Cognito answers NotAuthorizedException, which ends the app's session.
            for pool in backend.user_pools.values():
                if client_id in pool.clients:
                    entry = pool.refresh_tokens.get(refresh_token or "")
                    username = entry[1] if entry else None
                    if not username:
                        return  # moto's own answer (revoked / unknown token)
                    user = pool.users.get(username)
                    if user is None:
                        raise NotAuthorizedError("User does not exist.")
                    if not user.enabled:
                        raise NotAuthorizedError("User is disabled.")
                    return

        backend_cls.initiate_auth = initiate_auth  # type: ignore[method-assign]
        backend_cls.respond_to_auth_challenge = respond_to_auth_challenge  # type: ignore[method-assign]
        _installed = True


# --- the local pool ---------------------------------------------------------------------------

PASSWORD_POLICY = {
    "MinimumLength": 8,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
}
GROUP_SUPERVISORS = "supervisors"
GROUP_AGENTS = "support_agents"


def generate_password() -> str:
    """A random password meeting :data:`PASSWORD_POLICY` (upper, lower, digit, symbol)."""
    return f"Pw-{secrets.token_urlsafe(9)}-a1A!"


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    groups: tuple[str, ...]
    team_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"username": self.username, "password": self.password, "groups": list(self.groups),
                "team_id": self.team_id}


class LocalCognito:
    """moto's Cognito user pool on ``host:port`` (port 0 = any free port) with real SRP checks.

    One pool (``presence-local``), custom attribute ``custom:team_id``, groups ``supervisors``
    and ``support_agents``, one public app client (no secret) allowing USER_SRP_AUTH and
    REFRESH_TOKEN_AUTH, and seeded demo users: ``sup-1`` (supervisors, team-1), ``agent-1`` ..
    ``agent-<agents>`` (support_agents, spread over team-1 .. team-<teams>), ``outsider`` (no group).

    ``start_sync()`` / ``stop_sync()`` block (tests); ``await start()`` / ``await stop()`` run
    them in a thread (DevStack). After start: ``endpoint`` ("http://127.0.0.1:P"),
    ``user_pool_id``, ``client_id``, ``issuer`` (AWS form
    ``https://cognito-idp.<region>.amazonaws.com/<pool_id>``), ``jwks_url``, ``users``.

    ``enable_totp`` sets ``MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true`` in this process so
    moto checks TOTP codes (moto uses one fixed TOTP secret for all users).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        *,
        agents: int = 40,
        teams: int = 4,
        demo_password: str | None = None,
        enable_totp: bool = True,
    ) -> None:
        if agents < 0 or teams < 1:
            raise ValueError("agents must be >= 0 and teams >= 1")
        self.host = host
        self.port = port
        self.region = region
        self.agents = agents
        self.teams = teams
        self._demo_password = demo_password
        self._enable_totp = enable_totp
        self._server: Any = None
        self.endpoint = ""
        self.user_pool_id = ""
        self.client_id = ""
        self.users: list[DemoUser] = []

    # --- properties ---
    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.user_pool_id}/.well-known/jwks.json"

    def user(self, username: str) -> DemoUser:
        """The seeded user ``username``; KeyError if unknown."""
        for u in self.users:
            if u.username == username:
                return u
        raise KeyError(username)

    def admin_client(self) -> Any:
        """A boto3 cognito-idp client for this server (dummy credentials; admin APIs)."""
        import boto3

        return boto3.client(
            "cognito-idp",
            region_name=self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def cognito_settings(self) -> Any:
        """A :class:`presence_desktop.client.profile.CognitoSettings` for this pool."""
        from presence_desktop.client.profile import CognitoSettings

        return CognitoSettings(
            region=self.region, user_pool_id=self.user_pool_id, client_id=self.client_id,
            endpoint=self.endpoint, issuer=self.issuer, jwks_url=self.jwks_url,
        )

    # --- lifecycle ---
    def start_sync(self) -> None:
        """Start the server, create the pool and seed the users. Blocks ~1 s."""
        if self._server is not None:
            return
        from moto.server import ThreadedMotoServer

        install_srp_verifier()
        if self._enable_totp:
            os.environ["MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"] = "true"
        wlog = logging.getLogger("werkzeug")
        if wlog.level == logging.NOTSET:
            wlog.setLevel(logging.WARNING)  # one access-log line per request is noise here
        server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        server.start()
        self._server = server
        port = server._server.server_port  # the real port when asked for 0
        self.port = port
        self.endpoint = f"http://{self.host}:{port}"
        try:
            self._create_pool()
        except Exception:
            self.stop_sync()
            raise
        log.info("local Cognito on %s, pool %s, %d demo users", self.endpoint, self.user_pool_id, len(self.users))

    def stop_sync(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    async def start(self) -> None:
        await asyncio.to_thread(self.start_sync)

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_sync)

    def ready_info(self) -> dict[str, Any]:
        """The devstack ready-file sections ``cognito`` and ``users`` (passwords included)."""
        return {
            "cognito": {
                "endpoint": self.endpoint,
                "region": self.region,
                "user_pool_id": self.user_pool_id,
                "client_id": self.client_id,
                "jwks_url": self.jwks_url,
                "issuer": self.issuer,
            },
            "users": [u.as_dict() for u in self.users],
        }

    # --- seeding ---
    def _create_pool(self) -> None:
        idp = self.admin_client()
        pool = idp.create_user_pool(
            PoolName="presence-local",
            Policies={"PasswordPolicy": PASSWORD_POLICY},
            Schema=[{"Name": "team_id", "AttributeDataType": "String", "Mutable": True}],
            MfaConfiguration="OPTIONAL",
        )["UserPool"]
        self.user_pool_id = pool["Id"]
        self.client_id = idp.create_user_pool_client(
            UserPoolId=self.user_pool_id,
            ClientName="presence-desktop",
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            # As the CloudFormation app client: the roster shows `name`; users cannot move teams.
            ReadAttributes=["custom:team_id", "name", "preferred_username", "email"],
            WriteAttributes=["name", "preferred_username"],
        )["UserPoolClient"]["ClientId"]
        for group in (GROUP_SUPERVISORS, GROUP_AGENTS):
            idp.create_group(GroupName=group, UserPoolId=self.user_pool_id)
        seeds: list[tuple[str, tuple[str, ...], str | None]] = [("sup-1", (GROUP_SUPERVISORS,), "team-1")]
        seeds += [
            (f"agent-{i}", (GROUP_AGENTS,), f"team-{(i - 1) % self.teams + 1}") for i in range(1, self.agents + 1)
        ]
        seeds.append(("outsider", (), None))
        self.users = [
            self.create_user(name, groups=groups, team_id=team, password=self._demo_password, client=idp)
            for name, groups, team in seeds
        ]

    def create_user(
        self,
        username: str,
        *,
        password: str | None = None,
        groups: tuple[str, ...] | list[str] = (),
        team_id: str | None = None,
        temporary: bool = False,
        enabled: bool = True,
        attributes: dict[str, str] | None = None,
        client: Any = None,
    ) -> DemoUser:
        """Create a user (tests and seeding). ``temporary=True`` leaves it in
        FORCE_CHANGE_PASSWORD (the next sign-in gets NEW_PASSWORD_REQUIRED); ``attributes``
        adds user attributes (e.g. ``{"email": .., "email_verified": "true"}``). Returns the user
        with its password. Raises botocore ClientError (e.g. UsernameExistsException)."""
        idp = client or self.admin_client()
        password = password or generate_password()
        attrs = [{"Name": "custom:team_id", "Value": team_id}] if team_id else []
        attrs += [{"Name": k, "Value": v} for k, v in (attributes or {}).items()]
        idp.admin_create_user(
            UserPoolId=self.user_pool_id, Username=username, TemporaryPassword=password,
            UserAttributes=attrs, MessageAction="SUPPRESS",
        )
        if not temporary:
            idp.admin_set_user_password(
                UserPoolId=self.user_pool_id, Username=username, Password=password, Permanent=True
            )
        for group in groups:
            idp.admin_add_user_to_group(UserPoolId=self.user_pool_id, Username=username, GroupName=group)
        if not enabled:
            idp.admin_disable_user(UserPoolId=self.user_pool_id, Username=username)
        return DemoUser(username, password, tuple(groups), team_id)
