"""Headline counts under filters: over the team / search scope, never over the status filter."""

from presence_desktop.resources import default_catalogue
from tests.gui.test_roster_window import make_window


def test_counts_ignore_the_status_filter_but_follow_team_and_search(qtbot, artifacts_dir):
    win, roster = make_window(qtbot)
    team2 = [a for a in roster.agent_ids() if roster.get(a).event.team_id == "team-2"]
    avail = sum(roster.display_status(a).id == "available" for a in team2)
    assert len(team2) == 10 and 0 < avail < 10
    win.filters.team.setCurrentIndex(win.filters.team.findData("team-2"))
    win.filters.set_statuses({"available"})
    assert win.model.rowCount() == avail
    # "Available 3 / 10", not "3 / 3": the status filter picks rows, not the population.
    assert win.counts.labels["available"][1].text() == f"Available {avail} / 10"
    win.show()
    qtbot.waitExposed(win)
    win.grab().save(str(artifacts_dir / "roster-counts-team2-available.png"))
    # A search narrows the population (it is a scope, like the team).
    name = roster.get(team2[0]).event.display_name
    win.filters.set_statuses(None)
    win.filters.search.setText(name)
    assert win.counts.labels["available"][1].text().endswith(f"/ {win.model.rowCount()}")


def test_counts_bar_restyles_only_labels_whose_style_changes(qtbot):
    # setStyleSheet re-polishes a label: nine of them after every batch of a burst added up.
    from presence_desktop.domain.roster import Counts
    from presence_desktop.ui.roster.counts import CountsBar

    bar = CountsBar(default_catalogue())
    qtbot.addWidget(bar)
    styled = []
    for sid, (_icon, text) in bar.labels.items():
        text.setStyleSheet = lambda css, sid=sid, real=text.setStyleSheet: (styled.append(sid), real(css))
    bar.set_counts(Counts({"available": 3, "on_call": 7}, 10))
    first = len(styled)
    bar.set_counts(Counts({"available": 4, "on_call": 6}, 10))
    assert len(styled) == first  # same styles: none set again
    bar.set_counts(Counts({"available": 4, "lunch": 6}, 10))
    assert sorted(styled[first:]) == ["lunch", "on_call"]
    assert bar.labels["available"][1].accessibleName() == "Available 4 / 10"
    # zero counts stay (muted), so the chips never move: "On call 0 / 10" is shown
    assert bar.labels["on_call"][1].isVisibleTo(bar) and bar.labels["lunch"][1].isVisibleTo(bar)
    assert bar.labels["on_call"][1].accessibleName() == "On call 0 / 10"



def test_counts_never_resize_the_window_and_compact_when_they_do_not_fit(qtbot, artifacts_dir):
    """Statuses appearing one by one (4-digit counts, all nine chips need ~1,530 px in full) leave
    the window's size and minimum width alone; chips that do not fit show symbol and count, the
    full headline in the tooltip and accessible name, and go back to full when there is room."""
    from presence_desktop.domain.roster import Counts
    from presence_desktop.domain.statuses import UNKNOWN

    win, _roster = make_window(qtbot, n=10)
    win.resize(1040, 720)
    win.show()
    qtbot.waitExposed(win)
    size, minimum = win.size(), win.minimumSizeHint().width()
    ids = [st.id for st in default_catalogue()] + [UNKNOWN.id]
    for k in range(1, len(ids) + 1):
        win.counts.set_counts(Counts({sid: 1234 + i for i, sid in enumerate(ids[:k])}, 12000))
        qtbot.wait(1)
        assert win.size() == size and win.minimumSizeHint().width() == minimum, f"{k} statuses"
    bar = win.counts
    assert bar.compact
    icon, text = bar.labels["lunch"]
    lunch = default_catalogue().get("lunch").label
    assert text.text() == str(1234 + ids.index("lunch"))
    assert text.toolTip() == text.accessibleName() == icon.toolTip() == f"{lunch} {1234 + ids.index('lunch')} / 12000"
    assert all(t.geometry().right() <= bar.width() for _i, t in bar.labels.values() if t.isVisible())  # none cut off
    qtbot.wait(20)  # the layout settles before the grab (a paint would wait for it too)
    win.grab().save(str(artifacts_dir / "roster-counts-compact-1040.png"))
    win.resize(1900, 720)
    qtbot.waitUntil(lambda: not bar.compact, timeout=1000)
    assert text.text() == f"{lunch} {1234 + ids.index('lunch')} / 12000"
    qtbot.wait(20)
    win.grab().save(str(artifacts_dir / "roster-counts-full-1900.png"))
    win.resize(bar._needed(bar.NO_TOTAL) + 30, 720)  # room for label and count, not the total
    qtbot.waitUntil(lambda: bar.style_shown == bar.NO_TOTAL, timeout=1000)
    assert text.text() == f"{lunch} {1234 + ids.index('lunch')}"
    win.resize(1040, 720)
    win.counts.set_counts(Counts({"available": 3, "on_call": 7}, 12))
    # zeros are shown too (fixed places), so every catalogue chip is there, none cut off
    shown = [sid for sid, (_i, t) in bar.labels.items() if t.isVisibleTo(bar)]
    assert shown == [st.id for st in default_catalogue()]
    qtbot.wait(20)
    assert all(t.geometry().right() <= bar.width() for _i, t in bar.labels.values() if t.isVisible())
    assert bar.labels["available"][1].accessibleName() == "Available 3 / 12" and win.size().width() == 1040
    qtbot.wait(20)
    win.grab().save(str(artifacts_dir / "roster-counts-few-1040.png"))
