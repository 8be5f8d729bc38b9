"""The Lambda adapter with API Gateway HTTP API (2.0), function URL (2.0, base64 body) and REST
(1.0) event shapes, configured from the environment as CloudFormation configures it: DynamoDB
store (moto server endpoint), real local-Cognito tokens, publishing to the local events server."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

import boto3
import pytest

from presence_desktop.relay import lambda_handler
from presence_desktop.relay.cognito_jwt import CognitoTokenVerifier
from presence_desktop.relay.dynamo_store import DynamoStore
from tests.fixtures.events import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, events_auth_for
from tests.relay.test_relay_events import Subscriber


def http_api_event(method: str, path: str, *, token: str | None = None, body: str | None = None, query: str = "") -> dict:
    headers = {"content-type": "application/json", "host": "abc123.execute-api.us-east-1.amazonaws.com",
               "user-agent": "pytest"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query, "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": headers["host"], "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "pytest"},
            "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
            "time": "29/Nov/2026:20:00:00 +0000", "timeEpoch": int(time.time() * 1000),
        },
        **({"body": body} if body is not None else {}),
        "isBase64Encoded": False,
    }


def function_url_event(method: str, path: str, *, token: str | None = None, body: str | None = None, query: str = "") -> dict:
    event = http_api_event(method, path, token=token, query=query)
    host = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws"
    event["headers"]["host"] = host
    event["requestContext"].update({"domainName": host, "domainPrefix": host.split(".")[0], "apiId": host.split(".")[0]})
    if body is not None:  # function URLs base64-encode bodies they do not treat as text
        event["body"] = base64.b64encode(body.encode("utf-8")).decode()
        event["isBase64Encoded"] = True
    return event


async def invoke(event: dict) -> tuple[int, dict]:
    result = await asyncio.to_thread(lambda_handler.handler, event, None)
    if "statusCode" not in result:
        return 0, result
    assert result["headers"]["content-type"].startswith("application/json") and result["isBase64Encoded"] is False
    return result["statusCode"], json.loads(result["body"])


@pytest.fixture
async def lambda_stack(monkeypatch, local_cognito, moto_endpoint, events_server_factory, events_local_ca):
    verifier = CognitoTokenVerifier(local_cognito.issuer, {local_cognito.client_id}, jwks_url=local_cognito.jwks_url)
    server = await events_server_factory(cognito_verifier=verifier)
    table = f"presence-lambda-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_endpoint,
                          aws_access_key_id="local", aws_secret_access_key="local")
    await asyncio.to_thread(DynamoStore(table, client=client).create_table)
    env = {
        "PRESENCE_STORE": "dynamodb", "PRESENCE_TABLE_NAME": table, "PRESENCE_DYNAMODB_ENDPOINT": moto_endpoint,
        "PRESENCE_EVENTS_HTTP_URL": server.http_url, "PRESENCE_EVENTS_REGION": "us-east-1",
        "PRESENCE_EVENTS_CA_FILE": str(events_local_ca.ca_file), "PRESENCE_NAMESPACE": "agent-presence",
        "PRESENCE_COGNITO_ISSUER": local_cognito.issuer, "PRESENCE_COGNITO_CLIENT_IDS": local_cognito.client_id,
        "PRESENCE_COGNITO_JWKS_URL": local_cognito.jwks_url, "PRESENCE_HEARTBEAT_TTL_S": "1",
        "PRESENCE_MAX_BODY_BYTES": "2048",
        # The function's role, as botocore's chain sees it in Lambda: signs the publishes.
        "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY,
        "AWS_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    await asyncio.to_thread(lambda_handler.reset)
    try:
        yield server, events_auth_for(server, events_local_ca), table, client
    finally:
        await asyncio.to_thread(lambda_handler.reset)


async def test_http_api_event_publishes_to_the_events_server(lambda_stack, cognito_tokens):
    server, auth, table, client = lambda_stack
    token = cognito_tokens("agent-1")["id_token"]
    async with Subscriber(auth, cognito_tokens("mgr-1")["id_token"]) as sub:
        status, body = await invoke(http_api_event("POST", "/v1/status", token=token,
                                                   body=json.dumps({"status": "on_call", "message": "Ticket <42> & «co»"})))
        assert status == 200, body
        received = await sub.next_event()
    assert received == body and body["agent_id"] == "agent-1" and body["version"] == 1
    item = client.get_item(TableName=table, Key={"pk": {"S": "agent#agent-1"}, "sk": {"S": "presence"}})["Item"]
    assert json.loads(item["event_json"]["S"]) == body and item["published"]["BOOL"] is True


async def test_function_url_event_supervisor_and_roster(lambda_stack, cognito_tokens):
    server, auth, table, client = lambda_stack
    agent, sup = cognito_tokens("agent-5")["id_token"], cognito_tokens("sup-1")["id_token"]
    status, _ = await invoke(function_url_event("POST", "/v1/status", token=agent, body=json.dumps({"status": "available"})))
    assert status == 200
    async with Subscriber(auth, cognito_tokens("mgr-1")["id_token"]) as sub:
        status, body = await invoke(function_url_event("POST", "/v1/status", token=sup,
                                                       body=json.dumps({"status": "break", "agent_id": "agent-5"})))
        assert status == 200, body
        received = await sub.next_event()
    assert received["source"] == "supervisor" and received["changed_by"] == "sup-1" and received["version"] == 2
    status, body = await invoke(function_url_event("GET", "/v1/roster", token=agent, query="team=team-1"))
    assert status == 200 and [a["agent_id"] for a in body["agents"]] == ["agent-5"] and body["agents"][0]["status"] == "break"
    status, body = await invoke(function_url_event("GET", "/v1/roster", token=agent, query="team=team-2"))
    assert status == 403


async def test_errors_are_json(lambda_stack, cognito_tokens):
    status, body = await invoke(http_api_event("POST", "/v1/status", body='{"status":"available"}'))
    assert status == 401 and body["error"]["code"] == "missing_token"
    token = cognito_tokens("agent-1")["id_token"]
    status, body = await invoke(http_api_event("POST", "/v1/status", token=token, body=json.dumps({"status": "x" * 3000})))
    assert status == 413 and body["error"]["code"] == "body_too_large"
    status, body = await invoke(http_api_event("POST", "/v1/status", token=token, body='{"status":"nap"}'))
    assert status == 400 and body["error"]["code"] == "unknown_status"
    status, body = await invoke({"something": "else"})
    assert status == 400 and body["error"]["code"] == "invalid_request"


async def test_rest_api_event_shape(lambda_stack, cognito_tokens):
    token = cognito_tokens("agent-1")["id_token"]
    event = {"resource": "/{proxy+}", "path": "/v1/roster", "httpMethod": "GET",
             "headers": {"Authorization": f"Bearer {token}"}, "queryStringParameters": {"team": "team-1"},
             "requestContext": {"identity": {"sourceIp": "203.0.113.8"}}, "body": None, "isBase64Encoded": False}
    status, body = await invoke(event)
    assert status == 200 and body["agents"] == []


async def test_scheduled_sweep_sets_silent_agents_offline_once(lambda_stack, cognito_tokens):
    server, auth, table, client = lambda_stack
    token = cognito_tokens("agent-9")["id_token"]
    assert (await invoke(http_api_event("POST", "/v1/status", token=token, body='{"status":"available"}')))[0] == 200
    await asyncio.sleep(1.3)  # TTL is 1 s
    async with Subscriber(auth, cognito_tokens("mgr-1")["id_token"]) as sub:
        _, result = await invoke({"source": "presence.sweep"})
        assert result["expired"] == ["agent-9"] and result["failed"] == []
        _, again = await invoke({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
        assert again["expired"] == []
        events = await sub.events_for(1.0)
    assert [(e["agent_id"], e["status"], e["source"]) for e in events] == [("agent-9", "offline", "system")]


async def test_sweep_budget_follows_the_invocations_remaining_time():
    from presence_desktop.relay.core import RelayLimits, SweepResult
    from presence_desktop.relay.lambda_handler import handle_event

    class FakeCore:
        limits = RelayLimits(sweep_budget_s=10.0)
        budgets: list = []

        async def sweep(self, budget_s=None):
            self.budgets.append(budget_s)
            return SweepResult(deferred=["agent-1"])

    core = FakeCore()
    out = await handle_event(core, {"source": "presence.sweep"}, remaining_s=5.0)
    await handle_event(core, {"source": "presence.sweep"}, remaining_s=60.0)
    await handle_event(core, {"source": "presence.sweep"}, remaining_s=1.0)
    await handle_event(core, {"source": "presence.sweep"})
    assert core.budgets == [2.0, 10.0, 0.0, None] and out["deferred"] == ["agent-1"]
