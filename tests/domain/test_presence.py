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
