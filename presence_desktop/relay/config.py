"""Relay configuration: one dataclass, read from ``PRESENCE_RELAY_*`` environment variables
(overridable by command-line arguments in :mod:`presence_desktop.relay.server`), and the
factory that builds a :class:`~presence_desktop.relay.core.RelayCore` from it.

AWS credentials for signing publishes are never configuration values: they come from
botocore's default chain (environment ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/
``AWS_SESSION_TOKEN``, the Lambda role, a profile...) unless a caller passes a ``Credentials``
object in code (the devstack does).

Environment variables (all optional unless marked); each is also read without ``RELAY_``
(``PRESENCE_EVENTS_HTTP_URL`` ...), the names the CloudFormation template sets on the Lambda:

=====================================  =========================================================
PRESENCE_RELAY_HOST / _PORT            bind address (default 127.0.0.1) / port (default 8443)
PRESENCE_RELAY_TLS_CERT / _TLS_KEY     PEM chain and key; both or neither (no TLS)
PRESENCE_RELAY_COGNITO_ISSUER          required: the user pool issuer URL
PRESENCE_RELAY_COGNITO_CLIENT_IDS      required: comma-separated app client ids
PRESENCE_RELAY_COGNITO_JWKS_URL        default <issuer>/.well-known/jwks.json
PRESENCE_RELAY_EVENTS_HTTP_URL         required: https://<appsync http host>/event
PRESENCE_RELAY_EVENTS_REGION           default AWS_REGION or us-east-1
PRESENCE_RELAY_EVENTS_CA_FILE          extra CA (PEM) to trust for the events endpoint
PRESENCE_RELAY_STORE                   sqlite:<path> (default sqlite:presence-relay.sqlite3)
                                       or dynamodb:<table>, or dynamodb + _TABLE_NAME=<table>
PRESENCE_RELAY_DYNAMODB_ENDPOINT       DynamoDB endpoint URL (tests, DynamoDB Local)
PRESENCE_RELAY_HEARTBEAT_TTL_S         seconds of silence before offline (default 90)
PRESENCE_RELAY_SWEEP_INTERVAL_S        seconds between expiry/outbox sweeps (default 10)
PRESENCE_RELAY_MAX_BODY_BYTES          default 4096
PRESENCE_RELAY_PUBLISH_ATTEMPTS        tries per publish (default 4; Lambda 3)
PRESENCE_RELAY_PUBLISH_TIMEOUT_S       seconds per try (default 5; Lambda 3)
PRESENCE_RELAY_RATE_PER_S / _BURST     per-user token bucket (default 2/s, burst 20)
PRESENCE_RELAY_CATALOGUE               a status catalogue JSON file (default: the shipped one)
PRESENCE_RELAY_HISTORY                 sqlite:<path> (default: the SQLite presence store's file),
                                       dynamodb:<table>, dynamodb + _HISTORY_TABLE_NAME=<table>,
                                       or off
PRESENCE_RELAY_HISTORY_RETENTION_DAYS  days of history kept (default 35)
=====================================  =========================================================
"""

from __future__ import annotations

import math
import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.credentials import Credentials

from presence_desktop.net.tls import client_ssl_context, server_ssl_context
from presence_desktop.relay.core import RelayCore, RelayLimits

if TYPE_CHECKING:
    from presence_desktop.relay.floors import FloorStore
    from presence_desktop.relay.history import HistoryStore
    from presence_desktop.relay.store import PresenceStore

Num = TypeVar("Num", int, float)
ENV_PREFIX = "PRESENCE_RELAY_"
SHORT_PREFIX = "PRESENCE_"  # the names the CloudFormation template gives the Lambda


class ConfigError(ValueError):
    """Missing or malformed relay configuration; the message names the setting."""


