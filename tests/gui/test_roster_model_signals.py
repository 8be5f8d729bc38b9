"""The table model's signals stay proportional to what changed (bench/README.md: a first-to-last
row range made the former sorting proxy re-sort thousands of rows per frame; a range of more than
~200 cells repaints the whole view even when none of it is on screen)."""

import time

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QTableView

from presence_desktop.client.sample import sample_events
from presence_desktop.domain.roster import Change, Roster
from presence_desktop.resources import default_catalogue
from presence_desktop.ui.roster import model as roster_model
from presence_desktop.ui.roster.model import FRAME_MS, RosterTableModel


def make(n=100, stale_after_s=None):
    roster = Roster(default_catalogue(), stale_after_s=stale_after_s)
    roster.begin_join()
    roster.complete_join(sample_events(n))
    model = RosterTableModel(roster)
    emitted = []
    model.dataChanged.connect(lambda tl, br, roles=(): emitted.append((tl.row(), br.row())))
    return roster, model, emitted


def test_each_changed_row_gets_its_own_signal(qtbot):
    roster, model, emitted = make()
    model.note_change(Change(updated={model.agent_at(3), model.agent_at(90), model.agent_at(92), model.agent_at(91)}))
    model.flush()
    assert emitted == [(3, 3), (90, 90), (91, 91), (92, 92)]


def test_very_many_changed_rows_get_range_signals(qtbot, monkeypatch):
    monkeypatch.setattr(roster_model, "ROW_SIGNALS_MAX", 10)
    roster, model, emitted = make()
    model.note_change(Change(updated={model.agent_at(r) for r in (*range(0, 20), 50)}))
    model.flush()
    assert emitted == [(0, 19), (50, 50)]


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, obj, event):  # Qt API
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def test_changes_off_screen_do_not_repaint_the_view(qtbot):
    roster, model, _ = make(n=400)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(600, 300)  # ~10 rows on screen
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(50)
    counter = PaintCounter()
    view.viewport().installEventFilter(counter)
    on_screen = set(range(view.rowAt(0), view.rowAt(view.viewport().height() - 1) + 1))
    off = [a for a in roster.agent_ids() if model.row_of_agent(a) not in on_screen]
    for agent_id in off[100:200]:
        ev = roster.get(agent_id).event
        model.note_change(roster.apply(ev.with_(version=ev.version + 1)))
    model.flush()
    qtbot.wait(50)
    assert counter.paints == 0  # one range signal for these rows repainted everything


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
    overdue = [r for r in range(100) if roster.get(model.agent_at(r)).event.status != "offline"]
    assert emitted == [(r, r) for r in overdue] and len(overdue) > 50  # offline rows are never stale
    emitted.clear()
    model.tick()
    model.flush()
    assert emitted == []  # already announced


def test_counts_bar_width_does_not_follow_the_numbers(qtbot):
    from presence_desktop.domain.roster import Counts
    from presence_desktop.ui.roster.counts import CountsBar

    bar = CountsBar(default_catalogue())
    qtbot.addWidget(bar)
    widths = set()
    for n in (1, 77, 999, 4321):
        bar.set_counts(Counts({"available": n, "on_call": 5000 - n}, 5000))
        widths.add(bar.minimumSizeHint().width())
    assert len(widths) == 1  # a window at its minimum width must not be resized by a count


def test_a_change_after_a_quiet_spell_is_flushed_in_the_next_loop_turn(qtbot):
    roster, model, emitted = make()
    model._last_flush = time.monotonic() - 1.0  # nothing flushed for a second
    model.note_change(Change(updated={model.agent_at(5)}))
    assert model._flush_timer.isActive() and model._flush_timer.interval() == 0  # not a 16 ms frame later
    qtbot.waitUntil(lambda: emitted == [(5, 5)], timeout=1000)


def test_changes_right_after_a_flush_wait_for_the_next_frame(qtbot):
    roster, model, emitted = make()
    model.note_change(Change(updated={model.agent_at(5)}))
    model.flush()
    model.note_change(Change(updated={model.agent_at(6)}))
    assert model._flush_timer.isActive() and 0 < model._flush_timer.interval() <= FRAME_MS


def test_new_rows_in_a_stream_are_inserted_at_most_every_insert_interval(qtbot):
    from presence_desktop.domain.presence import utc_now_iso

    roster, model, emitted = make()
    inserted = []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append((first, last)))
    template = roster.get(roster.agent_at(0)).event

    def join(i):
        return roster.apply(template.with_(agent_id=f"new-{i}", display_name=f"New {i}", version=1, changed_at=utc_now_iso()))

    model._last_place = time.monotonic()  # rows were just placed
    model.note_change(join(1))
    model.note_change(Change(updated={model.agent_at(4)}))
    model._frame()  # the frame timer: updates now, the new row waits
    assert inserted == [] and emitted == [(4, 4)] and model.rowCount() == 100
    assert model._flush_timer.isActive()  # ...for the insert interval
    model.note_change(join(2))
    model._last_place -= roster_model.PLACE_MS / 1000
    model._frame()
    # each new row at its place, in name order
    assert sorted(inserted) == sorted((model.row_of_agent(a),) * 2 for a in ("new-1", "new-2"))
    assert model.rowCount() == 102
    assert model.visible_agent_ids() == sorted(model.visible_agent_ids(), key=lambda a: model.sort_key(a, 0))


def test_an_explicit_flush_inserts_at_once(qtbot):
    from presence_desktop.domain.presence import utc_now_iso

    roster, model, emitted = make()
    model._last_place = time.monotonic()
    template = roster.get(roster.agent_at(0)).event
    model.note_change(roster.apply(template.with_(agent_id="new-1", version=1, changed_at=utc_now_iso())))
    model.flush()
    assert model.rowCount() == 101
