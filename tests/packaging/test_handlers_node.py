"""Runs the node:test suite of the APPSYNC_JS namespace handlers (packaging/handlers/agent_presence.js)
against the shared case table, and checks that every case actually ran."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = Path(__file__).resolve().parent / "js"
CASES = ROOT / "packaging" / "handlers" / "cases.json"
# Tests in agent_presence.test.mjs besides one per case.
EXTRA_NODE_TESTS = 2

pytestmark = pytest.mark.node


def test_node_handler_suite_passes_every_case() -> None:
    node = shutil.which("node")
    assert node, "node (>= 20) is needed for the APPSYNC_JS handler tests"
    proc = subprocess.run(
        [node, "--import", "./register.mjs", "--test", "--test-reporter=tap", "agent_presence.test.mjs"],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    failed = [line for line in out.splitlines() if line.startswith("not ok")]
    assert proc.returncode == 0, f"node tests failed: {failed}\n{out[-4000:]}"
    cases = json.loads(CASES.read_text(encoding="utf-8"))
    expected = len(cases["subscribe"]) + len(cases["publish"]) + EXTRA_NODE_TESTS
    passed = re.search(r"^# pass (\d+)$", out, re.M)
    assert passed and int(passed.group(1)) == expected, out[-2000:]
    assert re.search(r"^# fail 0$", out, re.M)


ESLINT = ROOT / "tests" / "js" / "node_modules" / ".bin" / "eslint"
ESLINT_CONFIG = "tests/packaging/js/eslint.config.mjs"
HANDLER = "packaging/handlers/agent_presence.js"


def _eslint(target: str = HANDLER) -> list[dict]:
    assert ESLINT.exists(), "run `npm ci` in tests/js (make test does) for @aws-appsync/eslint-plugin"
    cmd = [str(ESLINT), "-c", ESLINT_CONFIG, "--format", "json", target]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.stdout.strip(), proc.stderr
    (result,) = json.loads(proc.stdout)
    return result["messages"]


def test_handler_code_passes_aws_appsync_eslint_rules() -> None:
    # @aws-appsync/eslint-plugin "recommended": what the APPSYNC_JS runtime accepts at deploy time.
    assert _eslint() == []


def test_appsync_eslint_rules_catch_unsupported_code() -> None:
    # The probe must sit beside the handler (the lint config's files and tsconfig cover that folder);
    # typed linting reads files from disk, so --stdin will not do.
    probe = ROOT / "packaging" / "handlers" / f"zz_lint_probe_{uuid.uuid4().hex}.js"
    probe.write_text("export function onPublish(ctx) { let n = 0; n++; return /x/.test(ctx.events) ? [] : null; }\n")
    try:
        rules = {m["ruleId"] for m in _eslint(probe.relative_to(ROOT).as_posix())}
    finally:
        probe.unlink()
    assert {"@aws-appsync/no-regex", "@aws-appsync/no-disallowed-unary-operators"} <= rules
