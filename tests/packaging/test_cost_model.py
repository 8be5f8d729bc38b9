"""packaging/cost_model.py: the README's cost table is its output, and its arithmetic is checked by hand."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cm():
    spec = importlib.util.spec_from_file_location("cost_model", ROOT / "packaging" / "cost_model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["cost_model"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_readme_section_is_the_models_output(cm) -> None:
    readme = (ROOT / "packaging" / "README.md").read_text(encoding="utf-8")
    assert cm.render_markdown() in readme
    assert cm.main(["--check"]) == 0


def test_check_fails_on_a_stale_readme(cm, tmp_path, monkeypatch) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(f"intro\n{cm.BEGIN}\n| old | table |\n{cm.END}\nafter\n", encoding="utf-8")
    monkeypatch.setattr(cm, "README", stale)
    assert cm.main(["--check"]) == 1
    assert cm.main(["--write-readme"]) == 0
    text = stale.read_text(encoding="utf-8")
    assert text.startswith("intro\n") and text.endswith("after\n") and "| old |" not in text
    assert cm.main(["--check"]) == 0


def test_fifty_agents_by_hand(cm) -> None:
    cost = cm.monthly_cost(50)
    # 50 agents in 5 teams of 12 (the last one smaller), 5 supervisors, 55 open apps.
    changes = 50 * 22 * (12 * 8 + 2)  # 107,800 status changes a month
    operations = changes * (1 + 13)  # one publish + delivery to 12 team apps and 1 supervisor
    connection_minutes = 55 * 8 * 60 * 22
    assert cost.supervisors == 5
    assert cost.operations == operations == 1_509_200
    assert cost.connection_minutes == connection_minutes == 580_800
    assert cost.events_usd == pytest.approx(1.5092 + 0.058080 * 0.8)
    heartbeats = 55 * 480 * 2 * 22  # two a minute
    rosters = 55 * 3 * 22
    requests = changes + heartbeats + rosters + 43_200
    gb_s = 0.25 * (changes * 0.150 + heartbeats * 0.030 + rosters * 0.100 + 43_200 * 0.200)
    assert cost.lambda_usd == pytest.approx(requests * 0.20e-6 + gb_s * 0.0000133334)
    # Writes as the store makes them: a change is PutItem + UpdateItem (mark_published) + the outbox
    # index entry in and out = 4 WRU; a heartbeat one UpdateItem = 1 WRU.
    wru = changes * 4 + heartbeats * 1 + (changes + rosters)  # + the relay's per-user rate-limit count
    # Reads: a change's strongly consistent GetItem (1 RRU); a team roster (12 agents): a Query of
    # 12 index entries (1.2 KB -> 1 block -> 0.5 RRU) + BatchGetItem of 12 items (12 x 0.5 RRU);
    # a sweep: a Scan of 50 items (25 KB -> 7 blocks -> 3.5 RRU) + the outbox Query (0.5 RRU).
    rru = changes * 1 + rosters * (0.5 + 6.0) + 43_200 * (3.5 + 0.5)
    assert cost.dynamodb_usd == pytest.approx(wru * 0.625e-6 + rru * 0.125e-6 + 50 * 0.5e-6 * 0.25)


def test_the_default_row_is_what_the_app_subscribes(cm) -> None:
    """The app (client/backends.channels_for): an agent its team, a supervisor each supervised
    team, never the namespace wildcard unless a manager."""
    from presence_desktop.client.backends import channels_for
    from presence_desktop.domain.identity import Identity

    assert cm.Assumptions().scope == "team" and cm.Assumptions().managers == 0
    sup = Identity("sup-1", "s", ("supervisors",), "team-1", supervised_teams=("team-7",))
    assert channels_for(sup) == ["/agent-presence/team-7/*"]
    readme = (ROOT / "packaging" / "README.md").read_text(encoding="utf-8")
    assert "| **the app**: agents their team, supervisors each supervised team" in readme
    assert "(the app's default)" not in readme


def test_managers_see_the_floor(cm) -> None:
    base = cm.monthly_cost(5000)
    two = cm.monthly_cost(5000, replace(cm.Assumptions(), managers=2))
    changes = 5000 * 22 * (12 * 8 + 2)
    assert two.operations - base.operations == changes * 2  # each manager receives every change


def test_fan_out_dominates_at_scale(cm) -> None:
    for agents in (500, 5000):
        team, sup_floor, floor = (
            cm.monthly_cost(agents, replace(cm.Assumptions(), scope=s)).total_usd
            for s in ("team", "supervisors-floor", "floor")
        )
        assert team < sup_floor < floor
    # Whole-floor subscriptions grow with the square of the floor; team-scoped ones linearly.
    small, large = (cm.monthly_cost(n, replace(cm.Assumptions(), scope="floor")).operations for n in (500, 5000))
    assert large / small > 90
    small, large = (cm.monthly_cost(n).operations for n in (500, 5000))
    assert 9 < large / small < 11


def test_operation_counting_is_an_assumption(cm) -> None:
    base = cm.monthly_cost(500)
    publishes_only = cm.monthly_cost(500, replace(cm.Assumptions(), operations_per_delivery=0))
    assert publishes_only.operations * 14 == base.operations


def test_bad_input_is_refused(cm) -> None:
    with pytest.raises(ValueError, match="scope"):
        cm.monthly_cost(10, replace(cm.Assumptions(), scope="galaxy"))
    with pytest.raises(ValueError, match="agents"):
        cm.monthly_cost(0)
