"""The CloudFormation template (packaging/cloudformation/presence.yaml): cfn-lint clean, the embedded
handler code equals packaging/handlers/agent_presence.js, and the security-relevant settings hold."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "packaging" / "cloudformation" / "presence.yaml"
HANDLER = ROOT / "packaging" / "handlers" / "agent_presence.js"


def _load_embedder():
    spec = importlib.util.spec_from_file_location("embed_handlers", ROOT / "packaging" / "handlers" / "embed_handlers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def template() -> dict:
    data, matches = decode(str(TEMPLATE))
    assert not matches, matches
    return data


@pytest.fixture(scope="module")
def resources(template) -> dict:
    return template["Resources"]


def _of_type(resources: dict, type_name: str) -> dict:
    return {name: res for name, res in resources.items() if res["Type"] == type_name}


def _one(resources: dict, type_name: str) -> dict:
    found = _of_type(resources, type_name)
    assert len(found) == 1, f"expected one {type_name}, found {sorted(found)}"
    return next(iter(found.values()))["Properties"]


def test_cfn_lint_reports_nothing() -> None:
    matches = lint_file(TEMPLATE, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [str(m) for m in matches] == []


def test_cfn_lint_would_catch_a_broken_template(tmp_path) -> None:
    # The lint step above can fail: a wrong property name is reported.
    broken = tmp_path / "broken.yaml"
    broken.write_text(TEMPLATE.read_text(encoding="utf-8").replace("PublishAuthModes:", "PublishModes:", 1))
    assert lint_file(broken, config=ManualArgs(regions=["us-east-1"]))


def test_code_handlers_equal_the_handler_file(resources) -> None:
    namespace = _one(resources, "AWS::AppSync::ChannelNamespace")
    assert namespace["CodeHandlers"] == HANDLER.read_text(encoding="utf-8")
    assert len(namespace["CodeHandlers"]) <= 32768


def test_embed_check_passes_and_embedding_is_idempotent() -> None:
    embedder = _load_embedder()
    assert embedder.main(["--check"]) == 0
    text = TEMPLATE.read_text(encoding="utf-8")
    assert embedder.embed(text, HANDLER.read_text(encoding="utf-8")) == text


def test_embed_replaces_the_block_and_keeps_what_follows() -> None:
    embedder = _load_embedder()
    text = "A:\n  CodeHandlers: |\n    old();\n\n    more();\n\n  Next: 1\n"
    out = embedder.embed(text, "export function onPublish(ctx) {\n\n  return ctx.events;\n}\n")
    assert out == (
        "A:\n  CodeHandlers: |\n    export function onPublish(ctx) {\n\n      return ctx.events;\n    }\n\n  Next: 1\n"
    )
    with pytest.raises(ValueError, match="one 'CodeHandlers"):
        embedder.embed(text + text, "x\n")
    with pytest.raises(ValueError, match="newline"):
        embedder.embed(text, "x")
    with pytest.raises(ValueError, match="at most"):
        embedder.embed(text, "x" * 40000 + "\n")


def test_events_api_auth(resources) -> None:
    api = _one(resources, "AWS::AppSync::Api")["EventConfig"]
    assert sorted(p["AuthType"] for p in api["AuthProviders"]) == ["AMAZON_COGNITO_USER_POOLS", "AWS_IAM"]
    assert sorted(m["AuthType"] for m in api["ConnectionAuthModes"]) == ["AMAZON_COGNITO_USER_POOLS", "AWS_IAM"]
    assert api["DefaultPublishAuthModes"] == [{"AuthType": "AWS_IAM"}]
    assert api["DefaultSubscribeAuthModes"] == [{"AuthType": "AMAZON_COGNITO_USER_POOLS"}]
    namespace = _one(resources, "AWS::AppSync::ChannelNamespace")
    assert namespace["Name"] == "agent-presence"
    assert namespace["PublishAuthModes"] == [{"AuthType": "AWS_IAM"}]
    assert namespace["SubscribeAuthModes"] == [{"AuthType": "AMAZON_COGNITO_USER_POOLS"}]


def test_user_pool_client_is_public_srp_only(resources) -> None:
    client = _one(resources, "AWS::Cognito::UserPoolClient")
    assert client["GenerateSecret"] is False
    assert sorted(client["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert "custom:team_id" in client["ReadAttributes"]
    assert "custom:team_id" not in client["WriteAttributes"], "users must not move themselves between teams"
    assert "custom:supervises" in client["ReadAttributes"]
    # Nothing a user writes may authorize or show up in others' rosters (docs/teams.md); a list
    # must be given: without one every standard attribute is writable.
    assert client["WriteAttributes"], "WriteAttributes left out makes every standard attribute writable"
    for admin_only in ("custom:team_id", "custom:supervises", "name", "preferred_username", "email"):
        assert admin_only not in client["WriteAttributes"], admin_only
    groups = {g["Properties"]["GroupName"] for g in _of_type(resources, "AWS::Cognito::UserPoolGroup").values()}
    from presence_desktop.domain.identity import AGENT_GROUPS

    assert groups == set(AGENT_GROUPS) == {"support_agents", "supervisors", "managers"}
    pool = _one(resources, "AWS::Cognito::UserPool")
    assert {"Name": "team_id", "AttributeDataType": "String"}.items() <= pool["Schema"][0].items()
    supervises = next(a for a in pool["Schema"] if a["Name"] == "supervises")
    assert supervises["AttributeDataType"] == "String" and supervises["Mutable"] is True


def test_relay_role_may_only_publish_to_the_namespace_and_use_its_table(resources) -> None:
    role = resources["RelayRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert all(s["Effect"] == "Allow" for s in statements)
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {a.split(":")[0] for a in actions} == {"appsync", "dynamodb", "logs"}
    assert {a for a in actions if a.startswith("appsync:")} == {"appsync:EventPublish"}
    publish = next(s for s in statements if s["Action"] == "appsync:EventPublish")
    assert publish["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:appsync:${AWS::Region}:${AWS::AccountId}:apis/${EventsApi.ApiId}"
        "/channelNamespace/agent-presence"
    }
    for statement in statements:
        resources_of = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert "*" not in resources_of and all(r != "*" for r in resources_of)
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])]
    on_table = next(s for s in dynamo if s["Resource"] == {"Fn::GetAtt": ["PresenceTable", "Arn"]})
    on_indexes = next(s for s in dynamo if s["Resource"] == {"Fn::Sub": "${PresenceTable.Arn}/index/*"})
    assert sorted(on_table["Action"]) == ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem",
                                          "dynamodb:Scan", "dynamodb:UpdateItem"]
    assert on_indexes["Action"] == ["dynamodb:Query"]
    # Exactly the calls the store makes (its source names them as self.client.<call>(...)).
    import re
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "presence_desktop" / "relay" / "dynamo_store.py").read_text()
    made = set(re.findall(r"self\.client\.(\w+)\(", source)) - {"create_table", "update_time_to_live", "get_waiter", "get_paginator",
                                                                   "describe_table"}
    granted = {"".join(w.title() for w in m.split("_")) for m in made}
    assert {a.split(":")[1] for s in dynamo for a in s["Action"]} == granted
    history = next(s for s in statements if isinstance(s["Resource"], list)
                   and {"Fn::GetAtt": ["HistoryTable", "Arn"]} in s["Resource"])
    assert history["Resource"][1] == {"Fn::Sub": "${HistoryTable.Arn}/index/team"}
    assert sorted(history["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]


def test_history_table_matches_what_the_relay_reads(resources) -> None:
    table = resources["HistoryTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "team" and [k["AttributeName"] for k in index["KeySchema"]] == ["tpk", "tsk"]
    env = _one(resources, "AWS::Lambda::Function")["Environment"]["Variables"]
    assert env["PRESENCE_HISTORY_TABLE_NAME"] == {"Ref": "HistoryTable"}
    assert env["PRESENCE_HISTORY_RETENTION_DAYS"] == {"Ref": "HistoryRetentionDays"}


def test_relay_function_and_public_https_url(resources) -> None:
    function = _one(resources, "AWS::Lambda::Function")
    assert function["Handler"] == "presence_desktop.relay.lambda_handler.handler"
    assert function["Runtime"].startswith("python3.")
    assert set(function["Code"]) == {"S3Bucket", "S3Key"}
    url = _one(resources, "AWS::Lambda::Url")
    assert url["AuthType"] == "NONE"  # the relay verifies Cognito tokens itself
    env = function["Environment"]["Variables"]
    assert env["PRESENCE_EVENTS_HTTP_URL"] == {"Fn::Sub": "https://${EventsApi.Dns.Http}/event"}
    assert env["PRESENCE_NAMESPACE"] == "agent-presence"


def test_sweeper_invokes_the_relay_with_the_documented_event(resources) -> None:
    rule = _one(resources, "AWS::Events::Rule")
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["RelayFunction", "Arn"]}
    assert json.loads(target["Input"]) == {"source": "presence.sweep"}
    permissions = [p["Properties"] for p in _of_type(resources, "AWS::Lambda::Permission").values()]
    assert any(p["Principal"] == "events.amazonaws.com" and p["SourceArn"] == {"Fn::GetAtt": ["SweepRule", "Arn"]}
               for p in permissions)


def test_tables_are_on_demand_with_ttl(resources) -> None:
    tables = _of_type(resources, "AWS::DynamoDB::Table")
    assert set(tables) == {"PresenceTable", "HistoryTable"}
    for table in (t.get("Properties", t) for t in tables.values()):
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["TimeToLiveSpecification"]["Enabled"] is True


def test_outputs_are_exactly_what_a_profile_needs(template) -> None:
    outputs = template["Outputs"]
    assert set(outputs) == {"Region", "UserPoolId", "UserPoolClientId", "EventsHttpUrl", "EventsRealtimeUrl", "RelayUrl"}
    assert outputs["EventsHttpUrl"]["Value"] == {"Fn::Sub": "https://${EventsApi.Dns.Http}/event"}
    assert outputs["EventsRealtimeUrl"]["Value"] == {"Fn::Sub": "wss://${EventsApi.Dns.Realtime}/event/realtime"}
    assert outputs["RelayUrl"]["Value"] == {"Fn::GetAtt": ["RelayFunctionUrl", "FunctionUrl"]}


def test_template_fits_a_direct_deploy() -> None:
    # `aws cloudformation deploy` sends templates up to 51,200 bytes inline; larger ones need --s3-bucket.
    assert TEMPLATE.stat().st_size < 51_200


def test_the_devstack_fallback_pool_rules_say_what_the_template_says(resources) -> None:
    """Without the template (an install from a wheel) the local pool enforces these instead:
    they must not drift from the template (presence_desktop/devstack/cognito.py)."""
    from presence_desktop.devstack.cognito import FALLBACK_POOL_RULES, template_pool_rules

    client = _one(resources, "AWS::Cognito::UserPoolClient")
    pool = _one(resources, "AWS::Cognito::UserPool")
    assert list(FALLBACK_POOL_RULES.read_attributes) == client["ReadAttributes"]
    assert list(FALLBACK_POOL_RULES.write_attributes) == client["WriteAttributes"]
    assert FALLBACK_POOL_RULES.case_sensitive == pool["UsernameConfiguration"]["CaseSensitive"]
    assert template_pool_rules() == FALLBACK_POOL_RULES


def test_relay_concurrency_is_reserved_by_a_parameter(template, resources) -> None:
    fn = _one(resources, "AWS::Lambda::Function")
    assert fn["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReserveConcurrency", {"Ref": "RelayReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    param = template["Parameters"]["RelayReservedConcurrency"]
    assert param["Default"] == 10 and param["MinValue"] == 0  # 0: accounts whose quota is 10


def test_sweeper_invocations_are_not_retried_by_lambda(resources) -> None:
    config = _one(resources, "AWS::Lambda::EventInvokeConfig")
    assert config["MaximumRetryAttempts"] == 0 and config["FunctionName"] == {"Ref": "RelayFunction"}


def test_appsync_log_group_has_a_retention(resources) -> None:
    groups = {json.dumps(r["Properties"]["LogGroupName"]): r["Properties"] for r in _of_type(resources, "AWS::Logs::LogGroup").values()}
    appsync = groups[json.dumps({"Fn::Sub": "/aws/appsync/apis/${EventsApi.ApiId}"})]
    assert appsync["RetentionInDays"] == {"Ref": "LogRetentionDays"}
