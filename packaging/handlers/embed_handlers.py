"""Copy the namespace handler code into the CloudFormation template (CodeHandlers).

    python packaging/handlers/embed_handlers.py          # rewrite the template in place
    python packaging/handlers/embed_handlers.py --check  # exit 1 if the template is out of date

The template stays deployable as committed (no build step before ``aws cloudformation deploy``);
tests/packaging checks that its CodeHandlers equals ``agent_presence.js``. Standard library only.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HANDLER = HERE / "agent_presence.js"
TEMPLATE = HERE.parent / "cloudformation" / "presence.yaml"
MAX_CODE_CHARS = 32768  # AWS::AppSync::ChannelNamespace CodeHandlers limit (CloudFormation schema)

_KEY = re.compile(r"^(?P<indent> *)CodeHandlers: \|\n$")


def embed(template_text: str, code: str) -> str:
    """Return ``template_text`` with the literal block under the single ``CodeHandlers: |`` key
    replaced by ``code``. Raises ``ValueError`` if there is not exactly one such key, if the code is
    too long, or if it does not end in exactly one newline (YAML ``|`` keeps exactly one)."""
    if len(code) > MAX_CODE_CHARS:
        raise ValueError(f"handler code is {len(code)} chars; CodeHandlers holds at most {MAX_CODE_CHARS}")
    if not code.endswith("\n") or code.endswith("\n\n"):
        raise ValueError("handler code must end with exactly one newline")
    if "\t" in code:
        raise ValueError("handler code must not contain tabs (YAML block scalars)")
    lines = template_text.splitlines(keepends=True)
    keys = [i for i, line in enumerate(lines) if _KEY.match(line)]
    if len(keys) != 1:
        raise ValueError(f"expected one 'CodeHandlers: |' line in the template, found {len(keys)}")
    start = keys[0]
    indent = len(_KEY.match(lines[start]).group("indent"))
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip(" ")) > indent):
        end += 1
    # Blank lines that end the block belong to what follows, not to the code.
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    pad = " " * (indent + 2)
    block = [(pad + line if line.strip() else "\n") for line in code.splitlines(keepends=True)]
    return "".join(lines[: start + 1] + block + lines[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when the template is stale")
    args = parser.parse_args(argv)
    current = TEMPLATE.read_text(encoding="utf-8")
    wanted = embed(current, HANDLER.read_text(encoding="utf-8"))
    if args.check:
        if wanted != current:
            print(f"{TEMPLATE} is out of date: run python {Path(__file__).as_posix()}", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        TEMPLATE.write_text(wanted, encoding="utf-8")
        print(f"embedded {HANDLER.name} into {TEMPLATE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
