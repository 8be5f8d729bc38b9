"""Tooltips of the roster table: what an elided cell cuts off must be readable somewhere."""

from PySide6.QtCore import Qt

from presence_desktop.domain.presence import MESSAGE_MAX_CHARS, PresenceEvent, utc_now_iso
from presence_desktop.domain.roster import Roster
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.roster.columns import COL_MESSAGE, COL_NAME
from presence_desktop.ui.roster.model import RosterTableModel


def test_the_full_message_is_in_the_tooltip(qtbot):
    long_message = ("Covering the Spanish queue for Maria until the 3 pm handover, then training " * 3)[:MESSAGE_MAX_CHARS]
    roster = Roster(default_catalogue())
    roster.begin_join()
    roster.complete_join([PresenceEvent(agent_id="agent-1", team_id="team-1", display_name="Ana", status="away",
                                        version=1, changed_at=utc_now_iso(), message=long_message)])
    model = RosterTableModel(roster)
    model.sync()
    tip = model.index(0, COL_MESSAGE).data(Qt.ItemDataRole.ToolTipRole)
    assert long_message in tip
    assert long_message in model.index(0, COL_NAME).data(Qt.ItemDataRole.ToolTipRole)  # the row's tooltip too
