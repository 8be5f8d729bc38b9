"""packaging/evaluate_handlers.py: one evaluate-code request per case, judged against the case
table; a clear SKIPPED line without the AWS CLI or credentials (no AWS here)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "evaluate_handlers.py"
_spec = importlib.util.spec_from_file_location("evaluate_handlers", SCRIPT)
assert _spec and _spec.loader
evaluate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(evaluate)

TABLE = json.loads((ROOT / "packaging" / "handlers" / "cases.json").read_text(encoding="utf-8"))


def test_one_request_per_case() -> None:
    runs = evaluate.invocations(TABLE)
    assert len(runs) == len(TABLE["subscribe"]) + len(TABLE["publish"])
    publish = [r for r in runs if r["function"] == "onPublish"]
    assert all(r["context"]["info"]["operation"] == "PUBLISH" and r["context"]["events"] for r in publish)
    assert {r["function"] for r in runs} == {"onSubscribe", "onPublish"}


def test_judge_reads_evaluate_code_answers() -> None:
    sub = next(r for r in evaluate.invocations(TABLE) if r["function"] == "onSubscribe" and r["expect"] == "deny")
    assert evaluate.judge(sub, {"error": {"message": "Unauthorized"}}) is None
    assert "expected deny" in evaluate.judge(sub, {"evaluationResult": "null"})
    assert "runtime error" in evaluate.judge(sub, {"error": {"message": "Array.isArray is not a function"}})
    pub = next(r for r in evaluate.invocations(TABLE) if r["function"] == "onPublish")
    ids = [e["id"] for e in pub["context"]["events"]]
    good = [{"id": i, "payload": {}} if i in pub["expect"]["pass"] else {"id": i, "error": "x"} for i in ids]
    assert evaluate.judge(pub, {"evaluationResult": json.dumps(good)}) is None
    assert evaluate.judge(pub, {"evaluationResult": json.dumps([{"id": i, "error": "x"} for i in ids])}) or not pub["expect"]["pass"]


def test_skips_with_a_clear_line_without_the_cli(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PATH"] = str(tmp_path)  # no aws here
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.startswith("SKIPPED: evaluate-code smoke not run: the AWS CLI (aws) is not on PATH")


def test_dry_run_prints_every_request() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run"], capture_output=True, text=True, timeout=60)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and len(lines) == len(TABLE["subscribe"]) + len(TABLE["publish"])
    assert "authorization" not in proc.stdout.lower()
