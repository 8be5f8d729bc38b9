"""packaging/cloudformation/build_relay_zip.py, offline (--no-deps): what the Lambda zip holds."""

from __future__ import annotations

import importlib.util
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
    assert "presence_desktop/config.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


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
