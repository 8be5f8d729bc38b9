"""Time in status runs from the last *status* change: the relay keeps ``status_since`` across a
message edit (issue 15: "Editing only the message resets Time in status: '1 min' -> '0:01'")."""

from __future__ import annotations

from presence_desktop.domain.presence import PresenceEvent, parse_time


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def epoch(text: str) -> float:
    return parse_time(text).timestamp()


async def test_a_message_edit_keeps_status_since_and_a_status_change_resets_it(relay_factory, token_minter, capture_events):
    relay = await relay_factory()
    clock = relay.core.clock = FakeClock(1_800_000_000.0)
    token = token_minter.mint("agent-1", team_id="team-1")
    status, first, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "break"})
    assert status == 200, first
    assert epoch(first["status_since"]) == epoch(first["changed_at"]) == clock.now

    clock.now += 60  # a minute into the break, only the message changes
    status, edited, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "break", "message": "back in 5"})
    assert status == 200, edited
    assert edited["version"] == 2 and epoch(edited["changed_at"]) == clock.now
    assert edited["status_since"] == first["status_since"]  # the failing input: this was reset

    clock.now += 30
    status, changed, _ = await relay.call("POST", "/v1/status", token=token, json_body={"status": "available"})
    assert epoch(changed["status_since"]) == clock.now
    # What was published is what was stored, status_since included.
    assert PresenceEvent.from_json(capture_events.accepted[-1][1]).status_since == changed["status_since"]


async def test_a_supervisor_change_and_the_heartbeat_expiry_follow_the_same_rule(relay_factory, token_minter, capture_events):
    relay = await relay_factory(heartbeat_ttl_s=90)
    clock = relay.core.clock = FakeClock(1_800_000_000.0)
    await relay.call("POST", "/v1/status", token=token_minter.mint("agent-7", team_id="team-3"), json_body={"status": "on_call"})
    sup = token_minter.mint("sup-1", groups=("supervisors",), team_id="team-1", supervises="team-3")
    clock.now += 10
    _, same, _ = await relay.call("POST", "/v1/status", token=sup, json_body={"status": "on_call", "agent_id": "agent-7", "message": "VIP"})
    assert epoch(same["status_since"]) == 1_800_000_000.0 and same["source"] == "supervisor"
    clock.now += 10
    _, other, _ = await relay.call("POST", "/v1/status", token=sup, json_body={"status": "after_call_work", "agent_id": "agent-7"})
    assert epoch(other["status_since"]) == clock.now
    clock.now += 1000  # silent past the TTL: the sweeper sets offline, a new status
    result = await relay.core.sweep()
    assert result.expired == ["agent-7"]
    row = await relay.store.get("agent-7")
    assert row.event.status == "offline" and epoch(row.event.status_since) == clock.now


def test_an_event_without_status_since_still_reads_and_writes_the_same():
    """Backwards compatible both ways: an older relay's event (no field) means status_since ==
    changed_at, and an event without it serialises to the same bytes as before."""
    old = {"kind": "presence", "schema": 1, "agent_id": "a-1", "team_id": "t-1", "display_name": "A",
           "status": "break", "version": 3, "changed_at": "2026-12-04T22:19:38.619Z", "source": "manual",
           "changed_by": "a-1", "message": None}
    ev = PresenceEvent.from_dict(old)
    assert ev.status_since is None and ev.status_since_at == old["changed_at"]
    assert ev.to_dict() == old
    new = PresenceEvent.from_dict({**old, "status_since": "2026-12-04T22:00:00.000Z"})
    assert new.status_since_at == "2026-12-04T22:00:00.000Z"
