"""Start-up with a remembered session stays light (bench/ figures 4 and 5: import weight).

A fresh interpreter runs the start-up path for real: the app's modules, the remembered session
restored by a Cognito refresh against the local Cognito, the relay client and the live feed
built (``make_backends``) and the relay client's TLS context made. It must get there without
boto3, pycognito, aiohttp or requests: those are for the interactive sign-in (boto3 + pycognito,
imported then) and the devstack/relay. (botocore, for the Cognito refresh, and PyJWT, to read the
id token, are loaded: libraries over our own code, see auth/session.py.)
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
        auth.token_store._requested_backend = MemoryKeyring()
        await auth.token_store.save(sys.argv[2], sys.argv[3])
        restored = await auth.restore()
        relay, feed = real_backend_factory(profile, auth, identity_from_claims(restored.claims))
        relay._http()  # the relay's pool and TLS context
        auth.token_store.close()
        return type(restored).__name__, restored.username

    kind, user = asyncio.run(main())
    heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[4].split(",")))
    print(json.dumps({"restored": kind, "user": user, "heavy": heavy}))
""")


async def test_a_remembered_session_starts_without_the_heavy_libraries(make_session, local_cognito, new_user):
    user = new_user()
    session = make_session()
    assert isinstance(await session.sign_in(user.username, user.password), SignedIn)
    refresh_token = session._tokens.refresh_token
    settings = local_cognito.cognito_settings().model_dump()
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(settings), user.username, refresh_token, ",".join(HEAVY)],
        cwd=REPO, env=dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO)),
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["restored"] == "SignedIn" and report["user"] == user.username
    assert report["heavy"] == []
