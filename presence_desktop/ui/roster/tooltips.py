"""A roster row's tooltip: who, what since when (local time, in words), who set it, the budget,
why it is not current, and the full message. Shown as text, never as markup.

A tooltip string is rich text whenever Qt's ``mightBeRichText`` guesses so ("<b>SPOOF</b> agent-7"
was drawn bold in the tooltip), so the tooltip is always handed over as escaped HTML: every
character the user typed is shown as typed, after :func:`~presence_desktop.domain.text.display_text`.
"""

from __future__ import annotations

import html

from presence_desktop.domain.roster import Roster
from presence_desktop.domain.statuses import UNKNOWN_ID
from presence_desktop.domain.text import display_text
from presence_desktop.domain.times import format_over, status_sentence


def tooltip_lines(roster: Roster, agent_id: str, now: float) -> list[str]:
    """The tooltip as plain lines (user text neutralised). ``now``: the server's clock."""
    entry = roster.get(agent_id)
    if entry is None:
        return []
    ev = entry.event
    shown = roster.display_status(agent_id, now)
    last = roster.last_known_status(agent_id)
    since = roster.status_since(agent_id) or now
    who = None
    if ev.source == "supervisor" and ev.changed_by:
        setter = roster.get(ev.changed_by)
        who = display_text(setter.event.display_name) if setter is not None else display_text(ev.changed_by)
    lines = [f"{display_text(ev.display_name) or agent_id} ({agent_id}, {display_text(ev.team_id)})"]
    if shown.id == UNKNOWN_ID:
        why = "connection lost" if not roster.connected else "heartbeat overdue"
        lines.append(f"Not current ({why}); last known:")
    lines.append(status_sentence(last.label, since, now, ev.source, ev.changed_by, who))
    over = roster.budget_overrun(agent_id, now)
    if over is not None and last.budget_s is not None:
        lines.append(f"Over its time budget: {format_over(roster.time_in_status(agent_id, now), last.budget_s)}")
    if ev.message:
        lines.append(f"“{display_text(ev.message)}”")
    return lines


def tooltip_html(lines: list[str]) -> str:
    """``lines`` as a tooltip Qt shows verbatim (escaped, one paragraph per line)."""
    if not lines:
        return ""
    body = "<br>".join(html.escape(line, quote=False) for line in lines)
    return f"<p style='white-space:pre'>{body}</p>"


def row_tooltip(roster: Roster, agent_id: str, now: float) -> str:
    return tooltip_html(tooltip_lines(roster, agent_id, now))
