"""presence_desktop.app.profile_import: stack outputs -> app profile, and the CLI entry point."""

from __future__ import annotations

import io
import json

import pytest

from presence_desktop.app import profile_import
from presence_desktop.app.profile_import import ProfileImportError, main, profile_from_outputs, save_profile
from presence_desktop.client.settings import CONFIG_DIR_ENV, SettingsStore

FLAT = {
    "Region": "eu-west-1",
    "UserPoolId": "eu-west-1_AbCdEf123",
    "UserPoolClientId": "3n4b5urk1ft4fl3mg5e62d9ado",
    "EventsHttpUrl": "https://abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com/event",
    "EventsRealtimeUrl": "wss://abcdefghijklmnopqrstuvwxyz.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime",
    "RelayUrl": "https://k3xq2example7vdt.lambda-url.eu-west-1.on.aws/",
}
# As `aws cloudformation describe-stacks --query Stacks[0].Outputs` prints it (with Descriptions).
LISTED = [{"OutputKey": k, "OutputValue": v, "Description": f"about {k}"} for k, v in FLAT.items()]


@pytest.fixture(autouse=True)
def _config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.mark.parametrize("shape", ["list", "flat", "describe-stacks"])
def test_every_input_shape_gives_the_same_profile(shape) -> None:
    data = {"list": LISTED, "flat": FLAT, "describe-stacks": {"Stacks": [{"StackName": "presence", "Outputs": LISTED}]}}
    profile = profile_from_outputs(data[shape], name="prod")
    assert profile.name == "prod" and profile.kind == "aws"
    assert profile.cognito.region == "eu-west-1"
    assert profile.cognito.user_pool_id == "eu-west-1_AbCdEf123"
    assert profile.cognito.client_id == "3n4b5urk1ft4fl3mg5e62d9ado"
    assert profile.cognito.effective_issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
    assert profile.cognito.endpoint is None  # the AWS regional endpoint
    assert profile.events.http_url == FLAT["EventsHttpUrl"]
    assert profile.events.realtime_url == FLAT["EventsRealtimeUrl"]
    assert profile.events.region == "eu-west-1"
    assert profile.events.namespace == "agent-presence"
    assert profile.events.api_key is None and profile.events.allow_plaintext is False
    assert profile.relay.url == "https://k3xq2example7vdt.lambda-url.eu-west-1.on.aws"  # no trailing '/'


def test_outputs_match_the_template() -> None:
    # The importer reads exactly the outputs the template declares.
    from cfnlint.decode import decode

    from tests.packaging.test_template import TEMPLATE

    template, _ = decode(str(TEMPLATE))
    assert set(template["Outputs"]) == set(profile_import.REQUIRED_OUTPUTS)


def test_missing_outputs_are_named() -> None:
    partial = {k: v for k, v in FLAT.items() if k not in ("RelayUrl", "UserPoolClientId")}
    with pytest.raises(ProfileImportError, match="UserPoolClientId, RelayUrl"):
        profile_from_outputs(partial)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("EventsHttpUrl", "http://x.appsync-api.eu-west-1.amazonaws.com/event", "https://"),
        ("EventsHttpUrl", "https://x.appsync-api.eu-west-1.amazonaws.com", "/event"),
        ("EventsRealtimeUrl", "https://x.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime", "wss://"),
        ("RelayUrl", "http://relay.example", "https://"),
        ("Region", "Ireland", "region"),
        ("UserPoolId", "us-east-1_AbC", "region eu-west-1"),
        ("UserPoolClientId", "  ", "missing"),
    ],
)
def test_bad_outputs_are_refused_with_a_reason(key, value, message) -> None:
    with pytest.raises(ProfileImportError, match=message):
        profile_from_outputs({**FLAT, key: value})


@pytest.mark.parametrize(
    "data",
    [
        "just text",
        [{"Key": "Region", "Value": "eu-west-1"}],
        {"Stacks": []},
        {"Stacks": [{"StackName": "s"}]},
        {"Region": 5},
    ],
)
def test_unexpected_shapes_are_refused(data) -> None:
    with pytest.raises(ProfileImportError):
        profile_from_outputs(data)


def test_bad_profile_name_is_refused() -> None:
    with pytest.raises(ProfileImportError, match="profile name"):
        profile_from_outputs(FLAT, name="../etc/passwd")


def test_save_goes_where_the_app_reads_and_refuses_to_overwrite(tmp_path) -> None:
    profile = profile_from_outputs(FLAT, name="prod")
    path = save_profile(profile, config_root=tmp_path)
    assert path == tmp_path / "profiles" / "prod.json"
    # The app's own store (presence_desktop.client.settings) reads it back as the same profile.
    assert SettingsStore(tmp_path).load_profile("prod") == profile
    with pytest.raises(FileExistsError, match="--force"):
        save_profile(profile, config_root=tmp_path)
    other = profile_from_outputs({**FLAT, "Region": "us-east-1", "UserPoolId": "us-east-1_Zz9"}, name="prod")
    assert save_profile(other, config_root=tmp_path, overwrite=True) == path
    assert SettingsStore(tmp_path).load_profile("prod").cognito.region == "us-east-1"


def test_main_imports_from_a_file(tmp_path, _config_dir, capsys) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(LISTED), encoding="utf-8")
    assert main(["--stack-outputs", str(outputs), "--name", "prod"]) == 0
    assert SettingsStore().load_profile("prod").relay.url.endswith(".on.aws")
    assert "--profile prod" in capsys.readouterr().out
    # Again without --force: refused, file untouched; with --force: replaced.
    assert main(["--stack-outputs", str(outputs), "--name", "prod"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["--stack-outputs", str(outputs), "--name", "prod", "--force"]) == 0


def test_main_reads_stdin_and_defaults_the_name(monkeypatch, _config_dir) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(FLAT)))
    assert main(["--stack-outputs", "-"]) == 0
    assert (_config_dir / "profiles" / "aws.json").is_file()
    assert SettingsStore().load_profile("aws").cognito.client_id == FLAT["UserPoolClientId"]


@pytest.mark.parametrize(("content", "message"), [(None, "cannot read"), ("{not json", "is not JSON"), ("{}", "missing")])
def test_main_reports_bad_input(tmp_path, capsys, content, message) -> None:
    source = tmp_path / "outputs.json"
    if content is not None:
        source.write_text(content, encoding="utf-8")
    assert main(["--stack-outputs", str(source)]) == 1
    assert message in capsys.readouterr().err


def test_main_requires_the_outputs_argument(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "--stack-outputs" in capsys.readouterr().err


def test_the_app_command_dispatches_here(tmp_path, _config_dir) -> None:
    # `presence-desktop profile import ...` as the console script runs it.
    from presence_desktop.app import main as app_main

    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(LISTED), encoding="utf-8")
    assert app_main(["profile", "import", "--stack-outputs", str(outputs), "--name", "from-app"]) == 0
    assert SettingsStore().load_profile("from-app").events.realtime_url == FLAT["EventsRealtimeUrl"]
