"""The namespace handler stays inside the APPSYNC_JS runtime features AWS documents: an AST check
(tests/packaging/js/appsync_runtime_check.mjs, espree) against packaging/handlers/appsync_js_allowlist.json
(source: AWS AppSync Events "Supported runtime features"; docs/appsync-js-runtime.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "tests" / "packaging" / "js" / "appsync_runtime_check.mjs"
HANDLER = ROOT / "packaging" / "handlers" / "agent_presence.js"
ALLOWLIST = ROOT / "packaging" / "handlers" / "appsync_js_allowlist.json"
DOC = ROOT / "docs" / "appsync-js-runtime.md"

pytestmark = pytest.mark.node


def _check(path: Path) -> tuple[int, dict]:
    node = shutil.which("node")
    assert node, "node (>= 20) is needed for the APPSYNC_JS runtime check"
    assert (ROOT / "tests" / "js" / "node_modules" / "espree").exists(), "run `npm ci` in tests/js (espree)"
    proc = subprocess.run([node, str(CHECK), str(path)], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_handler_uses_only_allow_listed_features() -> None:
    code, result = _check(HANDLER)
    assert result["violations"] == [] and code == 0


def test_every_unconfirmed_feature_the_handler_uses_is_named_in_the_doc() -> None:
    # Unconfirmed entries rest on AWS's examples; the doc lists them for the evaluate-code check.
    _, result = _check(HANDLER)
    doc = DOC.read_text(encoding="utf-8")
    missing = [what for what in result["unconfirmed"] if f"`{what.split(' ', 1)[-1]}`" not in doc]
    assert missing == []


def test_allowlist_names_its_aws_source() -> None:
    allow = json.loads(ALLOWLIST.read_text(encoding="utf-8"))
    assert allow["source"].startswith("https://docs.aws.amazon.com/appsync/latest/eventapi/")
    assert allow["source"] in DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        # What the handler used before issue 17 (each a failing input the check must catch).
        ("export function f(ctx) { return Array.isArray(ctx.identity.groups); }", "Array.isArray"),
        ("export function f(ctx) { return Number.isInteger(ctx.events[0].payload.version); }", "Number.isInteger"),
        ("const A = 'abc';\nexport function f(ctx) { return A.includes(ctx.info.channel.path); }",
         "String.prototype.includes"),
        ("export function f(ctx) { return ctx.identity.sub.includes('x'); }", "String.prototype.includes"),
        ("const G = ['a'];\nexport function f(ctx) { return G.includes(ctx.identity.sub); }", "Array.prototype.includes"),
        ("function pick(e) { return e.id; }\nexport function f(ctx) { return ctx.events.map(pick); }", None),
        ("export function f(ctx) { return run(() => 1); }\nfunction run(g) { return g; }", "function passed as an argument"),
        ("export function f(ctx) { return f(ctx); }", "recursive call of f"),
        ("export function f(ctx) { let n = 0; for (const c of ctx.identity.sub) { n = n + 1; } return n; }",
         "for-of over"),
        ("export function f(ctx) { let n = 0; n++; return n; }", "UpdateExpression"),
        ("export function f(ctx) { return 'sub' in ctx.identity; }", "operator in"),
        ("export function f(ctx) { try { return 1; } catch (e) { return 2; } }", "TryStatement"),
        ("export function f(ctx) { return /x/.test(ctx.info.channel.path); }", "regular expression"),
        ("export function f(ctx) { return new Date(); }", "NewExpression"),
        ("export async function f(ctx) { return 1; }", "async"),
        ("import { x } from 'node:fs';\nexport function f(ctx) { return x; }", "import from node:fs"),
    ],
)
def test_check_refuses_what_the_runtime_does_not_list(tmp_path: Path, snippet: str, expected: str | None) -> None:
    probe = tmp_path / "probe.js"
    probe.write_text(snippet + "\n", encoding="utf-8")
    code, result = _check(probe)
    if expected is None:  # allowed: a named function to an Array callback method, as AWS's linter lets
        assert code == 0 and result["violations"] == []
        return
    assert code == 1
    assert any(expected in v for v in result["violations"]), result["violations"]
