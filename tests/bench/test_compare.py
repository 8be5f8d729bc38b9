"""``python -m bench --compare A.json B.json`` and the goals of issue 20 (bench/goals.py) in the
results table, on small hand-made results files (tests/bench/fixtures). No benchmark runs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bench import goals
from bench.__main__ import main
from bench.compare import CompareError, compare, headline, load
from bench.report import render

FIXTURES = Path(__file__).parent / "fixtures"
BEFORE = FIXTURES / "before.json"
IDLE_ONLY = FIXTURES / "after_idle_only.json"


def rows(table: str) -> dict[str, list[str]]:
    """The table's rows by figure label: [unit, A, B, B - A, change, goal, A met, B met]."""
    out = {}
    for line in table.splitlines():
        if line.startswith("| ") and not line.startswith("| figure"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            out[cells[0]] = cells[1:]
    return out


def after_full() -> dict:
    after = json.loads(BEFORE.read_text())
    lat = after["figures"]["latency"]
    lat["r100"]["app"]["p99_ms"] = 12.5  # <= Amplify's 13 and <= 1.3 x 12: met
    lat["r1000"]["app"]["p99_ms"] = 13.5  # <= Amplify's 14 but > 1.3 x the bare loop's 10: missed
    lat["r1000"]["app_model_to_pixel"]["p99_ms"] = 16.0
    after["figures"]["idle"]["cpu_percent_of_one_core"]["app"] = 0.25
    after["figures"]["burst"]["app_longest_stall_ms"] = 45.0
    after["figures"]["burst"]["app_stalls_over_50ms"] = 0
    return after


def test_every_headline_figure_before_and_after_with_the_change_and_both_goals():
    table = compare(load(BEFORE), after_full(), "before.json", "after.json")
    r = rows(table)
    idle = r["idle: app"]
    assert idle[1:5] == ["0.9", "0.25", "-0.65", "-72.2 %"]
    assert idle[6:] == ["**missed**", "met"]
    assert "0.3 %" in idle[5]
    m100, m1000 = r["event-to-model p99, app, 100 ev/s"], r["event-to-model p99, app, 1,000 ev/s"]
    assert (m100[6], m100[7]) == ("**missed**", "met")
    assert (m1000[6], m1000[7]) == ("**missed**", "**missed**")  # both parts of the goal count
    assert r["model->pixel p99, 1,000 ev/s"][6:] == ["**missed**", "met"]
    assert r["model->pixel p99, 100 ev/s"][5:] == ["", "—", "—"]  # judged at 1,000 ev/s only
    assert r["burst: longest GUI stall"][6:] == ["**missed**", "met"]
    assert r["burst: GUI stalls > 50 ms"][1:3] == ["13", "0"]
    assert r["event-to-model p50, app, 1,000 ev/s"][5:] == ["", "—", "—"]  # no goal of its own
    # memory: the ratio to the empty window misses, the KB per agent meets (137 - 130 MB over 10,000)
    assert r["memory: app at 10,000 agents / empty window"][6:] == ["**missed**", "**missed**"]
    assert r["memory: KB per agent (10,000 over 0)"][1] == "0.717"
    assert r["memory: KB per agent (10,000 over 0)"][6:] == ["met", "met"]
    assert r["start-up: app / bare window"][6:] == ["**missed**", "**missed**"]
    assert r["recovery: app roster reconciled (median)"][6:] == ["**missed**", "**missed**"]  # 0.7 s > 0.5 s
    for label in ("idle: bare loop (limit)", "idle: Amplify JS (peer)", "start-up: bare window (limit)",
                  "event-to-model p99, bare loop (limit), 1,000 ev/s", "recovery: Amplify JS first event (peer)"):
        assert label in r


def test_a_figure_missing_from_one_file_is_a_dash_not_an_error(capsys):
    assert main(["--compare", str(BEFORE), str(IDLE_ONLY)]) == 0
    out = capsys.readouterr().out
    r = rows(out)
    assert r["idle: app"][1:3] == ["0.9", "0.25"]
    for label in ("burst: longest GUI stall", "memory: app, 10,000 agents", "event-to-model p99, app, 100 ev/s"):
        assert r[label][2] == "—" and r[label][3] == "—" and r[label][-1] == "—", (label, r[label])
    assert "--only idle" in out
    # and the other way round: rows only B has are listed too
    r = rows(compare(load(IDLE_ONLY), load(BEFORE)))
    assert r["burst: longest GUI stall"][1:3] == ["—", "90"]


@pytest.mark.parametrize("content, says", [
    (None, "cannot read"),
    ("{not json", "not valid JSON"),
    ('{"started": "x"}', "not a bench results file"),
    ("[1, 2]", "not a bench results file"),
])
def test_a_missing_or_invalid_file_is_a_clear_error(tmp_path, capsys, content, says):
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    with pytest.raises(CompareError, match=says):
        load(bad)
    with pytest.raises(SystemExit) as exit_:
        main(["--compare", str(BEFORE), str(bad)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert str(bad) in err and says in err


def test_the_goals_are_issue_20s():
    assert goals.model_met(13.0, 10.0, 14.0) is True
    assert goals.model_met(13.1, 10.0, 14.0) is False  # > 1.3 x bare
    assert goals.model_met(12.0, 10.0, 11.9) is False  # above Amplify's
    assert goals.model_met(None, 10.0, 14.0) is None
    assert goals.pixel_met(1000, 17.0) is True and goals.pixel_met(1000, 17.1) is False
    assert goals.pixel_met(5000, 90.0) is None
    assert goals.burst_met(50.0, 5.0) is True and goals.burst_met(50.1, 5.0) is False
    assert goals.burst_met(10.0, None) is False  # never correct
    assert goals.memory_met(60.0, 115.0, 120.0) is True  # 2.0x; 5 MB over 10,000 agents = 0.512 KB each
    assert goals.memory_met(60.0, 100.0, 121.0) is False  # 2.02x
    assert goals.memory_met(100.0, 100.0, 110.0) is False  # 1.024 KB per agent
    assert goals.startup_met(2.5) is True and goals.startup_met(2.51) is False
    assert goals.idle_met(0.3) is True and goals.idle_met(0.31) is False
    assert goals.recovery_met(0.5) is True and goals.recovery_met(0.51) is False


def test_the_results_table_states_the_goals_and_judges_by_them():
    results = after_full()
    results["figures"]["memory"].update(app_live_mb=140.0, bare_live_mb=40.0, amplify_live_mb=90.0, live_agents=5000)
    text = render(results)
    assert "p99 <= Amplify's and <= 1.3x the bare loop's, at every rate" in text
    assert "| 100 / 100 |" in text and "model met" in text  # 12.5 ms
    assert "model->pixel p99 16.0 ms met" in text
    assert "goal (no GUI stall > 50 ms)" in text and "45.0 ms (15.0 ms)" in text
    assert "| 2.28 (**missed**) | 0.717 (met) | **missed** |" in text
    assert "bare loop (the limit) 40.0 MB, Amplify JS (the peer, node) 90.0 MB" in text
    assert "<= 2.5x a bare window" in text
    assert "app <= 0.3 % of a core, the same in the full run as alone" in text and "| **0.25** |" in text
    assert "roster reconciled <= 0.5 s" in text
    # a file with an old goal flag is judged by today's goal, not by its stored flag
    old = copy.deepcopy(results)
    old["figures"]["idle"]["goal_met"] = False
    assert "| **0.25** | 0.0 | 0.03 | 0.02 | met |" in render(old)
    assert headline(results)  # the same files feed --compare
