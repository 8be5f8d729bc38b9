"""The agent's day rules (client/agent_day.py) with a fake idle source and a fake clock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from presence_desktop.client.agent_day import AgentDay, Answer, PromptKind, format_span
from presence_desktop.client.platform_idle import IdleSample
from presence_desktop.domain.presence import PresenceEvent, format_time
from presence_desktop.domain.roster import OwnStatus
from presence_desktop.resources import default_catalogue

T0 = 1_800_000_000.0


class Clock:
    def __init__(self):
        self.wall, self.mono = T0, 1000.0

    def advance(self, s, sleep=False):
        self.wall += s
        if not sleep:  # a suspend stops the monotonic clock (Linux, macOS)
            self.mono += s


class FakePort:
    """The service as AgentDay sees it: a real OwnStatus, requests recorded, confirmed on demand."""

    def __init__(self, clock):
        self.catalogue = default_catalogue()
        self.clock = clock
        self.own = OwnStatus("agent-1", clock=lambda: clock.wall)
        self.requests = []
        self.version = 0

    def request_status(self, status, message=None, source="manual"):
        self.catalogue.get(status)
        self.requests.append((status, message, source))
        self.own.request(status, message, source)

    def confirm(self, by="agent-1"):
        p = self.own.pending
        self.version += 1
        ev = PresenceEvent("agent-1", "team-1", "Ada", p.status, self.version,
                           format_time(datetime.fromtimestamp(self.clock.wall, UTC)),
                           source=p.source if by == "agent-1" else "supervisor", changed_by=by, message=p.message)
        self.own.confirmed(ev, p)
        return ev

    def server_sets(self, status, source="supervisor", by="sup-1"):
        self.version += 1
        ev = PresenceEvent("agent-1", "team-1", "Ada", status, self.version,
                           format_time(datetime.fromtimestamp(self.clock.wall, UTC)), source=source, changed_by=by)
        self.own.observe(ev)


class Listener:
    def __init__(self):
        self.prompts, self.withdrawn, self.countdowns = [], [], []

    def show_prompt(self, prompt):
        self.prompts.append(prompt)

    def withdraw_prompt(self, kind):
        self.withdrawn.append(kind)

    def countdown(self, text, over=False):
        assert over == (text is not None and "over by" in text)
        self.countdowns.append(text)


@pytest.fixture
def env():
    clock = Clock()
    port = FakePort(clock)
    listener = Listener()
    wakes = []
    day = AgentDay(port, listener, idle_after_s=600, on_wake=wakes.append,
                   clock=lambda: clock.wall, wall=lambda: clock.wall, monotonic=lambda: clock.mono)
    return clock, port, listener, day, wakes


def set_status(port, status, message=None):
    port.request_status(status, message)
    port.confirm()


def test_idle_moves_available_to_away_and_asks_on_return(env):
    _clock, port, listener, day, _ = env
    set_status(port, "available", "ready")
    day.idle_sample(IdleSample(599))
    assert port.requests[-1][0] == "available"  # under the threshold: nothing
    day.idle_sample(IdleSample(600))
    assert port.requests[-1] == ("away", None, "idle")
    port.confirm()
    day.idle_sample(IdleSample(900))  # still idle: asked once only
    assert len(port.requests) == 2
    day.idle_sample(IdleSample(1))  # input again
    assert len(port.requests) == 2, "never sets Available by itself"
    [prompt] = listener.prompts
    assert prompt.kind is PromptKind.BACK_FROM_IDLE and prompt.title == "Back to Available?"
    assert [a for a, _ in prompt.answers] == [Answer.ACCEPT, Answer.KEEP]
    day.answer(PromptKind.BACK_FROM_IDLE, Answer.ACCEPT)
    assert port.requests[-1] == ("available", "ready", "manual")  # the agent's click, with the old message
    assert listener.withdrawn == [PromptKind.BACK_FROM_IDLE]


def test_keep_answer_stays_away(env):
    _clock, port, _listener, day, _ = env
    set_status(port, "available")
    day.idle_sample(IdleSample(700))
    port.confirm()
    day.idle_sample(IdleSample(0))
    day.answer(PromptKind.BACK_FROM_IDLE, Answer.KEEP)
    assert port.requests[-1][0] == "away" and day.prompt(PromptKind.BACK_FROM_IDLE) is None


def test_auto_return_when_the_user_chose_it(env):
    _clock, port, listener, day, _ = env
    day.configure(600, "auto")
    set_status(port, "available")
    day.idle_sample(IdleSample(600))
    port.confirm()
    day.idle_sample(IdleSample(2))
    assert port.requests[-1] == ("available", None, "idle") and listener.prompts == []


def test_screen_lock_counts_as_idle(env):
    _clock, port, _l, day, _ = env
    set_status(port, "available")
    day.idle_sample(IdleSample(3, locked=True))
    assert port.requests[-1] == ("away", None, "idle")


@pytest.mark.parametrize("status", ["on_call", "break", "training", "away", "after_call_work"])
def test_idle_never_overrides_a_deliberate_status(env, status, caplog):
    _clock, port, listener, day, _ = env
    set_status(port, status)
    with caplog.at_level(logging.INFO):
        day.idle_sample(IdleSample(5000))
        day.idle_sample(IdleSample(6000))
        day.idle_sample(IdleSample(0))
    assert port.requests == [(status, None, "manual")] and listener.prompts == []
    assert sum("deliberate status" in r.message for r in caplog.records) == 1  # logged once per idle spell


def test_idle_report_during_a_call_is_logged_and_changes_nothing(env, caplog):
    _clock, port, _l, day, _ = env
    set_status(port, "on_call")
    with caplog.at_level(logging.INFO):
        day.idle_sample(IdleSample(10_000, locked=True))
    assert port.own.status_id == "on_call" and "while on_call" in caplog.text


def test_threshold_off_does_nothing(env):
    _clock, port, _l, day, _ = env
    day.configure(0, "ask")
    set_status(port, "available")
    day.idle_sample(IdleSample(99_999, locked=True))
    assert port.own.status_id == "available" and len(port.requests) == 1


def test_changed_meanwhile_means_no_question(env):
    _clock, port, listener, day, _ = env
    set_status(port, "available")
    day.idle_sample(IdleSample(600))
    port.confirm()
    port.server_sets("training")  # a supervisor decided while the agent was away
    day.idle_sample(IdleSample(0))
    assert listener.prompts == [] and port.own.status_id == "training"


def test_refused_away_is_not_stuck(env):
    """The relay refuses the Away (4xx: the service drops the wish): on return nothing is asked,
    and the next idle spell sets Away again."""
    _clock, port, listener, day, _ = env
    set_status(port, "available")
    day.idle_sample(IdleSample(600))
    port.own.pending = None  # what the service does with a non-retryable refusal
    day.own_changed()
    day.idle_sample(IdleSample(0))
    assert listener.prompts == []
    day.idle_sample(IdleSample(601))
    assert port.requests[-1] == ("away", None, "idle")


def test_pending_away_offline_then_return_asks_and_latest_wish_wins(env):
    """Network down: the Away stays pending; the agent returns and answers: Available replaces
    the pending Away (the service sends only the latest wish)."""
    _clock, port, _listener, day, _ = env
    set_status(port, "available")
    day.idle_sample(IdleSample(600))
    assert port.own.pending.status == "away"
    day.idle_sample(IdleSample(0))
    day.answer(PromptKind.BACK_FROM_IDLE, Answer.ACCEPT)
    assert port.own.pending.status == "available" and port.own.pending.source == "manual"


def test_a_failing_back_end_is_logged_once_and_changes_nothing(env, caplog):
    _clock, port, _l, day, _ = env
    set_status(port, "available")
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            day.idle_failed(OSError("bus gone"))
        day.idle_sample(IdleSample(1))
    assert sum("idle detection failed" in r.message for r in caplog.records) == 1
    assert "works again" in caplog.text and port.own.status_id == "available"


def test_budget_counts_down_and_asks_at_the_end(env):
    clock, port, listener, day, _ = env
    set_status(port, "break")  # 15 min
    clock.advance(60)
    day.tick()
    assert listener.countdowns[-1] == "Break: 14:00 left"
    clock.advance(840)
    day.tick()
    [prompt] = listener.prompts
    assert prompt.kind is PromptKind.BUDGET_OVER
    assert [label for _a, label in prompt.answers] == ["Available", "5 more minutes", "Keep Break"]
    assert port.own.status_id == "break", "nothing routes calls without the agent's answer"
    day.answer(PromptKind.BUDGET_OVER, Answer.SNOOZE)
    clock.advance(299)
    day.tick()
    assert len(listener.prompts) == 1 and listener.countdowns[-1] == "Break: 0:01 left"
    clock.advance(1)
    day.tick()
    assert len(listener.prompts) == 2
    day.answer(PromptKind.BUDGET_OVER, Answer.KEEP)
    clock.advance(600)
    day.tick()
    assert len(listener.prompts) == 2 and listener.countdowns[-1] == "Break: over by 10:00"
    assert port.requests == [("break", None, "manual")]


def test_budget_accept_sets_available_and_a_new_status_withdraws_the_question(env):
    clock, port, listener, day, _ = env
    set_status(port, "lunch")
    clock.advance(1800)
    day.tick()
    day.answer(PromptKind.BUDGET_OVER, Answer.ACCEPT)
    assert port.requests[-1] == ("available", None, "manual")
    set_status(port, "break")
    clock.advance(900)
    day.tick()
    assert listener.prompts[-1].kind is PromptKind.BUDGET_OVER
    port.server_sets("on_call", source="manual", by="agent-1")  # picked elsewhere
    day.own_changed()
    assert listener.withdrawn[-1] is PromptKind.BUDGET_OVER and listener.countdowns[-1] is None


def test_clock_jump_calls_on_wake(env):
    clock, _port, _l, day, wakes = env
    day.tick()
    clock.advance(1)
    day.tick()
    assert wakes == []
    clock.advance(3600, sleep=True)
    day.tick()
    assert len(wakes) == 1 and "jumped" in wakes[0]
    clock.advance(1)
    day.tick()
    assert len(wakes) == 1


def test_start_without_status_publishes_signed_in_and_offers_the_last_choice(env):
    _clock, port, listener, day, _ = env
    day.restore = ("break", "back at 2")
    day.joined()
    assert port.requests == [("away", None, "system")]
    [prompt] = listener.prompts
    assert prompt.kind is PromptKind.RESTORE and "Break" in prompt.text and "back at 2" in prompt.text
    day.joined()  # once per session
    assert len(port.requests) == 1 and len(listener.prompts) == 1
    port.confirm()
    day.answer(PromptKind.RESTORE, Answer.ACCEPT)
    assert port.requests[-1] == ("break", "back at 2", "manual")


def test_start_after_offline_signs_in_but_never_over_a_chosen_status(env):
    _clock, port, _listener, day, _ = env
    port.server_sets("offline", source="manual", by="agent-1")
    day.joined()
    assert port.requests == [("away", None, "system")]
    port2 = FakePort(_clock)
    port2.server_sets("training", source="manual", by="agent-1")
    AgentDay(port2, Listener()).joined()
    assert port2.requests == []


def test_restore_of_available_is_only_offered(env):
    _clock, port, listener, day, _ = env
    day.restore = ("available", None)
    day.joined()
    assert [r[0] for r in port.requests] == ["away"]  # signed in, not Available
    assert listener.prompts[0].status == "available"
    port.request_status("training")  # the agent picks something else
    day.own_changed()
    assert day.prompt(PromptKind.RESTORE) is None


def test_last_choice_is_the_users_own_pick_only(env):
    _clock, port, _l, day, _ = env
    set_status(port, "break", "back at 2")
    assert day.last_choice() == ("break", "back at 2")
    port.request_status("away", None, "idle")
    port.confirm()
    assert day.last_choice() is None
    port.server_sets("training")
    assert day.last_choice() is None
    set_status(port, "offline")
    assert day.last_choice() is None


def test_quiet_while_on_call(env):
    _clock, port, _l, day, _ = env
    set_status(port, "on_call")
    assert day.quiet
    set_status(port, "available")
    assert not day.quiet


def test_format_span():
    assert (format_span(0), format_span(0.2), format_span(754), format_span(3723)) == ("0:00", "0:01", "12:34", "1:02:03")


def test_a_supervisor_only_watching_gets_no_signed_in_row(env):
    _clock, port, listener, _day, _ = env
    day = AgentDay(port, listener, signs_in=False, restore=("break", None))
    day.joined()
    assert port.requests == [] and listener.prompts[0].kind is PromptKind.RESTORE


def test_a_message_edit_keeps_the_budget_and_the_answer(env):
    clock, port, listener, day, _ = env
    set_status(port, "break")
    since = port.own.current.changed_at
    clock.advance(900)
    day.tick()
    day.answer(PromptKind.BUDGET_OVER, Answer.SNOOZE)
    # The agent edits the message: a new version, the same status since the same moment.
    port.version += 1
    port.own.observe(port.own.current.with_(version=port.version, message="5 min", status_since=since,
                                            changed_at=format_time(datetime.fromtimestamp(clock.wall, UTC))))
    day.own_changed()
    clock.advance(60)
    day.tick()
    assert listener.countdowns[-1] == "Break: 4:00 left" and len(listener.prompts) == 1
