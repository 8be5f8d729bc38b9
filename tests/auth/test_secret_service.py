"""The token store against a real Secret Service: gnome-keyring inside a private D-Bus session.

Needs ``gnome-keyring`` and ``dbus-run-session`` (Debian: ``apt-get install -y gnome-keyring
dbus-x11``; ``make test`` installs them best-effort when run as root). Skipped, with that reason,
where they are missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = r'''
import asyncio, json, keyring, secrets
from presence_desktop.auth.token_store import TokenStore

async def main():
    token = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") for _ in range(4000))
    store = TokenStore("pool/client", timeout_s=20)
    saved = await store.save("agent-1", token)
    again = TokenStore("pool/client", timeout_s=20)   # a second instance, as after a restart
    loaded = await again.load()
    await again.clear()
    after = await TokenStore("pool/client", timeout_s=20).load()
    print(json.dumps({
        "default": type(keyring.get_keyring()).__name__,
        "backend": type(again._backend).__module__ + "." + type(again._backend).__name__,
        "saved": saved, "status": store.status_message,
        "round_trip": loaded is not None and loaded.refresh_token == token and loaded.username == "agent-1",
        "after_clear": after is None,
    }))

asyncio.run(main())
'''


def test_real_secret_service_round_trip(tmp_path: Path) -> None:
    missing = [t for t in ("dbus-run-session", "gnome-keyring-daemon") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"no real Secret Service here: {', '.join(missing)} not installed "
                    "(apt-get install -y gnome-keyring dbus-x11; `make test` does it as root)")
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "PYTHON_KEYRING", "XDG_"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
               PYTHONPATH=str(ROOT))
    cmd = ["dbus-run-session", "--", "sh", "-c",
           'echo -n test-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; '
           f'exec "{sys.executable}" "{probe}"']
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["backend"] == "keyring.backends.SecretService.Keyring", result
    assert result["saved"] is True and result["status"] is None
    assert result["round_trip"] is True
    assert result["after_clear"] is True
    # gnome-keyring holds it; no plaintext keyring file was written
    assert not list(home.rglob("keyring_pass.cfg")) and not (home / "data" / "python_keyring").exists()
