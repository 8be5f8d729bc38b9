"""Turn the CloudFormation stack's outputs (packaging/cloudformation/presence.yaml) into an app profile.

    aws cloudformation describe-stacks --stack-name presence \\
        --query Stacks[0].Outputs --output json > outputs.json
    presence-desktop profile import --stack-outputs outputs.json [--name NAME] [--force]

Accepted input shapes (JSON):

- the list ``describe-stacks --query Stacks[0].Outputs`` prints:
  ``[{"OutputKey": "Region", "OutputValue": "eu-west-1"}, ...]``;
- a flat map ``{"Region": "eu-west-1", ...}``;
- the whole ``describe-stacks`` answer ``{"Stacks": [{"Outputs": [...]}]}`` (one stack).

Output keys used (the template's outputs, exactly): ``Region``, ``UserPoolId``,
``UserPoolClientId``, ``EventsHttpUrl`` (``https://<Dns.Http>/event``), ``EventsRealtimeUrl``
(``wss://<Dns.Realtime>/event/realtime``), ``RelayUrl`` (the relay's Lambda function URL).
Other keys are ignored.

The profile is saved through the app's own store, :class:`presence_desktop.client.settings.SettingsStore`
(``<config dir>/profiles/<name>.json``; the config dir is ``$PRESENCE_DESKTOP_CONFIG_DIR`` or
platformdirs' user config dir for ``presence-desktop``), where ``presence-desktop --profile NAME``
reads it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from presence_desktop.client.profile import CognitoSettings, EventsSettings, Profile, RelaySettings

REQUIRED_OUTPUTS = ("Region", "UserPoolId", "UserPoolClientId", "EventsHttpUrl", "EventsRealtimeUrl", "RelayUrl")
PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


class ProfileImportError(ValueError):
    """Stack outputs that cannot become a profile; the message says what is wrong and how to fix it."""


def outputs_to_map(data: Any) -> dict[str, str]:
    """Normalize any accepted input shape (module docstring) to ``{OutputKey: OutputValue}``.

    Raises :class:`ProfileImportError` for any other shape.
    """
    if isinstance(data, Mapping) and "Stacks" in data:
        stacks = data["Stacks"]
        if not isinstance(stacks, list) or len(stacks) != 1 or not isinstance(stacks[0], Mapping):
            raise ProfileImportError("describe-stacks output must hold exactly one stack (use --stack-name)")
        data = stacks[0].get("Outputs")
        if data is None:
            raise ProfileImportError("the stack has no Outputs yet (is it still being created?)")
    if isinstance(data, list):
        result: dict[str, str] = {}
        for item in data:
            if not isinstance(item, Mapping) or "OutputKey" not in item or "OutputValue" not in item:
                raise ProfileImportError(f"each output must be {{'OutputKey', 'OutputValue'}}, got {item!r}")
            result[str(item["OutputKey"])] = item["OutputValue"]
        data = result
    if not isinstance(data, Mapping):
        raise ProfileImportError(
            "expected the JSON of `aws cloudformation describe-stacks --query Stacks[0].Outputs` "
            "(a list of {OutputKey, OutputValue}) or a flat {key: value} object"
        )
    for key, value in data.items():
        if not isinstance(value, str):
            raise ProfileImportError(f"output {key!r} must be a string, got {type(value).__name__}")
    return {str(k): v for k, v in data.items()}


def _require_url(key: str, value: str, scheme: str, suffix: str | None) -> str:
    value = value.strip()
    if not value.startswith(scheme + "://") or len(value) <= len(scheme) + 3:
        raise ProfileImportError(f"{key} must be a {scheme}:// URL, got {value!r}")
    if suffix is not None and not value.endswith(suffix):
        raise ProfileImportError(f"{key} must end with {suffix}, got {value!r}")
    return value


def profile_from_outputs(outputs: Any, name: str = "aws") -> Profile:
    """Build an ``aws`` :class:`Profile` from stack outputs (any accepted shape).

    Raises :class:`ProfileImportError` naming missing or malformed outputs.
    """
    if not PROFILE_NAME_RE.match(name):
        raise ProfileImportError(f"profile name {name!r}: 1-64 of letters, digits, '.', '_', '-'")
    values = outputs_to_map(outputs)
    missing = [key for key in REQUIRED_OUTPUTS if not values.get(key, "").strip()]
    if missing:
        raise ProfileImportError(
            f"missing stack output(s): {', '.join(missing)}; were these outputs made by "
            "packaging/cloudformation/presence.yaml?"
        )
    region = values["Region"].strip()
    if not _REGION_RE.match(region):
        raise ProfileImportError(f"Region {region!r} is not an AWS region name")
    pool_id = values["UserPoolId"].strip()
    if not pool_id.startswith(region + "_"):
        raise ProfileImportError(f"UserPoolId {pool_id!r} is not a user pool of region {region}")
    http_url = _require_url("EventsHttpUrl", values["EventsHttpUrl"], "https", "/event")
    realtime_url = _require_url("EventsRealtimeUrl", values["EventsRealtimeUrl"], "wss", "/event/realtime")
    # Function URLs end with '/'; the app joins paths like /v1/status onto a base without one.
    relay_url = _require_url("RelayUrl", values["RelayUrl"], "https", None).rstrip("/")
    try:
        return Profile(
            name=name,
            kind="aws",
            cognito=CognitoSettings(region=region, user_pool_id=pool_id, client_id=values["UserPoolClientId"].strip()),
            events=EventsSettings(http_url=http_url, realtime_url=realtime_url, region=region),
            relay=RelaySettings(url=relay_url),
        )
    except ValidationError as exc:
        raise ProfileImportError(f"the outputs do not make a valid profile: {exc}") from None


def save_profile(profile: Profile, *, config_root: Path | None = None, overwrite: bool = False) -> Path:
    """Save ``profile`` in the app's settings store (root ``config_root``, default the user's config
    dir) and return the file written.

    Raises ``FileExistsError`` if a profile of that name exists and not ``overwrite``; ``OSError``.
    """
    from presence_desktop.client.settings import SettingsStore

    store = SettingsStore(config_root)
    if profile.name in store.profile_names() and not overwrite:
        existing = store.profiles_dir / f"{profile.name}.json"
        raise FileExistsError(f"profile {profile.name!r} already exists at {existing} (use --force to replace it)")
    return store.save_profile(profile)


def load_outputs(source: str) -> Any:
    """Read the outputs JSON from a file path, or standard input for ``-``.

    Raises :class:`ProfileImportError` (unreadable file, not JSON).
    """
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileImportError(f"cannot read {source}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileImportError(f"{source} is not JSON ({exc.msg} at line {exc.lineno})") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="presence-desktop profile import",
        description="Create an app profile from the presence CloudFormation stack's outputs.",
    )
    parser.add_argument(
        "--stack-outputs",
        required=True,
        metavar="FILE",
        help="JSON of `aws cloudformation describe-stacks --stack-name S --query Stacks[0].Outputs` ('-': stdin)",
    )
    parser.add_argument("--name", default="aws", help="profile name (default: aws)")
    parser.add_argument("--force", action="store_true", help="replace an existing profile of that name")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``presence-desktop profile import`` (argv: the arguments after ``profile import``).

    Returns 0 on success, 1 when the outputs or the save fail (message on stderr); argparse exits 2
    on bad arguments.
    """
    args = build_parser().parse_args(argv)
    try:
        profile = profile_from_outputs(load_outputs(args.stack_outputs), name=args.name)
        path = save_profile(profile, overwrite=args.force)
    except (ProfileImportError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot save the profile: {exc}", file=sys.stderr)
        return 1
    print(f"saved profile {profile.name!r} ({profile.events.region}) to {path}")
    print(f"start the app with: presence-desktop --profile {profile.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
