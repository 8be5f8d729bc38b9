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
    assert "presence_desktop/resources/statuses.json" in names
    # Nothing the relay never imports: no Qt app, client, devstack, icons.
    assert not [n for n in names if n.split("/")[1] in ("ui", "client", "app", "devstack", "auth")]
    assert "presence_desktop/net/tls.py" in names  # the relay's TLS contexts, backoff and SDK log quieting
    assert not [n for n in names if n.startswith("presence_desktop/resources/icons/")]
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
    assert "pyjwt" in names and "pydantic" not in names  # pydantic: only the desktop's profiles
    assert not names & {"boto3", "botocore"}
    assert not names & {"pyside6-essentials", "qasync", "keyring"}


def test_unknown_architecture_is_refused(builder, tmp_path) -> None:
    with pytest.raises(ValueError, match="arch"):
        builder.build(tmp_path, arch="sparc", with_deps=False)


def test_the_handler_inits_from_the_zip_alone(builder, tmp_path) -> None:
    # As Lambda starts it (AWS_LAMBDA_RUNTIME_API set: the core is built at import): every
    # presence_desktop module it loads comes from the zip; third-party packages from this venv.
    path = builder.build(tmp_path / "zip", with_deps=False)
    task = tmp_path / "task"
    zipfile.ZipFile(path).extractall(task)
    env = {
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "AWS_REGION": "us-east-1", "PATH": "/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "PRESENCE_STORE": "dynamodb", "PRESENCE_TABLE_NAME": "t",
        "PRESENCE_EVENTS_HTTP_URL": "https://example.appsync-api.us-east-1.amazonaws.com/event",
        "PRESENCE_COGNITO_ISSUER": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X",
        "PRESENCE_COGNITO_CLIENT_IDS": "abc",
    }
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import presence_desktop.relay.lambda_handler as h;"
        "assert h._core is not None and h._loop is not None;"
        "bad = [m for m, mod in sys.modules.items() if m.startswith('presence_desktop')"
        " and not (getattr(mod, '__file__', None) or sys.argv[1]).startswith(sys.argv[1])];"
        "assert not bad, bad;"
        "assert 'boto3' not in sys.modules and 'pydantic' not in sys.modules;"
        "print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(task)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_a_broken_configuration_fails_the_init_with_the_setting_named(builder, tmp_path) -> None:
    path = builder.build(tmp_path / "zip", with_deps=False)
    task = tmp_path / "task"
    zipfile.ZipFile(path).extractall(task)
    env = {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "AWS_REGION": "us-east-1", "PATH": "/usr/bin:/bin"}
    code = "import sys; sys.path.insert(0, sys.argv[1]); import presence_desktop.relay.lambda_handler"
    proc = subprocess.run([sys.executable, "-c", code, str(task)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode != 0
    assert "relay init failed" in proc.stderr and "PRESENCE_RELAY_COGNITO_ISSUER" in proc.stderr
