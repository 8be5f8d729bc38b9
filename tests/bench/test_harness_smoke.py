"""The benchmark harness runs end to end in a tiny configuration and writes valid results.

Not a timed test: it asserts only that every receiver got the stream and every figure exists."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.node, pytest.mark.timeout(600)]


@pytest.mark.skipif(shutil.which("node") is None or not (ROOT / "tests/js/node_modules/aws-amplify").is_dir(),
                    reason="needs node and tests/js/node_modules (make test installs them)")
def test_tiny_run_writes_results(tmp_path):
    out, readme = tmp_path / "latest.json", tmp_path / "README.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--only", "latency,idle,burst,recovery,memory",
         "--out", str(out), "--readme", str(readme)],
        cwd=ROOT, capture_output=True, text=True, timeout=540,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["error"] is None
    fig = results["figures"]
    for phase in ("r100", "r500"):
        row = fig["latency"][phase]
        for receiver in ("bare", "app", "amplify"):
            assert row[receiver]["n"] > 0, (phase, receiver, row)
        assert row["published"]["events"] > 0
    assert fig["burst"]["app_correct_s"] is not None
    assert fig["burst"]["bare_received"] == fig["burst"]["updates"]
    assert fig["recovery"]["app_reconciled_after_back_s"] is not None
    assert fig["idle"]["cpu_percent_of_one_core"]["app"] >= 0
    assert fig["memory"]["app_100_mb"] > 0
    for key in ("python", "PySide6", "websockets", "node", "aws-amplify"):
        assert results["versions"][key] not in ("missing", "?", None)
    assert results["machine"]["cores"] >= 1
    assert fig["memory"]["app_live_mb"] > 0 and fig["memory"]["amplify_live_mb"] > 0  # the peer beside it
    assert fig["idle"]["after"] == "the 500 ev/s phase"
    text = readme.read_text()
    assert "Event-to-model" in text and "| 100 /" in text
    assert "p99 <= Amplify's and <= 1.3x the bare loop's" in text and "bare loop (the limit)" in text
    # the results file feeds --compare
    cmp = subprocess.run([sys.executable, "-m", "bench", "--compare", str(out), str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert cmp.returncode == 0, cmp.stderr
    assert "| idle: app | % core |" in cmp.stdout
