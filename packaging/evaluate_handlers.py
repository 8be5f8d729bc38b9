"""Run the agent-presence namespace handlers on AWS's APPSYNC_JS runtime for every case of the case
table (``aws appsync evaluate-code``): the deploy smoke that proves the runtime has what the handler
uses (docs/appsync-js-runtime.md).

    python packaging/evaluate_handlers.py [--region REGION] [--dry-run]

Needs the AWS CLI v2 and credentials allowed ``appsync:EvaluateCode`` (no API needs to exist).
Without them it prints one ``SKIPPED: ...`` line and exits 0; ``--dry-run`` prints the requests and
calls nothing. Exit 1 when a case's result differs from the table (each difference printed).
Source: https://docs.aws.amazon.com/cli/latest/reference/appsync/evaluate-code.html. That
``--function`` accepts the Event API handler names (onSubscribe, onPublish) is UNCONFIRMED
(the CLI page lists request/response, written for resolvers); the first run on AWS settles it.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HANDLER = HERE / "handlers" / "agent_presence.js"
CASES = HERE / "handlers" / "cases.json"
RUNTIME = "name=APPSYNC_JS,runtimeVersion=1.0.0"


def _expand(value: Any) -> Any:
    if isinstance(value, dict) and "$repeat" in value:
        text, times = value["$repeat"]
        return text * times
    return value


def _payload(table: dict[str, Any], event: dict[str, Any]) -> Any:
    if "payload" in event:
        return event["payload"]
    payload = copy.deepcopy(table["base_payload"])
    for key, value in (event.get("patch") or {}).items():
        payload[key] = _expand(value)
    for key in event.get("drop") or []:
        payload.pop(key, None)
    return payload


def _context(table: dict[str, Any], case: dict[str, Any], operation: str) -> dict[str, Any]:
    channel = case["channel"]
    ctx: dict[str, Any] = {
        "identity": case.get("identity"),
        "info": {
            "channel": {"path": channel, "segments": [s for s in channel.split("/") if s]},
            "channelNamespace": {"name": table["namespace"]},
            "operation": operation,
        },
        "request": {"headers": {"host": "example.appsync-api.us-east-1.amazonaws.com"}},
        "stash": {},
    }
    if operation == "PUBLISH":
        ctx["events"] = [{"id": e["id"], "payload": _payload(table, e)} for e in case["events"]]
    return ctx


def invocations(table: dict[str, Any]) -> list[dict[str, Any]]:
    """One ``{"name", "function", "context", "expect"}`` per case of the table."""
    out = [
        {"name": f"subscribe: {c['name']}", "function": "onSubscribe",
         "context": _context(table, c, "SUBSCRIBE"), "expect": c["expect"]}
        for c in table["subscribe"]
    ]
    out += [
        {"name": f"publish: {c['name']}", "function": "onPublish",
         "context": _context(table, c, "PUBLISH"), "expect": c["expect"]}
        for c in table["publish"]
    ]
    return out


def judge(invocation: dict[str, Any], response: dict[str, Any]) -> str | None:
    """Why ``response`` (evaluate-code's JSON answer) disagrees with the case (None: it agrees)."""
    error = response.get("error")
    if invocation["function"] == "onSubscribe":
        denied = bool(error) and "nauthorized" in json.dumps(error)
        if error and not denied:
            return f"runtime error: {error}"
        decision = "deny" if denied else "allow"
        return None if decision == invocation["expect"] else f"expected {invocation['expect']}, got {decision}"
    if error:
        return f"runtime error: {error}"
    try:
        result = json.loads(response.get("evaluationResult") or "null")
    except json.JSONDecodeError as exc:
        return f"evaluationResult is not JSON: {exc}"
    if not isinstance(result, list):
        return f"onPublish returned {type(result).__name__}, not a list"
    passed = [e.get("id") for e in result if "error" not in e]
    failed = {e.get("id") for e in result if "error" in e}
    expect = invocation["expect"]
    if passed != expect["pass"] or failed != set(expect["fail"]):
        return f"expected pass {expect['pass']} fail {sorted(expect['fail'])}, got pass {passed} fail {sorted(failed)}"
    return None


def _skip_reason(aws: str | None, region: list[str]) -> str | None:
    if aws is None:
        return "the AWS CLI (aws) is not on PATH"
    proc = subprocess.run([aws, "sts", "get-caller-identity", *region], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"no usable AWS credentials ({proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'sts failed'})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", help="AWS region (default: the CLI's configuration)")
    parser.add_argument("--dry-run", action="store_true", help="print the requests; call nothing")
    args = parser.parse_args(argv)
    table = json.loads(CASES.read_text(encoding="utf-8"))
    runs = invocations(table)
    if args.dry_run:
        for run in runs:
            print(json.dumps({"name": run["name"], "function": run["function"], "context": run["context"]}))
        return 0
    region = ["--region", args.region] if args.region else []
    aws = shutil.which("aws")
    reason = _skip_reason(aws, region)
    if reason:
        print(f"SKIPPED: evaluate-code smoke not run: {reason}")
        return 0
    assert aws is not None
    code = HANDLER.read_text(encoding="utf-8")
    failures = 0
    for run in runs:
        proc = subprocess.run(
            [aws, "appsync", "evaluate-code", *region, "--runtime", RUNTIME, "--code", code,
             "--function", run["function"], "--context", json.dumps(run["context"]), "--output", "json"],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            problem = f"aws appsync evaluate-code failed: {proc.stderr.strip()}"
        else:
            problem = judge(run, json.loads(proc.stdout))
        print(f"{'FAIL' if problem else 'ok  '} {run['name']}" + (f": {problem}" if problem else ""))
        failures += bool(problem)
    print(f"{len(runs) - failures} of {len(runs)} cases agree with packaging/handlers/cases.json")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
