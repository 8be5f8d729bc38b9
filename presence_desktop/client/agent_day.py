"""The agent's day: presence that follows the person (README "The agent's day"). No Qt here.

:class:`AgentDay` holds the rules; the UI feeds it (an idle sample every few seconds, a tick
every second, "own status changed", "joined") and shows what it asks for (:class:`Prompt`,
countdown text) through one :class:`DayListener`. It changes the status only through
``PresenceService.request_status``, so pending, retry and "the server's order wins" are the
service's as for any click.

Rules (the trust rule: nothing the app sets by itself is Available):

- Idle: after ``idle_after_s`` without input, or while the screen is locked, a routable status
  (Available) becomes the catalogue's ``idle_status`` (Away, source ``idle``). Any other status
  is the agent's deliberate choice and stays (On call included: logged, not changed). On the
  first input after that: if the status is still the idle one, ask "Back to Available?" or,
  when the user chose ``on_return="auto"``, return to the status held before (source ``idle``).
  If anyone changed the status meanwhile, nothing is asked.
- Timed statuses: a status with ``budget_s`` counts down from its server ``changed_at``; at
  zero it asks "Back to Available?" (Available / 5 more minutes / keep). Nothing changes until
  the agent answers.
- Start: after the first join an agent with no status (none, or offline) gets the catalogue's
  ``signed_in_status`` (source ``system``; not a supervisor or manager, who may only be watching), and the
  last status this user chose is offered (never set without the user's click).
- Sleep: a wall/monotonic clock jump (client/wake.py) calls ``on_wake`` (the service's
  ``resume``).

Faults: an idle back-end that raises is logged once per run of failures and treated as "no
news"; a refused or pending Away is the service's (it retries, or drops it and says why) and
the return check looks at what the status is, not at what was asked, so nothing gets stuck.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from presence_desktop.client.platform_idle import IdleSample
from presence_desktop.client.wake import ClockJumpDetector
from presence_desktop.domain.presence import parse_time
from presence_desktop.domain.roster import OwnStatus
from presence_desktop.domain.statuses import OFFLINE_ID, StatusCatalogue

log = logging.getLogger(__name__)

SNOOZE_S = 300  # "5 more minutes"


class PromptKind(enum.Enum):
    BACK_FROM_IDLE = "back_from_idle"
    BUDGET_OVER = "budget_over"
    RESTORE = "restore"


class Answer(enum.Enum):
    ACCEPT = "accept"  # Available / set the offered status
    SNOOZE = "snooze"  # 5 more minutes (budget only)
    KEEP = "keep"  # keep the current status / not now


@dataclass(frozen=True, slots=True)
class Prompt:
    """A question for the agent. ``title``/``text`` are plain text (user messages inside);
    ``answers`` are the buttons, in order, with their labels."""

    kind: PromptKind
    title: str
    text: str
    answers: tuple[tuple[Answer, str], ...]
    status: str | None = None  # the status ACCEPT would set
    message: str | None = None


class DayListener(Protocol):
    def show_prompt(self, prompt: Prompt) -> None: ...

    def withdraw_prompt(self, kind: PromptKind) -> None: ...

    def countdown(self, text: str | None, over: bool = False) -> None:
        """The own status's time budget as text (None = no budget); ``over`` once it is spent."""


class StatusPort(Protocol):
    """What AgentDay needs of :class:`~presence_desktop.client.service.PresenceService`."""

    own: OwnStatus
    catalogue: StatusCatalogue

    def request_status(self, status: str, message: str | None = None, source: str = "manual") -> None: ...


