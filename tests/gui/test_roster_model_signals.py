"""The table model's signals stay proportional to what changed (bench/README.md: a first-to-last
row range made the sorting proxy re-sort thousands of rows per frame)."""

from presence_desktop.domain.roster import Change, Roster
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.roster_model import RosterProxy, RosterTableModel
from presence_desktop.ui.sample import sample_events


def make(n=100, stale_after_s=None):
    roster = Roster(default_catalogue(), stale_after_s=stale_after_s)
    roster.begin_join()
    roster.complete_join(sample_events(n))
    model = RosterTableModel(roster)
    proxy = RosterProxy()
    proxy.setSourceModel(model)
    emitted = []
    model.dataChanged.connect(lambda tl, br, roles=(): emitted.append((tl.row(), br.row())))
    return roster, model, emitted


def test_far_apart_rows_get_their_own_signals(qtbot):
    roster, model, emitted = make()
    model.note_change(Change(updated={roster.agent_at(3), roster.agent_at(90), roster.agent_at(92)}))
    model.flush()
    assert emitted == [(3, 3), (90, 92)]


def test_connection_change_still_repaints_everything(qtbot):
    roster, model, emitted = make()
    model.note_change(roster.connection_lost())
    model.flush()
    assert emitted == [(0, 99)]


def test_tick_announces_only_rows_whose_staleness_flipped(qtbot):
    roster, model, emitted = make(stale_after_s=None)
    model.tick()
    model.flush()
    assert emitted == []  # nothing time-dependent in the model: the window repaints the clocks
    roster, model, emitted = make(stale_after_s=60)
    model.clock = lambda: roster.get(roster.agent_at(0)).heard_at + 61  # every row overdue
    model.tick()
    model.flush()
    assert emitted == [(0, 99)]
    emitted.clear()
    model.tick()
    model.flush()
    assert emitted == []  # already announced


def test_counts_bar_width_does_not_follow_the_numbers(qtbot):
    from presence_desktop.domain.roster import Counts
    from presence_desktop.ui.widgets import CountsBar

    bar = CountsBar(default_catalogue())
    qtbot.addWidget(bar)
    widths = set()
    for n in (1, 77, 999, 4321):
        bar.set_counts(Counts({"available": n, "on_call": 5000 - n}, 5000))
        widths.add(bar.minimumSizeHint().width())
    assert len(widths) == 1  # a window at its minimum width must not be resized by a count