@dataclass
class RelayConfig:
    cognito_issuer: str
    cognito_client_ids: list[str]
    events_http_url: str
    events_region: str = "us-east-1"
    cognito_jwks_url: str | None = None
    events_ca_file: str | None = None
    host: str = "127.0.0.1"
    port: int = 8443
    tls_cert: str | None = None
    tls_key: str | None = None
    store: str = "sqlite:presence-relay.sqlite3"
    dynamodb_endpoint: str | None = None
    sweep_interval_s: float = 10.0
    publish_attempts: int = 4
    publish_timeout_s: float = 5.0
    catalogue_file: str | None = None
    history: str = "off"
    history_retention_days: int = 35
    limits: RelayLimits = field(default_factory=RelayLimits)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> RelayConfig:
        """Read ``PRESENCE_RELAY_*``; ``overrides`` (None values ignored) win. Raises ConfigError."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = overrides.get(name.lower())
            if value is not None:
                return str(value) if not isinstance(value, (list, tuple)) else ",".join(value)
            return env.get(ENV_PREFIX + name) or env.get(SHORT_PREFIX + name) or None

        def number(name: str, default: Num, kind: Callable[[str], Num]) -> Num:
            raw = get(name)
            if raw is None:
                return default
            try:
                return kind(raw)
            except ValueError:
                what = "a whole number" if kind is int else "a number"
                raise ConfigError(f"{ENV_PREFIX}{name} must be {what}, got {raw!r}") from None

        missing = [n for n in ("COGNITO_ISSUER", "COGNITO_CLIENT_IDS", "EVENTS_HTTP_URL") if not get(n)]
        if missing:
            raise ConfigError("missing setting(s): " + ", ".join(ENV_PREFIX + m for m in missing))
        limits = RelayLimits(
            max_body_bytes=number("MAX_BODY_BYTES", RelayLimits.max_body_bytes, int),
            rate_per_s=number("RATE_PER_S", RelayLimits.rate_per_s, float),
            rate_burst=number("RATE_BURST", RelayLimits.rate_burst, int),
            heartbeat_ttl_s=number("HEARTBEAT_TTL_S", RelayLimits.heartbeat_ttl_s, float),
            user_rate_per_min=number("USER_RATE_PER_MIN", RelayLimits.user_rate_per_min, int),
        )
        config = cls(
            cognito_issuer=get("COGNITO_ISSUER"),  # type: ignore[arg-type]
            cognito_client_ids=[c.strip() for c in get("COGNITO_CLIENT_IDS").split(",") if c.strip()],  # type: ignore[union-attr]
            cognito_jwks_url=get("COGNITO_JWKS_URL"),
            events_http_url=get("EVENTS_HTTP_URL"),  # type: ignore[arg-type]
            events_region=get("EVENTS_REGION") or env.get("AWS_REGION") or "us-east-1",
            events_ca_file=get("EVENTS_CA_FILE"),
            host=get("HOST") or "127.0.0.1",
            port=number("PORT", 8443, int),
            tls_cert=get("TLS_CERT"),
            tls_key=get("TLS_KEY"),
            store=_store_setting(get("STORE"), get("TABLE_NAME")),
            dynamodb_endpoint=get("DYNAMODB_ENDPOINT"),
            sweep_interval_s=number("SWEEP_INTERVAL_S", 10.0, float),
            publish_attempts=number("PUBLISH_ATTEMPTS", 4, int),
            publish_timeout_s=number("PUBLISH_TIMEOUT_S", 5.0, float),
            catalogue_file=get("CATALOGUE"),
            history=_history_setting(get("HISTORY"), get("HISTORY_TABLE_NAME"), get("STORE"), get("TABLE_NAME")),
            history_retention_days=number("HISTORY_RETENTION_DAYS", 35, int),
            limits=limits,
        )
        config.validate()
        return config

    def validate(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("give both TLS_CERT and TLS_KEY, or neither")
        if self.history != "off" and not self.history.startswith(("sqlite:", "dynamodb:")):
            raise ConfigError(f"HISTORY must be sqlite:<path>, dynamodb:<table> or off, got {self.history!r}")
        if not 1 <= self.history_retention_days <= 3650:
            raise ConfigError("HISTORY_RETENTION_DAYS must be 1-3650")
        if not self.store.startswith(("sqlite:", "dynamodb:")):
            raise ConfigError(f"STORE must be sqlite:<path> or dynamodb:<table>, got {self.store!r}")
        if not self.events_http_url.startswith("https://") and not self.events_http_url.startswith("http://127.0.0.1"):
            raise ConfigError("EVENTS_HTTP_URL must be https:// (plain http only for 127.0.0.1)")
        if self.limits.heartbeat_ttl_s <= 0 or self.sweep_interval_s <= 0 or self.publish_timeout_s <= 0:
            raise ConfigError("HEARTBEAT_TTL_S and SWEEP_INTERVAL_S must be > 0")
        # Limits that would refuse every request (413/429) or never compare true (nan, inf).
        checks = {
            "HEARTBEAT_TTL_S": math.isfinite(self.limits.heartbeat_ttl_s),
            "SWEEP_INTERVAL_S": math.isfinite(self.sweep_interval_s),
            "PUBLISH_TIMEOUT_S": math.isfinite(self.publish_timeout_s),
            "MAX_BODY_BYTES": self.limits.max_body_bytes >= 256,
            "RATE_PER_S": math.isfinite(self.limits.rate_per_s) and self.limits.rate_per_s > 0,
            "RATE_BURST": self.limits.rate_burst >= 1,
            "USER_RATE_PER_MIN": self.limits.user_rate_per_min >= 0,
            "PORT": 0 <= self.port <= 65535,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(
                "out of range: " + ", ".join(ENV_PREFIX + b for b in bad)
                + " (TTL/interval/timeout finite > 0 s, MAX_BODY_BYTES >= 256, RATE_PER_S > 0, RATE_BURST >= 1, USER_RATE_PER_MIN >= 0,"
                " PORT 0-65535)"
            )

    def server_ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls_cert:
            return None
        return server_ssl_context(self.tls_cert, self.tls_key)

    def events_ssl_context(self) -> ssl.SSLContext:
        return client_ssl_context(self.events_ca_file or None)


def _store_setting(store: str | None, table: str | None) -> str:
    if store == "dynamodb":  # PRESENCE_STORE=dynamodb + PRESENCE_TABLE_NAME=<table> (CloudFormation)
        if not table:
            raise ConfigError(f"STORE=dynamodb needs {ENV_PREFIX}TABLE_NAME (or {SHORT_PREFIX}TABLE_NAME)")
        return f"dynamodb:{table}"
    return store or "sqlite:presence-relay.sqlite3"


def _history_setting(history: str | None, table: str | None, store: str | None, store_table: str | None) -> str:
    if history == "dynamodb" or (history is None and table):
        if not table:
            raise ConfigError(f"HISTORY=dynamodb needs {ENV_PREFIX}HISTORY_TABLE_NAME")
        return f"dynamodb:{table}"
    if history:
        return history
    presence = _store_setting(store, store_table)
    return presence if presence.startswith("sqlite:") else "off"


def make_history(config: RelayConfig) -> tuple[HistoryStore | None, FloorStore | None]:
    """The history and floor stores named by ``config.history`` (None, None when off)."""
    kind, _, where = config.history.partition(":")
    if kind == "sqlite":
        from presence_desktop.relay.floors import SqliteFloors
        from presence_desktop.relay.history import SqliteHistory

        path = where or "presence-relay.sqlite3"
        return SqliteHistory(path, retention_days=config.history_retention_days), SqliteFloors(path)
    if kind == "dynamodb":
        from presence_desktop.relay.floors import DynamoFloors
        from presence_desktop.relay.history import DynamoHistory

        history = DynamoHistory(where, region=config.events_region, endpoint_url=config.dynamodb_endpoint,
                                retention_days=config.history_retention_days)
        return history, DynamoFloors(where, history.client)
    return None, None


def make_store(config: RelayConfig) -> PresenceStore:
    """The store named by ``config.store``."""
    kind, _, where = config.store.partition(":")
    if kind == "sqlite":
        from presence_desktop.relay.store import SqliteStore

        return SqliteStore(where or "presence-relay.sqlite3")
    from presence_desktop.relay.dynamo_store import DynamoStore

    return DynamoStore(where, region=config.events_region, endpoint_url=config.dynamodb_endpoint)


class ChainCredentials:
    """botocore's credential chain as a publisher's credentials source (a callable).

    Refreshable credentials (a role, SSO, IMDS) refresh themselves. Static ones (environment,
    the shared credentials file) never do, so they are read again every ``reread_s`` seconds and
    at once after :meth:`invalidate` (the publisher calls it when AppSync refuses a signature):
    a rotated credentials file then takes effect without a restart. Blocking (file reads).
    """

    def __init__(self, reread_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.reread_s = reread_s
        self.clock = clock
        self._creds: Any = None
        self._read_at = 0.0

    def __call__(self) -> Any:
        stale = self._creds is None or (
            not hasattr(self._creds, "refresh_needed")  # RefreshableCredentials refresh themselves
            and self.clock() - self._read_at >= self.reread_s
        )
        if stale:
            import botocore.session

            self._creds = botocore.session.get_session().get_credentials()
            self._read_at = self.clock()
        return self._creds

    def invalidate(self) -> bool:
        """Forget the credentials and read the chain again. Returns True when they changed
        (different access key, secret or session token)."""
        before = _frozen(self._creds)
        self._creds = None
        return _frozen(self()) != before


def _frozen(creds: Any) -> tuple[str, str, str | None] | None:
    if creds is None:
        return None
    frozen = creds.get_frozen_credentials()
    return (frozen.access_key, frozen.secret_key, frozen.token)


def build_core(config: RelayConfig, credentials: Credentials | None = None, store: PresenceStore | None = None) -> RelayCore:
    """Wire verifier, store, publisher and catalogue. ``credentials`` None = botocore's chain."""
    from presence_desktop.domain.statuses import StatusCatalogue
    from presence_desktop.relay.cognito_jwt import CognitoTokenVerifier
    from presence_desktop.relay.publisher import EventsPublisher, RetryPolicy

    verifier = CognitoTokenVerifier(
        issuer=config.cognito_issuer,
        client_ids=config.cognito_client_ids,
        jwks_url=config.cognito_jwks_url or config.cognito_issuer.rstrip("/") + "/.well-known/jwks.json",
    )
    creds: Any = ChainCredentials() if credentials is None else credentials
    retry = RetryPolicy(attempts=max(1, config.publish_attempts), timeout_s=config.publish_timeout_s)
    publisher = EventsPublisher(
        config.events_http_url, config.events_region, creds, ssl_context=config.events_ssl_context(), retry=retry
    )
    catalogue = StatusCatalogue.load(config.catalogue_file) if config.catalogue_file else None
    history, floors = make_history(config)
    return RelayCore(verifier, store or make_store(config), publisher, catalogue=catalogue, limits=config.limits,
                     history=history, floors=floors, history_retention_days=config.history_retention_days)