def format_span(seconds: float) -> str:
    """``754`` -> ``"12:34"``; ``3723`` -> ``"1:02:03"`` (whole seconds, rounded up)."""
    s = max(0, int(-(-seconds // 1)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class AgentDay:
    def __init__(
        self,
        service: StatusPort,
        listener: DayListener,
        *,
        idle_after_s: float | None = 600.0,
        on_return: str = "ask",
        restore: tuple[str, str | None] | None = None,
        signs_in: bool = True,
        on_wake: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: the relay's time (budgets run from its ``status_since``); ``wall`` and
        ``monotonic``: this computer's clocks, for the sleep detector only."""
        self.service = service
        self.catalogue = service.catalogue
        self.listener = listener
        self.idle_after_s = idle_after_s
        self.on_return = on_return
        self.restore = restore  # (status, message) the user chose last time, offered at start
        self.signs_in = signs_in  # publish the signed-in status (agents; not a supervisor only watching)
        self.on_wake = on_wake
        self.clock, self.wall, self.monotonic = clock, wall, monotonic
        self.jumps = ClockJumpDetector()
        self.idle_available = True  # False once the UI found no back-end
        self._away_from: tuple[str, str | None] | None = None  # status and message before idle Away
        self._idle_noted = False  # "idle, but the status is deliberate" logged for this idle spell
        self._idle_failing = False
        self._joined = False
        self._prompts: dict[PromptKind, Prompt] = {}
        self._budget_key: tuple[str, str] | None = None  # (status, status_since) being counted down
        self._extra_s = 0.0
        self._budget_done = False  # asked and answered (keep) for this status change

    # --- settings ------------------------------------------------------------------------------
    def configure(self, idle_after_s: float | None, on_return: str) -> None:
        """Applied at once (preferences)."""
        self.idle_after_s = idle_after_s if idle_after_s else None
        self.on_return = on_return

    @property
    def quiet(self) -> bool:
        """Do not disturb: the own status is one of the catalogue's ``quiet_statuses`` (On call)."""
        return self.service.own.status_id in self.catalogue.quiet_statuses

    def prompt(self, kind: PromptKind) -> Prompt | None:
        return self._prompts.get(kind)

    # --- idle ----------------------------------------------------------------------------------
    def idle_failed(self, exc: BaseException) -> None:
        """The back-end raised: log once per run of failures; no change of status."""
        if not self._idle_failing:
            self._idle_failing = True
            log.warning("idle detection failed (%s); the status is left as it is", exc)

    def idle_sample(self, sample: IdleSample) -> None:
        if self._idle_failing:
            self._idle_failing = False
            log.info("idle detection works again")
        if self.idle_after_s is None:
            if self._away_from is not None:
                self._returned()  # turned off while Away: the agent is asked as on return
            return
        idle = sample.idle_s >= self.idle_after_s or bool(sample.locked)
        if idle:
            self._went_idle(sample)
        else:
            self._idle_noted = False
            if self._away_from is not None:
                self._returned()

    def _went_idle(self, sample: IdleSample) -> None:
        if self._away_from is not None:
            return
        own = self.service.own
        target = self.catalogue.idle_status
        why = "screen locked" if sample.locked else f"no input for {sample.idle_s:.0f} s"
        if target is None:
            return
        current = own.status_id
        if current is None or not self.catalogue.routable(current):
            if not self._idle_noted:
                self._idle_noted = True
                log.info("idle (%s) while %s: a deliberate status, left as it is", why, own.status_id)
            return
        self._away_from = (current, own.message)
        log.info("idle (%s): %s -> %s", why, current, target)
        self.service.request_status(target, None, source="idle")

    def _returned(self) -> None:
        before, self._away_from = self._away_from, None
        own = self.service.own
        away = self.catalogue.idle_status
        if before is None or away is None or own.status_id != away:
            log.info("back from idle; the status was changed meanwhile (%s): nothing asked", own.status_id)
            return
        status, message = before
        if self.on_return == "auto":
            log.info("back from idle: returning to %s (the user's choice)", status)
            self.service.request_status(status, message, source="idle")
            return
        label, away_label = self.catalogue.get(status).label, self.catalogue.get(away).label
        self._show(Prompt(
            PromptKind.BACK_FROM_IDLE, f"Back to {label}?",
            f"You were away, so your status was set to {away_label}.",
            ((Answer.ACCEPT, label), (Answer.KEEP, f"Stay {away_label}")),
            status, message))

    # --- every second ----------------------------------------------------------------------------
    def tick(self) -> None:
        reason = self.jumps.check(self.wall(), self.monotonic())
        if reason is not None:
            log.info("wake detected: %s", reason)
            if self.on_wake is not None:
                self.on_wake(reason)
        self._tick_budget()

    def _tick_budget(self) -> None:
        own = self.service.own
        event = own.current
        if own.is_pending or event is None:
            self.listener.countdown(None)
            return
        st = self.catalogue.display(event.status)
        if st.budget_s is None:
            self.listener.countdown(None)
            return
        # From when the status began (a message edit keeps it: ``status_since``), on the relay's clock.
        since = getattr(event, "status_since_at", event.changed_at)
        key = (event.status, since)
        if key != self._budget_key:
            self._budget_key, self._extra_s, self._budget_done = key, 0.0, False
        try:
            started = parse_time(since).timestamp()
        except ValueError:
            started = self.clock()
        left = st.budget_s + self._extra_s - max(0.0, self.clock() - started)
        if left > 0:
            self.listener.countdown(f"{st.label}: {format_span(left)} left")
            return
        self.listener.countdown(f"{st.label}: over by {format_span(-left)}", True)
        if not self._budget_done and PromptKind.BUDGET_OVER not in self._prompts:
            back = self._routable_status()
            if back is None:
                return
            label = self.catalogue.get(back).label
            log.info("%s budget (%d s) is over: asking", st.id, st.budget_s)
            self._show(Prompt(
                PromptKind.BUDGET_OVER, f"Your {st.label} time is up",
                f"{st.label} has run {format_span(st.budget_s + self._extra_s)}. Back to {label}?",
                ((Answer.ACCEPT, label), (Answer.SNOOZE, "5 more minutes"), (Answer.KEEP, f"Keep {st.label}")),
                back, None))

    def _routable_status(self) -> str | None:
        return next((s.id for s in self.catalogue if s.routable), None)

    # --- start and own status ------------------------------------------------------------------
    def joined(self) -> None:
        """The first roster arrived: whether this agent has a status is known now."""
        if self._joined:
            return
        self._joined = True
        own = self.service.own
        status = own.status_id
        if self.signs_in and (status is None or (status == OFFLINE_ID and not own.is_pending)):
            signed_in = self.catalogue.signed_in_status
            if signed_in is not None:
                log.info("signed in without a status: %s (source system)", signed_in)
                self.service.request_status(signed_in, None, source="system")
        if self.restore is not None:
            status, message = self.restore
            if status in self.catalogue and status != OFFLINE_ID and (status, message) != (own.status_id, own.message):
                label = self.catalogue.get(status).label
                text = f"Your last status was {label}" + (f": “{message}”" if message else "") + ". Set it again?"
                self._show(Prompt(PromptKind.RESTORE, "Welcome back", text,
                                  ((Answer.ACCEPT, f"Set {label}"), (Answer.KEEP, "Not now")), status, message))

    def own_changed(self) -> None:
        """The own status changed (pick, confirmation, someone else): withdraw stale prompts."""
        own = self.service.own
        p = self._prompts.get(PromptKind.BACK_FROM_IDLE)
        if p is not None and own.status_id != self.catalogue.idle_status:
            self._withdraw(PromptKind.BACK_FROM_IDLE)
        p = self._prompts.get(PromptKind.BUDGET_OVER)
        if p is not None and (own.is_pending or own.current is None or (
                own.current.status, getattr(own.current, "status_since_at", own.current.changed_at)) != self._budget_key):
            self._withdraw(PromptKind.BUDGET_OVER)
        p = self._prompts.get(PromptKind.RESTORE)
        if p is not None and own.pending is not None and own.pending.source == "manual":
            self._withdraw(PromptKind.RESTORE)  # the agent chose something else
        self._tick_budget()

    def last_choice(self) -> tuple[str, str | None] | None:
        """The status to remember for the next start: the user's own confirmed pick (source
        ``manual``, set by this user), never offline; else None."""
        event = self.service.own.current
        if self.service.own.is_pending or event is None or event.source != "manual":
            return None
        if event.status == OFFLINE_ID or event.changed_by != event.agent_id:
            return None
        return event.status, event.message

    # --- answers -------------------------------------------------------------------------------
    def answer(self, kind: PromptKind, answer: Answer) -> None:
        prompt = self._prompts.get(kind)
        if prompt is None:
            return  # withdrawn meanwhile (e.g. the status changed): nothing to do
        self._withdraw(kind)
        log.info("%s answered %s", kind.value, answer.value)
        if answer is Answer.ACCEPT and prompt.status is not None:
            self.service.request_status(prompt.status, prompt.message)  # the agent's click: manual
        elif answer is Answer.SNOOZE:
            self._extra_s += SNOOZE_S
        elif answer is Answer.KEEP and kind is PromptKind.BUDGET_OVER:
            self._budget_done = True

    def _show(self, prompt: Prompt) -> None:
        self._prompts[prompt.kind] = prompt
        self.listener.show_prompt(prompt)

    def _withdraw(self, kind: PromptKind) -> None:
        if self._prompts.pop(kind, None) is not None:
            self.listener.withdraw_prompt(kind)
