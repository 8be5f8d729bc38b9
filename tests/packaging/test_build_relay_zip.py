"""packaging/cloudformation/build_relay_zip.py, offline (--no-deps): what the Lambda zip holds."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def builder():
    spec = importlib.util.spec_from_file_location("build_relay_zip", ROOT / "packaging" / "cloudformation" / "build_relay_zip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_zip_holds_the_package_at_the_handler_path(builder, tmp_path) -> None:
    path = builder.build(tmp_path, arch="arm64", with_deps=False)
    assert path.name.startswith("relay-arm64-") and path.suffix == ".zip"
    names = zipfile.ZipFile(path).namelist()
    # Handler presence_desktop.relay.lambda_handler.handler: the package sits at the zip's root.
    assert "presence_desktop/__init__.py" in names
    assert "presence_desktop/relay/__init__.py" in names
    assert "presence_desktop/client/profile.py" in names
    assert "presence_desktop/resources/statuses.json" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_package_in_the_zip_finds_its_status_catalogue(builder, tmp_path) -> None:
    # As Lambda runs it: the zip unpacked as the only place presence_desktop comes from (-S: no
    # site-packages, so not the editable install); the relay needs the shipped catalogue.
    path = builder.build(tmp_path / "zip", with_deps=False)
    task = tmp_path / "task"
    zipfile.ZipFile(path).extractall(task)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import presence_desktop.resources as r;"
        "assert r.__file__.startswith(sys.argv[1]), r.__file__;"
        "print(len(r.default_catalogue().ids()))"
    )
    proc = subprocess.run([sys.executable, "-S", "-c", code, str(task)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 8


def test_zip_is_reproducible(builder, tmp_path) -> None:
    first = builder.build(tmp_path / "a", with_deps=False)
    second = builder.build(tmp_path / "b", with_deps=False)
    assert first.name == second.name and first.read_bytes() == second.read_bytes()


def test_requirements_leave_out_what_the_runtime_has(builder) -> None:
    names = {builder._name(r) for r in builder.relay_requirements()}
    assert {"pyjwt", "pydantic"} <= names
    assert not names & {"boto3", "botocore"}
    assert not names & {"pyside6-essentials", "qasync", "keyring"}


def test_unknown_architecture_is_refused(builder, tmp_path) -> None:
    with pytest.raises(ValueError, match="arch"):
        builder.build(tmp_path, arch="sparc", with_deps=False)
