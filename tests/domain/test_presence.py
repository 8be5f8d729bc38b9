import json

import pytest

from presence_desktop.domain.presence import PresenceError, PresenceEvent, channel_for


def _event(**over):
    base = dict(agent_id="a-1", team_id="team-1", display_name="Ada Lovelace", status="available",
                version=3, changed_at="2026-11-29T19:00:00.123Z", source="manual", changed_by="sub-1")
    base.update(over)
    return PresenceEvent(**base)


def test_round_trip_is_compact_and_keeps_unicode():
    ev = _event(display_name="Zoë <&> \"Q\"", message="back in 5 — ok")
    text = ev.to_json()
    assert " " not in text.replace("Zoë <&> ", "").replace("back in 5 — ok", "")
    assert "Zoë" in text and "—" in text
    assert PresenceEvent.from_json(text) == ev
    assert json.loads(text)["kind"] == "presence" and json.loads(text)["schema"] == 1


def test_channel_is_namespace_team_agent():
    assert _event().channel == "/agent-presence/team-1/a-1"
    with pytest.raises(PresenceError):
        channel_for("team/1", "a")


@pytest.mark.parametrize(
    "payload, message",
    [
        ("not json", "not JSON"),
        ('{"kind":"chat"}', "kind"),
        ('{"kind":"presence","schema":2}', "schema"),
        ('{"kind":"presence","schema":1,"agent_id":"a"}', "missing"),
    ],
)
def test_malformed_payloads_are_refused(payload, message):
    with pytest.raises(PresenceError, match=message):
        PresenceEvent.from_json(payload)


@pytest.mark.parametrize(
    "over, message",
    [
        ({"version": 0}, "version"),
        ({"version": True}, "version"),
        ({"source": "robot"}, "source"),
        ({"agent_id": "-bad"}, "agent_id"),
        ({"message": "x" * 141}, "message"),
        ({"changed_at": "yesterday"}, "changed_at"),
        ({"changed_at": "2026-11-29T19:00:00"}, "time zone"),
    ],
)
def test_invalid_fields_are_refused(over, message):
    with pytest.raises(PresenceError, match=message):
        _event(**over)


def _payload(**over):
    body = _event(message="back soon", status_since="2026-11-29T18:52:10.004Z").to_dict()
    body.update(over)
    return body


@pytest.mark.parametrize(
    "over, message",
    [
        ({"version": 0}, "version"),
        ({"version": True}, "version"),
        ({"version": "3"}, "version"),
        ({"source": "robot"}, "source"),
        ({"agent_id": "-bad"}, "agent_id"),
        ({"team_id": "a/b"}, "team_id"),
        ({"display_name": 5}, "display_name"),
        ({"status": ""}, "status"),
        ({"message": "x" * 141}, "message"),
        ({"changed_by": 7}, "changed_by"),
        ({"changed_at": "yesterday"}, "changed_at"),
        ({"changed_at": "2026-11-29T19:00:00"}, "time zone"),
        ({"changed_at": 1764442800}, "changed_at"),
        ({"status_since": "soon"}, "status_since"),
    ],
)
def test_from_dict_refuses_what_the_constructor_refuses(over, message):
    """from_dict checks once and builds without the constructor: the same rules, the same words."""
    with pytest.raises(PresenceError, match=message):
        PresenceEvent.from_dict(_payload(**over))


def test_from_dict_builds_every_field():
    ev = PresenceEvent(agent_id="a-1", team_id="team-1", display_name="Ada", status="break", version=9,
                       changed_at="2026-11-29T19:00:00.123Z", source="supervisor", changed_by="sup-1",
                       message="lunch", status_since="2026-11-29T18:00:00.000Z")
    got = PresenceEvent.from_dict({**ev.to_dict(), "bench_ts": 1})
    assert got == ev and hash(got) == hash(ev)
    assert set(ev.to_dict()) - {"kind", "schema"} == set(PresenceEvent.__dataclass_fields__)
    with pytest.raises(AttributeError):
        got.status = "x"  # type: ignore[misc]  # still frozen


def test_to_dict_keeps_the_wire_order_and_leaves_out_a_missing_status_since():
    # The relay signs to_json's bytes: the field order is part of the wire format.
    assert _event().to_json() == (
        '{"kind":"presence","schema":1,"agent_id":"a-1","team_id":"team-1","display_name":"Ada Lovelace",'
        '"status":"available","version":3,"changed_at":"2026-11-29T19:00:00.123Z","source":"manual",'
        '"changed_by":"sub-1","message":null}')
    assert _event(status_since="2026-11-29T18:00:00.000Z").to_dict()["status_since"] == "2026-11-29T18:00:00.000Z"
