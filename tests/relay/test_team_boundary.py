"""Teams are the boundary at the relay: every subscribe row of packaging/handlers/cases.json (the
table the namespace handlers are held to) is asked of ``GET /v1/roster`` with a token carrying the
row's groups and claims, and must get the same answer; ``POST /v1/status`` for another agent only
for a supervisor of that agent's team (docs/teams.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from presence_desktop.domain.presence import valid_segment

CASES = json.loads((Path(__file__).resolve().parents[2] / "packaging" / "handlers" / "cases.json").read_text("utf-8"))
SEEDED = {"agent-1": "team-1", "agent-5": "team-1", "agent-2": "team-2", "agent-7": "team-2", "agent-3": "team-3",
          "agent-40": "team-4", "agent-10": "team-10"}


async def _seeded(relay_factory, token_minter):
    relay = await relay_factory(rate_burst=1000, rate_per_s=1000)
    for agent, team in SEEDED.items():
        status, body, _ = await relay.call("POST", "/v1/status", token=token_minter.mint(agent, team_id=team),
                                           json_body={"status": "available"})
        assert status == 200, body
    return relay


def _token(token_minter, identity: dict[str, Any]) -> str:
    claims = identity.get("claims") if isinstance(identity.get("claims"), dict) else {}
    groups = identity.get("groups")
    extra: dict[str, Any] = {k: v for k, v in claims.items() if k.startswith("custom:")}
    extra["cognito:groups"] = groups if groups is not None else []
    return token_minter.mint(identity["username"], groups=(), team_id=None, extra=extra,
                             token_use=claims.get("token_use", "id"))


@pytest.mark.parametrize("case", CASES["subscribe"], ids=[c["name"] for c in CASES["subscribe"]])
async def test_roster_follows_the_subscribe_table(case, relay_factory, token_minter, capture_events):
    relay = await _seeded(relay_factory, token_minter)
    identity = case["identity"]
    segments = [s for s in case["channel"].split("/") if s]
    team = segments[1] if len(segments) > 1 and segments[1] != "*" else None
    if not identity or "claims" not in identity:  # API key, IAM: no Cognito user, no roster
        status, body, _ = await relay.call("GET", "/v1/roster")
        assert status == 401 and case["expect"] == "deny"
        return
    token = _token(token_minter, identity)
    if team is not None:
        status, body, _ = await relay.call("GET", f"/v1/roster?team={quote(team)}", token=token)
        if case["expect"] == "allow":
            assert status == 200, body
            assert {a["team_id"] for a in body["agents"]} == {team} and body["team"] == team
        else:
            assert status in (400, 401, 403), body
            if status == 403:
                assert body["error"]["code"] in ("team_forbidden", "not_an_agent"), body
            if status == 400:
                assert not valid_segment(team), body
        return
    # The namespace wildcard: the whole roster for a manager; for anyone else never another team.
    status, body, _ = await relay.call("GET", "/v1/roster", token=token)
    if case["expect"] == "allow":
        assert status == 200 and sorted(a["agent_id"] for a in body["agents"]) == sorted(SEEDED), body
        return
    assert status in (200, 400, 401, 403), body
    if status == 200:  # an agent without ?team= gets the own team, never more
        own = identity["claims"]["custom:team_id"]
        assert {a["team_id"] for a in body["agents"]} == {own} and len(body["agents"]) < len(SEEDED)
    elif status == 403:
        assert body["error"]["code"] in ("no_team", "not_an_agent"), body
    elif status == 400:
        assert body["error"]["code"] == "team_required", body


CHANGES = [
    # (who, groups, custom:supervises, target agent, expected status, code)
    ("sup-1", ("supervisors",), "team-1,team-2", "agent-7", 200, None),
    ("sup-1", ("supervisors",), "team-1,team-2", "agent-3", 403, "team_forbidden"),
    ("sup-1", ("supervisors",), "team-1", "agent-10", 403, "team_forbidden"),  # not by prefix
    ("sup-1", ("supervisors",), None, "agent-1", 403, "team_forbidden"),
    ("sup-1", ("supervisors",), "team-1,team-2", "agent-99", 404, "unknown_agent"),
    ("mgr-1", ("managers",), None, "agent-1", 403, "forbidden"),  # managers watch, not change
    ("agent-1", ("support_agents",), "team-1", "agent-5", 403, "forbidden"),
    ("agent-1", ("support_agents", "supervisors"), "team-2", "agent-7", 200, None),
    ("agent-1", ("support_agents", "supervisors"), "team-2", "agent-5", 403, "team_forbidden"),
]


@pytest.mark.parametrize("who, groups, supervises, target, expected, code", CHANGES)
async def test_changing_another_agent_takes_supervising_its_team(relay_factory, token_minter, capture_events,
                                                                  who, groups, supervises, target, expected, code):
    relay = await _seeded(relay_factory, token_minter)
    before = await relay.store.get(target)
    token = token_minter.mint(who, groups=groups, team_id="team-1", supervises=supervises)
    status, body, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "break", "agent_id": target})
    assert status == expected, body
    if code is None:
        assert body["source"] == "supervisor" and body["changed_by"] == who
    else:
        assert body["error"]["code"] == code
        after = await relay.store.get(target)
        assert (before and before.version) == (after and after.version), "a refused change wrote nothing"


async def test_a_token_without_a_team_gets_a_clear_error(relay_factory, token_minter, capture_events):
    relay = await _seeded(relay_factory, token_minter)
    token = token_minter.mint("agent-8", team_id=None)
    for method, path, body in (("GET", "/v1/roster", None), ("POST", "/v1/status", {"status": "available"}),
                               ("POST", "/v1/heartbeat", None)):
        status, answer, _ = await relay.call(method, path, token=token, json_body=body)
        assert status == 403 and answer["error"]["code"] == "no_team", (path, answer)
    bad = token_minter.mint("agent-8", team_id="team 8")  # not a channel segment: no team, not a wider view
    status, answer, _ = await relay.call("GET", "/v1/roster", token=bad)
    assert status == 403 and answer["error"]["code"] == "no_team"


async def test_roster_pages_with_a_cursor(relay_factory, token_minter, capture_events):
    relay = await relay_factory(rate_burst=1000, rate_per_s=1000, roster_page=2)
    for i in range(1, 6):
        await relay.call("POST", "/v1/status", token=token_minter.mint(f"agent-{i}", team_id="team-1"),
                         json_body={"status": "available"})
    token = token_minter.mint("agent-1", team_id="team-1")
    seen, cursor, pages = [], None, 0
    while True:
        path = "/v1/roster?team=team-1" + (f"&cursor={cursor}" if cursor else "")
        status, body, _ = await relay.call("GET", path, token=token)
        assert status == 200 and len(body["agents"]) <= 2
        seen += [a["agent_id"] for a in body["agents"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == sorted(f"agent-{i}" for i in range(1, 6)) and pages == 3
    status, body, _ = await relay.call("GET", "/v1/roster?team=team-1&cursor=bad/cursor", token=token)
    assert status == 400 and body["error"]["code"] == "invalid_request"
