"""Profiles: where the app's backend lives (the local devstack, or a real AWS deployment).

One typed place for settings (pydantic). A profile is what the app needs to reach Cognito, the
AppSync Events endpoints and the relay. Saved profiles come from ``presence-desktop profile
import`` (app/profile_import.py); the devstack's ready file converts into the local one
(devstack/launcher.py ``profile_from_ready_file``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from presence_desktop.events_api.reconnect import ReconnectSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CognitoSettings(_Strict):
    """A Cognito user pool and its public app client (no client secret)."""

    region: str
    user_pool_id: str
    client_id: str
    endpoint: str | None = Field(
        default=None, description="Cognito IdP endpoint URL; None = the AWS regional endpoint"
    )
    issuer: str | None = Field(default=None, description="JWT issuer; None = derived from region and pool id")
    jwks_url: str | None = Field(default=None, description="None = <issuer>/.well-known/jwks.json")
    password_policy: str | None = Field(
        default=None, description="the pool's password rules in words, shown when a new password is required "
        "(a public app client cannot read them from Cognito); None = not known here"
    )

    @property
    def effective_issuer(self) -> str:
        return self.issuer or f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def effective_jwks_url(self) -> str:
        return self.jwks_url or f"{self.effective_issuer}/.well-known/jwks.json"


def describe_password_policy(policy: dict[str, Any]) -> str:
    """A Cognito ``PasswordPolicy`` (``MinimumLength``, ``RequireUppercase``, ``RequireLowercase``,
    ``RequireNumbers``, ``RequireSymbols``) in words, e.g. "At least 12 characters, with an upper-case
    letter, a lower-case letter and a number." (https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-settings-policies.html)"""
    needs = [label for key, label in (("RequireUppercase", "an upper-case letter"),
                                      ("RequireLowercase", "a lower-case letter"),
                                      ("RequireNumbers", "a number"), ("RequireSymbols", "a symbol"))
             if policy.get(key)]
    text = f"At least {int(policy.get('MinimumLength', 8))} characters"
    if needs:
        text += ", with " + (", ".join(needs[:-1]) + " and " + needs[-1] if len(needs) > 1 else needs[0])
    return text + "."


class LivenessSettings(_Strict):
    """How the realtime client tells a live connection from a dead one (events_api/client.py)."""

    ws_ping_interval_s: float | None = Field(
        default=None, gt=0,
        description="WebSocket protocol pings; None (default) sends none, as AWS's clients do "
        "(whether AppSync answers pings is UNCONFIRMED)",
    )
    ka_interval_s: float = Field(
        default=60.0, gt=0,
        description="ka interval to expect before two are seen (AppSync: about 60 s, UNCONFIRMED)",
    )
    ka_late_after: float = Field(default=1.1, gt=0, description="intervals without ka before the roster shows stale")
    ka_dead_after: float = Field(default=2.5, gt=0, description="intervals without ka before the connection is replaced")


class EventsSettings(_Strict):
    """The AppSync Events API: ``http_url`` is ``https://<host>/event``, ``realtime_url`` is
    ``wss://<host>/event/realtime``."""

    http_url: str
    realtime_url: str
    region: str
    namespace: str = "agent-presence"
    ca_file: str | None = Field(default=None, description="extra CA (PEM) to trust, e.g. the devstack's local CA")
    allow_plaintext: bool = Field(default=False, description="permit ws:// and http:// (devstack --no-tls only)")
    api_key: str | None = Field(default=None, description="only for tools and tests on the 'default' namespace")
    reconnect: ReconnectSettings = Field(
        default_factory=ReconnectSettings,
        description="the realtime client's reconnect policy (presence_desktop/events_api/reconnect.py)",
    )
    liveness: LivenessSettings = Field(default_factory=LivenessSettings)

    @field_validator("realtime_url")
    @classmethod
    def _realtime_scheme(cls, v: str) -> str:
        if not v.startswith(("wss://", "ws://")):
            raise ValueError("realtime_url must start with wss:// (or ws:// with allow_plaintext)")
        return v


class RelaySettings(_Strict):
    url: str = Field(description="base URL of the relay, e.g. https://127.0.0.1:8443")
    ca_file: str | None = None


class Profile(_Strict):
    """Everything the desktop app needs to reach one backend."""

    name: str
    kind: Literal["local", "aws"] = "aws"
    cognito: CognitoSettings
    events: EventsSettings
    relay: RelaySettings
