"""Builds a wheel the way a user would (``pip wheel --no-deps``), installs it into a fresh venv and
runs the installed app from a folder outside the checkout: ``--version``, ``--self-test`` offscreen,
and the status catalogue and icons read from the installed package data.

The wheel is built from a copy of only what a source distribution carries (``pyproject.toml``,
``README.md``, ``presence_desktop/``), so nothing else in the checkout (a stale ``build/``, the
editable install, ``tests/``) can make it look complete. The fresh venv gets the wheel alone
(``--no-deps``); its dependencies are the ones this test environment already has, made visible
through a ``.pth`` file naming this interpreter's site-packages. A ``.pth`` path line does not run
the ``.pth`` files found there, so the editable install of the checkout stays out of the venv, and
a test checks that the installed package is the one imported. Resolving the wheel's requirements
from a registry is pip's job; here a test checks each ``Requires-Dist`` is satisfied by what the
venv borrows, so the wheel asks for nothing the app does not have. No network beyond what
``pip wheel``'s isolated build environment fetches (setuptools, per ``[build-system]``).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import site
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
SDIST_FILES = ("pyproject.toml", "README.md", "presence_desktop")
RESOURCES = ROOT / "presence_desktop" / "resources"
BIN = "Scripts" if sys.platform == "win32" else "bin"
EXE = ".exe" if sys.platform == "win32" else ""


def _project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in SDIST_FILES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    out = base / "dist"
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--wheel-dir", str(out),
                             str(src)], cwd=base, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    (built,) = out.glob("presence_desktop-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding the wheel; returns its folder."""
    target = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True, timeout=120)
    python = target / BIN / f"python{EXE}"
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                             "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    borrowed = [p for p in dict.fromkeys([*site.getsitepackages(), site.getusersitepackages()]) if Path(p).is_dir()]
    (Path(purelib) / "zz_borrowed_dependencies.pth").write_text("\n".join(borrowed) + "\n", encoding="utf-8")
    return target


def _run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def test_wheel_carries_the_package_data_and_nothing_from_outside_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {"presence_desktop/py.typed", "presence_desktop/resources/statuses.json",
                "presence_desktop/resources/presence-desktop.desktop"}
    expected |= {f"presence_desktop/resources/icons/{p.name}" for p in (RESOURCES / "icons").glob("*.svg")}
    assert expected <= names, sorted(expected - names)
    assert not [n for n in names if n.split("/")[0] in {"tests", "bench", "packaging", "docs", "resources"}]


def test_every_requirement_of_the_wheel_is_met_by_what_the_venv_borrows(wheel):
    with zipfile.ZipFile(wheel) as zf:
        (meta_name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        meta = zf.read(meta_name).decode("utf-8")
    requires = [Requirement(line.split(":", 1)[1].strip()) for line in meta.splitlines()
                if line.startswith("Requires-Dist:")]
    core = [r for r in requires if r.marker is None or r.marker.evaluate({"extra": ""})]
    assert {r.name for r in core} >= {"PySide6-Essentials", "qasync", "websockets", "keyring"}
    unmet = []
    for req in core:
        try:
            installed = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed is None or not req.specifier.contains(installed, prereleases=True):
            unmet.append(f"{req} (installed: {installed})")
    assert not unmet, unmet


def test_installed_version_is_the_project_version(venv, tmp_path):
    result = _run(venv, str(venv / BIN / f"presence-desktop{EXE}"), "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"presence-desktop {_project_version()}"


def test_installed_self_test_draws_the_roster_offscreen(venv, tmp_path):
    result = _run(venv, str(venv / BIN / f"presence-desktop{EXE}"), "--self-test", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["platform"] == "offscreen"
    assert report["roster_rows"] == 12
    assert report["version"] == _project_version()


PROBE = """
import json, sys
import presence_desktop
from presence_desktop.resources import default_catalogue, resources_dir
from PySide6.QtGui import QGuiApplication, QImage
app = QGuiApplication([])
folder = resources_dir()
icons = {p.name: not QImage(str(p)).isNull() for p in sorted((folder / "icons").glob("*.svg"))}
print(json.dumps({"package": presence_desktop.__file__, "resources": str(folder),
                  "statuses": default_catalogue().ids(), "icons": icons}))
"""


def test_catalogue_and_icons_load_from_the_installed_package(venv, tmp_path):
    result = _run(venv, str(venv / BIN / f"python{EXE}"), "-c", PROBE, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    installed = venv.resolve()
    assert Path(report["package"]).resolve().is_relative_to(installed), report["package"]
    assert Path(report["resources"]).resolve().is_relative_to(installed), report["resources"]
    shipped = json.loads((RESOURCES / "statuses.json").read_text(encoding="utf-8"))
    assert sorted(report["statuses"]) == sorted(s["id"] for s in shipped["statuses"])
    assert report["icons"].keys() == {p.name for p in (RESOURCES / "icons").glob("*.svg")}
    assert all(report["icons"].values()), report["icons"]
