"""Builds the workstation app with packaging/pyinstaller/presence-desktop.spec into a temporary
folder and runs the frozen binary offscreen: ``--version`` and ``--self-test`` must exit 0.

Slow (about 30-100 s of PyInstaller on two cores) but part of the normal suite and of CI.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "pyinstaller" / "presence-desktop.spec"
APP = "presence-desktop"
# Never in a workstation build: the local stack, the relay service, test and build tools, the
# plaintext keyring, Qt modules the app does not use.
FORBIDDEN_MODULES = ("moto", "trustme", "flask", "flask_cors", "werkzeug", "jinja2", "pytest", "_pytest",
                     "keyrings", "cfnlint", "PyInstaller", "presence_desktop.devstack",
                     "presence_desktop.relay.server", "presence_desktop.relay.lambda_handler",
                     "presence_desktop.relay.dynamo_store", "PySide6.QtQml", "PySide6.QtQuick",
                     "PySide6.QtWebEngineCore", "PySide6.QtNetwork", "tkinter")
FORBIDDEN_QT_LIBS = ("Qt6WebEngine", "Qt6Quick", "Qt6Qml", "Qt63D", "Qt6Multimedia", "Qt6Pdf", "Qt6Network")


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """Run PyInstaller; yields (dist folder, work folder, seconds), removes both afterwards."""
    pytest.importorskip("PyInstaller")
    base = tmp_path_factory.mktemp("pyinstaller")
    dist, work = base / "dist", base / "work"
    started = time.monotonic()
    # cwd outside the repo: the checkout's stale presence_desktop.egg-info must not stand in for
    # the installed metadata that copy_metadata() collects.
    result = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(dist), "--workpath", str(work), str(SPEC)],
        cwd=base, capture_output=True, text=True, timeout=1100,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    folder = dist / APP
    size_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    print(f"\nPyInstaller build: {seconds:.0f} s, {size_mb:.0f} MB in {folder}")
    yield folder, work / APP, seconds
    shutil.rmtree(base, ignore_errors=True)  # ~150 MB of build, ~100 MB of work files per run


def _exe(folder: Path) -> Path:
    return folder / (APP + ".exe" if sys.platform == "win32" else APP)


def _run(folder: Path, *args: str, wrap: list[str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.run([*(wrap or []), str(_exe(folder)), *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=folder.parent)


def test_frozen_version_is_the_package_metadata_version(build):
    folder, _, _ = build
    result = _run(folder, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"presence-desktop {importlib.metadata.version('presence-desktop')}"


def test_frozen_self_test_draws_the_roster(build):
    folder, _, _ = build
    result = _run(folder, "--self-test")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["platform"] == "offscreen"
    assert report["roster_rows"] == 12
    assert report["version"] == importlib.metadata.version("presence-desktop")
    # Only keyring's own backends (or its no-backend fallback), never keyrings.alt's plaintext file.
    assert report["keyring"].startswith("keyring.backends."), report["keyring"]


@pytest.mark.skipif(sys.platform != "linux" or not (shutil.which("dbus-run-session")
                                                   and shutil.which("gnome-keyring-daemon")),
                    reason="needs dbus-run-session and gnome-keyring-daemon (apt-get install gnome-keyring dbus)")
def test_frozen_keyring_finds_the_secret_service_through_its_entry_points(build):
    """keyring imports its backends from its entry points (keyring-*.dist-info): with a Secret
    Service on the session bus the frozen app must pick it, not the fail keyring."""
    folder, _, _ = build
    exe = str(_exe(folder))
    result = _run(folder, wrap=["dbus-run-session", "--", "sh", "-c",
                                'gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1; '
                                'exec "$0" --self-test', exe])
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["keyring"] == "keyring.backends.SecretService.Keyring"


def test_build_carries_only_what_a_workstation_needs(build):
    folder, work, _ = build
    _, toc = ast.literal_eval((work / "PYZ-00.toc").read_text(encoding="utf-8"))
    modules = {entry[0] for entry in toc}
    assert "keyring.backends.SecretService" in modules
    # the remembered session's and the relay's HTTP, and the interactive sign-in (imported lazily)
    assert {"urllib3", "botocore", "jwt", "presence_desktop.auth.claims", "pycognito.aws_srp",
            "boto3"} <= modules
    bad = sorted(m for m in modules if m.startswith(FORBIDDEN_MODULES) and
                 any(m == f or m.startswith(f + ".") for f in FORBIDDEN_MODULES))
    assert not bad, bad
    internal = folder / "_internal"
    files = [p.relative_to(internal).as_posix() for p in internal.rglob("*") if p.is_file()]
    assert not [f for f in files if any(lib in f for lib in FORBIDDEN_QT_LIBS)]
    assert (internal / "presence_desktop" / "resources" / "statuses.json").is_file()
    assert (internal / "presence_desktop" / "resources" / "icons" / "presence-desktop.svg").is_file()
    plugins = {f.split("/plugins/", 1)[1] for f in files if "/Qt/plugins/" in f}
    assert {p.split("/")[0] for p in plugins} <= {"platforms", "xcbglintegrations", "imageformats", "iconengines",
                                                  "platforminputcontexts", "platformthemes", "styles"}
    if sys.platform == "linux":
        assert {"platforms/libqxcb.so", "platforms/libqoffscreen.so", "imageformats/libqsvg.so",
                "iconengines/libqsvgicon.so"} <= plugins
    assert not [f for f in files if f.startswith("botocore/data/") and f.count("/") > 2
                and f.split("/")[2] not in {"cognito-idp", "cognito-identity", "sts"}]


@pytest.mark.skipif(sys.platform != "linux" or not shutil.which("readelf"), reason="Linux with readelf only")
def test_every_bundled_library_dependency_is_bundled_or_left_to_the_system(build):
    """The spec drops host libraries only dropped plugins needed; a kept file that still needs one
    would fail on a workstation without it. Missing here may only be what PyInstaller always
    leaves to the system (libc, libGL, libxcb ...) or what this build host lacks itself."""
    from PyInstaller.depend import dylib

    folder, _, _ = build
    names = {p.name for p in folder.rglob("*")}
    host = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout if shutil.which("ldconfig") else ""
    problems = []
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink() or path.read_bytes()[:4] != b"\x7fELF":
            continue
        out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "(NEEDED)" in line:
                lib = line.split("[", 1)[1].split("]", 1)[0]
                if lib.startswith("ld-linux"):  # the dynamic loader itself
                    continue
                if lib not in names and dylib.include_library(lib) and f"{lib} " in host:
                    problems.append(f"{path.relative_to(folder)} needs {lib}")
    assert not problems, "\n".join(problems)
