"""The relay (presence_desktop/relay) agrees with what describes it: docs/relay-api.md (its endpoints
and its table of error codes) and the CloudFormation template (handler path, sweep event,
environment names, table keys and the DynamoDB actions the relay's store calls)."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "packaging" / "cloudformation" / "presence.yaml"
API_DOC = ROOT / "docs" / "relay-api.md"
RELAY = ROOT / "presence_desktop" / "relay"

# Stand-ins for what CloudFormation resolves at deploy time.
RESOLVED = {
    "AWS::Region": "eu-west-1",
    "AWS::Partition": "aws",
    "AWS::AccountId": "111122223333",
    "PresenceTable": "presence-PresenceTable-1ABC",
    "HistoryTable": "presence-HistoryTable-2DEF",
    "HistoryRetentionDays": "35",
    "UserPool": "eu-west-1_AbCdEf123",
    "UserPoolClient": "3n4b5urk1ft4fl3mg5e62d9ado",
    "EventsApi.Dns.Http": "abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com",
}


@pytest.fixture(scope="module")
def resources() -> dict:
    template, matches = decode(str(TEMPLATE))
    assert not matches
    defaults = {name: str(p["Default"]) for name, p in template["Parameters"].items() if "Default" in p}
    RESOLVED.update(defaults)
    return template["Resources"]


def _resolve(value):
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return RESOLVED[value["Ref"]]
    if "Fn::Sub" in value:
        return re.sub(r"\$\{([^}]+)\}", lambda m: RESOLVED[m.group(1)], value["Fn::Sub"])
    raise AssertionError(f"unexpected intrinsic {value}")


def test_handler_path_resolves_to_the_relays_lambda_handler(resources) -> None:
    dotted = resources["RelayFunction"]["Properties"]["Handler"]
    module_name, _, function = dotted.rpartition(".")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, function))


def test_sweep_input_is_a_sweep_event_for_the_relay(resources) -> None:
    from presence_desktop.relay import lambda_handler

    event = json.loads(resources["SweepRule"]["Properties"]["Targets"][0]["Input"])
    assert lambda_handler.is_sweep_event(event)
    # ...and a function URL request is not mistaken for one.
    assert not lambda_handler.is_sweep_event({"version": "2.0", "rawPath": "/v1/roster", "source": "presence.sweep"})


def test_environment_configures_the_relay(resources) -> None:
    from presence_desktop.relay.config import RelayConfig

    env = {k: _resolve(v) for k, v in resources["RelayFunction"]["Properties"]["Environment"]["Variables"].items()}
    config = RelayConfig.from_env(env)
    assert config.store == "dynamodb:presence-PresenceTable-1ABC"
    assert config.events_http_url == "https://abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com/event"
    assert config.events_region == "eu-west-1"
    assert config.cognito_issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
    assert config.cognito_client_ids == ["3n4b5urk1ft4fl3mg5e62d9ado"]
    assert config.limits.heartbeat_ttl_s == 90
    assert config.history == "dynamodb:presence-HistoryTable-2DEF" and config.history_retention_days == 35


def test_table_keys_and_ttl_are_the_stores(resources) -> None:
    from presence_desktop.relay.dynamo_store import DynamoStore

    calls: dict[str, dict] = {}

    class Recorder:
        def create_table(self, **kwargs):
            calls["create_table"] = kwargs

        def get_waiter(self, name):
            return type("W", (), {"wait": lambda self, **kw: None})()

        def update_time_to_live(self, **kwargs):
            calls["ttl"] = kwargs

    DynamoStore("t", client=Recorder()).create_table()
    table = resources["PresenceTable"]["Properties"]
    assert sorted(map(tuple, (d.items() for d in table["KeySchema"]))) == sorted(
        map(tuple, (d.items() for d in calls["create_table"]["KeySchema"]))
    )
    assert {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]} == {
        d["AttributeName"]: d["AttributeType"] for d in calls["create_table"]["AttributeDefinitions"]
    }
    assert table["TimeToLiveSpecification"]["AttributeName"] == calls["ttl"]["TimeToLiveSpecification"]["AttributeName"]


def test_role_allows_every_dynamodb_call_the_store_makes(resources) -> None:
    source = (ROOT / "presence_desktop" / "relay" / "dynamo_store.py").read_text(encoding="utf-8")
    ops = set(re.findall(r"self\.client\.([a-z_]+)\(", source))
    ops |= set(re.findall(r"get_paginator\(['\"]([a-z_]+)['\"]\)", source))
    # Table management is for tests and local use; CloudFormation makes the table in AWS.
    ops -= {"create_table", "update_time_to_live", "get_waiter", "get_paginator", "close"}
    assert ops, "found no DynamoDB calls in the store: the check reads the wrong thing"
    needed = {"dynamodb:" + "".join(part.capitalize() for part in op.split("_")) for op in ops}
    statements = [s for p in resources["RelayRole"]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    allowed = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert needed <= allowed, f"the relay calls {sorted(needed - allowed)} which the role does not allow"


def _documented_endpoints() -> list[tuple[str, str]]:
    return re.findall(r"^## `(GET|POST|PUT|DELETE|PATCH) (/[^`\[?]*)", API_DOC.read_text(encoding="utf-8"), re.M)


def _documented_errors() -> set[tuple[int, str]]:
    rows = re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", API_DOC.read_text(encoding="utf-8"), re.M)
    return {(int(status), code) for status, code in rows}


async def test_every_documented_endpoint_answers_with_its_method_only() -> None:
    from presence_desktop.relay.core import RelayCore, RelayRequest

    endpoints = _documented_endpoints()
    assert {path for _, path in endpoints} == {"/v1/status", "/v1/heartbeat", "/v1/roster", "/v1/history",
                                              "/v1/history.csv", "/v1/floors"}
    core = RelayCore(verifier=None, store=None, publisher=None)  # routing refuses before any of them is used
    for method, path in endpoints:
        other = "DELETE"
        resp = await core.handle(RelayRequest(method=other, path=path))
        assert (resp.status, resp.body["error"]["code"]) == (405, "method_not_allowed")
        assert method in resp.headers["Allow"].split(", ")
    resp = await core.handle(RelayRequest(method="GET", path="/v1/undocumented"))
    assert (resp.status, resp.body["error"]["code"]) == (404, "not_found")


def test_the_error_table_lists_exactly_the_errors_the_relay_answers() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in sorted(RELAY.glob("*.py")))
    raised = {(int(status), code) for status, code in
              re.findall(r"(?:RelayError|RelayResponse)\(\s*(\d{3}),\s*(?:\{\"error\": \{\"code\": )?\"([a-z_]+)\"", source)}
    # 502/503 carry the publisher's PublishError code (core.RelayCore._publish).
    publish_codes = set(re.findall(r"PublishError\(\"([a-z_]+)\"", source))
    assert publish_codes == {"publish_rejected", "events_unavailable"}
    raised |= {(502, "publish_rejected"), (503, "events_unavailable")}
    # A history request's day and cursor problems are 400s with the HistoryQueryError's code.
    history = (RELAY.parent / "domain" / "history.py").read_text(encoding="utf-8") + source
    raised |= {(400, code) for code in re.findall(r"HistoryQueryError\(\s*\"([a-z_]+)\"", history)}
    documented = _documented_errors()
    assert documented == raised, {"undocumented": sorted(raised - documented), "not raised": sorted(documented - raised)}
