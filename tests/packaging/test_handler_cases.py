"""The devstack's Python namespace handlers (presence_desktop/devstack/namespace_handlers.py) against
the same table of cases as the APPSYNC_JS handlers deployed to AWS (packaging/handlers/cases.json).

Interface assumed (events-server engineer's module): ``on_subscribe_agent_presence(ctx)`` returns
None to allow or raises ``handler_api.Unauthorized``; ``on_publish_agent_presence(ctx)`` returns
``[{"id", "payload"} | {"id", "error"}]``; ``ctx`` is AppSync's shape (identity, info.channel.{path,
segments}, info.channelNamespace.name, info.operation, events, request.headers, stash).
"""

from __future__ import annotations

import copy
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

handlers = pytest.importorskip("presence_desktop.devstack.namespace_handlers")
handler_api = pytest.importorskip("presence_desktop.devstack.handler_api")

CASES = json.loads((Path(__file__).resolve().parents[2] / "packaging" / "handlers" / "cases.json").read_text("utf-8"))
FAKE_TOKEN = "eyJraWQiOiJmYWtlIn0.eyJzdWIiOiJzZWNyZXQtdG9rZW4tbWFya2VyIn0.c2lnbmF0dXJl"


def _expand(value: Any) -> Any:
    if isinstance(value, dict) and "$repeat" in value:
        text, times = value["$repeat"]
        return text * times
    return value


def _payload(event: dict[str, Any]) -> Any:
    if "payload" in event:
        return copy.deepcopy(event["payload"])
    payload = copy.deepcopy(CASES["base_payload"])
    for key, value in (event.get("patch") or {}).items():
        payload[key] = _expand(value)
    for key in event.get("drop") or []:
        payload.pop(key, None)
    return payload


def _ctx(case: dict[str, Any], operation: str) -> dict[str, Any]:
    segments = [s for s in case["channel"].split("/") if s]
    return {
        "identity": copy.deepcopy(case["identity"]),
        "info": {
            "channel": {"path": case["channel"], "segments": segments},
            "channelNamespace": {"name": CASES["namespace"]},
            "operation": operation,
        },
        "request": {"headers": {"authorization": FAKE_TOKEN}, "domainName": None},
        "events": [{"id": e["id"], "payload": _payload(e)} for e in case["events"]] if operation == "PUBLISH" else None,
        "stash": {},
    }


@pytest.mark.parametrize("case", CASES["subscribe"], ids=[c["name"] for c in CASES["subscribe"]])
def test_subscribe_case(case: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    try:
        result = handlers.on_subscribe_agent_presence(_ctx(case, "SUBSCRIBE"))
        decision = "allow"
        assert result is None
    except handler_api.Unauthorized as exc:
        decision = "deny"
        assert exc.error_type == "Unauthorized"
    assert decision == case["expect"]
    # The attempt is logged, with the channel, and no token.
    records = [r.getMessage() for r in caplog.records if r.name == handlers.__name__]
    assert len(records) == 1 and case["channel"] in records[0]
    assert FAKE_TOKEN not in caplog.text


@pytest.mark.parametrize("case", CASES["publish"], ids=[c["name"] for c in CASES["publish"]])
def test_publish_case(case: dict[str, Any]) -> None:
    ctx = _ctx(case, "PUBLISH")
    sent = copy.deepcopy(ctx["events"])
    out = handlers.on_publish_agent_presence(ctx)
    assert [item["id"] for item in out] == [e["id"] for e in case["events"]]
    assert [item["id"] for item in out if "error" not in item] == case["expect"]["pass"]
    for item, original in zip(out, sent, strict=True):
        if "error" in item:
            assert item["id"] in case["expect"]["fail"], item
            assert isinstance(item["error"], str) and "payload" not in item
            field = case["expect"]["fail"][item["id"]]
            if field is not None:
                assert re.search(rf"\b{field}\b", item["error"]), f"error names {field}: {item['error']}"
        else:
            assert item["payload"] == original["payload"], "a passed event is broadcast unchanged"
