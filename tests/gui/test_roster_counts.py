"""Headline counts under filters: over the team / search scope, never over the status filter."""

from tests.gui.test_roster_window import make_window


def test_counts_ignore_the_status_filter_but_follow_team_and_search(qtbot, artifacts_dir):
    win, roster = make_window(qtbot)
    team2 = [a for a in roster.agent_ids() if roster.get(a).event.team_id == "team-2"]
    avail = sum(roster.display_status(a).id == "available" for a in team2)
    assert len(team2) == 10 and 0 < avail < 10
    win.filters.team.setCurrentIndex(win.filters.team.findData("team-2"))
    win.filters.status.setCurrentIndex(win.filters.status.findData("available"))
    assert win.proxy.rowCount() == avail
    # "Available 3 / 10", not "3 / 3": the status filter picks rows, not the population.
    assert win.counts.labels["available"][1].text() == f"Available {avail} / 10"
    win.show()
    qtbot.waitExposed(win)
    win.grab().save(str(artifacts_dir / "roster-counts-team2-available.png"))
    # A search narrows the population (it is a scope, like the team).
    name = roster.get(team2[0]).event.display_name
    win.filters.status.setCurrentIndex(0)
    win.filters.search.setText(name)
    assert win.counts.labels["available"][1].text().endswith(f"/ {win.proxy.rowCount()}")
