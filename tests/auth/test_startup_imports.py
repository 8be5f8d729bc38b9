"""Start-up with a remembered session stays light (bench/ figures 4 and 5: import weight).

A fresh interpreter runs the start-up path for real: the app's modules, the remembered session
restored by a Cognito refresh against the local Cognito, the relay client and the live feed
built (``make_backends``) and the relay client's TLS context made. It must get there without
boto3, pycognito, aiohttp or requests: those are for the interactive sign-in (boto3 + pycognito,
imported then) and the devstack/relay. (PyJWT, to read the id token, is loaded: a library over our own
code, see auth/session.py.) botocore is loaded only when the restore has to refresh: a restart
within the remembered id token's lifetime loads none of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from presence_desktop.auth.session import SignedIn

REPO = Path(__file__).resolve().parents[2]  # tests/auth/ -> repo
HEAVY = ("boto3", "pycognito", "aiohttp", "requests", "s3transfer")

PROBE = textwrap.dedent("""
    import asyncio, json, sys
    import presence_desktop.app.gui, presence_desktop.ui.gui_app  # what the entry point loads
    from presence_desktop.app.gui import real_auth_factory, real_backend_factory
    from presence_desktop.client.profile import CognitoSettings, EventsSettings, Profile, RelaySettings
    from presence_desktop.ui.gui_app import identity_from_claims
    from tests.auth.memkeyring import MemoryKeyring

    settings = json.loads(sys.argv[1])
    profile = Profile(name="probe", kind="aws", cognito=CognitoSettings(**settings),
                      events=EventsSettings(http_url="https://127.0.0.1:9/event", region="us-east-1",
                                            realtime_url="wss://127.0.0.1:9/event/realtime"),
                      relay=RelaySettings(url="https://127.0.0.1:9"))

    async def main():
        auth = real_auth_factory(profile, True)
        keyring = MemoryKeyring()
        keyring.entries.update({tuple(k.split("|", 1)): v for k, v in json.loads(sys.argv[2]).items()})
        auth.token_store._requested_backend = keyring
        restored = await auth.restore()
        relay, feed = real_backend_factory(profile, auth, identity_from_claims(restored.claims))
        relay._http()  # the relay's pool and TLS context
        auth.token_store.close()
        return type(restored).__name__, restored.username

    kind, user = asyncio.run(main())
    heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[3].split(",")))
    print(json.dumps({"restored": kind, "user": user, "heavy": heavy}))
""")


def _start_up(settings: dict, entries: dict, heavy: tuple[str, ...]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(settings),
         json.dumps({"|".join(k): v for k, v in entries.items()}), ",".join(heavy)],
        cwd=REPO, env=dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO)),
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


async def test_a_remembered_session_starts_without_the_heavy_libraries(make_session, local_cognito, new_user,
                                                                       keyring_backend):
    user = new_user()
    session = make_session()
    assert isinstance(await session.sign_in(user.username, user.password), SignedIn)
    settings = local_cognito.cognito_settings().model_dump()
    # Within the id token's lifetime: no Cognito call, so not even botocore.
    report = _start_up(settings, keyring_backend.entries, HEAVY + ("botocore",))
    assert report["restored"] == "SignedIn" and report["user"] == user.username
    assert report["heavy"] == []
    # Only the refresh token remembered (an older app's entry, or tokens past their refresh
    # point): the restore refreshes through botocore, still without boto3 or pycognito.
    await session.token_store.save(user.username, session._tokens.refresh_token)
    report = _start_up(settings, keyring_backend.entries, HEAVY + ("botocore",))
    assert report["restored"] == "SignedIn" and report["heavy"] == ["botocore"]
