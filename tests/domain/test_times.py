"""Times that are true (issue 15, item 2): from the last status change, on the server's clock,
one duration format, local clock times in words."""

from __future__ import annotations

import time
from datetime import datetime

from presence_desktop.domain.presence import PresenceEvent, format_time
from presence_desktop.domain.roster import Roster
from presence_desktop.domain.times import (
    ServerClock,
    clock_time,
    format_ago,
    format_duration,
    format_over,
    status_sentence,
)
from presence_desktop.resources import default_catalogue

T0 = 1_800_000_000.0


def iso(epoch: float) -> str:
    return format_time(datetime.fromtimestamp(epoch).astimezone())


def event(version: int, status: str, changed_at: float, since: float | None = None, message: str | None = None) -> PresenceEvent:
    return PresenceEvent(agent_id="agent-1", team_id="team-1", display_name="A", status=status, version=version,
                         changed_at=iso(changed_at), status_since=None if since is None else iso(since), message=message)


def test_one_duration_format_that_cannot_be_misread():
    # "0:02" was two seconds read as two minutes; "2 min" covered up to 2:59 of a 3-minute budget.
    assert format_duration(2) == "0:00:02"
    assert format_duration(179) == "0:02:59"
    assert format_duration(180) == "0:03:00"
    assert format_duration(4200) == "1:10:00"
    assert format_duration(-5) == "0:00:00"
    assert format_ago(3) == "just now" and format_ago(192) == "0:03:12 ago"
    assert format_over(1030, 900) == "+0:02:10 over 0:15:00"


def test_a_message_edit_keeps_the_time_in_status():
    clock = ServerClock(lambda: T0 + 90)
    roster = Roster(default_catalogue(), clock=clock)
    roster.begin_join()
    roster.complete_join([event(1, "break", T0)])
    assert format_duration(roster.time_in_status("agent-1")) == "0:01:30"
    roster.on_live(event(2, "break", T0 + 60, since=T0, message="back in 5"))  # message only
    assert format_duration(roster.time_in_status("agent-1")) == "0:01:30"
    roster.on_live(event(3, "available", T0 + 80, since=T0 + 80))
    assert format_duration(roster.time_in_status("agent-1")) == "0:00:10"


def test_durations_follow_the_server_clock_not_a_local_clock_70_minutes_ahead():
    local = T0 + 70 * 60 + 5  # this computer: 70 min ahead; the status was set 5 s ago
    clock = ServerClock(lambda: local)
    roster = Roster(default_catalogue(), clock=clock)
    roster.begin_join()
    roster.complete_join([event(1, "after_call_work", T0)])
    assert roster.budget_level("agent-1") == "over"  # the failing input: "1 h 10 min" in red
    sent, received = local - 0.2, local
    clock.observe(T0 + 5, sent, received)  # the roster's as_of, measured around the request
    assert round(clock.offset_s) == -(70 * 60)
    assert format_duration(roster.time_in_status("agent-1")) == "0:00:05"
    assert roster.budget_level("agent-1") == "ok"
    clock.assume(123)  # a coarser offset (token iat) never replaces a measured one
    assert round(clock.offset_s) == -(70 * 60)


def test_budget_overrun_in_seconds():
    clock = ServerClock(lambda: T0 + 900 + 130)
    roster = Roster(default_catalogue(), clock=clock)
    roster.begin_join()
    roster.complete_join([event(1, "break", T0)])
    assert roster.budget_overrun("agent-1") == 130
    assert format_over(roster.time_in_status("agent-1"), 900) == "+0:02:10 over 0:15:00"
    clock.local = lambda: T0 + 10
    assert roster.budget_overrun("agent-1") is None


def test_the_tooltip_sentence_is_local_time_in_words_never_iso():
    now = time.time()
    since = now - 750
    text = status_sentence("Break", since, now, "manual", "agent-1")
    local = datetime.fromtimestamp(since).strftime("%H:%M")
    assert text.startswith(f"Break since {local}") or text.startswith("Break since ")  # day boundary
    assert "(0:12:30)" in text and text.endswith("set by the agent")
    assert "T" not in text.split(" since ")[1].split(" ")[0] and "Z" not in text
    assert status_sentence("Training", since, now, "supervisor", "sup-1", "Sam Lee").endswith("set by Sam Lee (supervisor)")
    assert "no heartbeat" in status_sentence("Offline", since, now, "system", None)
    assert clock_time(T0, T0) == datetime.fromtimestamp(T0).strftime("%H:%M")
    assert clock_time(T0 - 3 * 86400, T0) == datetime.fromtimestamp(T0 - 3 * 86400).strftime("%a %H:%M")
