"""The rooms of the house and what each may import (docs/architecture.md, the folder READMEs).

Every module of the package is parsed (not imported) and every import statement is read, at the
top of the module and inside functions alike: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "presence_desktop"

# room -> the rooms it may import (itself always). The order is the layering, bottom to top.
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "net": set(),
    "resources": {"domain"},
    "auth": {"domain", "net"},
    "events_api": {"domain", "net"},
    "relay": {"domain", "net", "events_api", "resources"},
    "client": {"domain", "net", "auth", "events_api", "resources"},
    "ui": {"domain", "client", "resources"},
    "devstack": {"domain", "net", "auth", "events_api", "relay", "client", "resources"},
    "app": {"domain", "net", "auth", "events_api", "relay", "client", "ui", "devstack", "resources"},
}
NO_QT = {"domain", "net", "resources", "auth", "events_api", "relay", "client", "devstack"}


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "presence_desktop":
        return None
    return parts[1] if len(parts) > 1 else ""


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".")
                    base = base if is_package else base[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                found.append((target, child.lineno, top))
                found.extend((f"{target}.{alias.name}", child.lineno, top) for alias in child.names
                             if target == "presence_desktop" and alias.name in ALLOWED)
            visit(child, inner)

    visit(tree, True)
    return found


def _all_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


MODULES = _all_modules()


def test_every_module_lives_in_a_room():
    loose = [p.relative_to(PACKAGE).as_posix() for p in MODULES if len(p.relative_to(PACKAGE).parts) == 1
             and p.name != "__init__.py"]
    assert not loose, f"modules outside a room: {loose}"
    rooms = {p.relative_to(PACKAGE).parts[0] for p in MODULES if len(p.relative_to(PACKAGE).parts) > 1}
    assert rooms == set(ALLOWED), f"rooms on disk vs rooms in this test: {sorted(rooms ^ set(ALLOWED))}"
    for room in rooms:
        assert (PACKAGE / room / "README.md").is_file(), f"{room}/ has no README.md"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_imports_follow_the_rules(path: Path):
    rel = path.relative_to(PACKAGE)
    room = rel.parts[0] if len(rel.parts) > 1 else ""
    problems = []
    for target, line, top in _imports(path):
        if room in NO_QT and (target == "PySide6" or target.startswith(("PySide6.", "qasync"))):
            problems.append(f"line {line}: {room}/ never imports Qt ({target})")
        other = _room(target)
        if other is None or other == room or other == "":
            continue
        if room == "":
            problems.append(f"line {line}: the package root imports {target}")
        elif other not in ALLOWED[room]:
            problems.append(f"line {line}: {room}/ may not import {other}/ ({target})")
        elif other == "devstack" and top:
            problems.append(f"line {line}: app/ imports devstack/ only lazily, inside a function ({target})")
    assert not problems, "\n".join(problems)


def test_the_rooms_form_no_cycle():
    graph: dict[str, set[str]] = defaultdict(set)
    for path in MODULES:
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) == 1:
            continue
        for target, _, _ in _imports(path):
            other = _room(target)
            if other and other != rel.parts[0]:
                graph[rel.parts[0]].add(other)
    seen: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if seen.get(node) == 1:
            raise AssertionError("package cycle: " + " -> ".join(trail + [node]))
        if seen.get(node) == 2:
            return
        seen[node] = 1
        for nxt in sorted(graph[node]):
            visit(nxt, trail + [node])
        seen[node] = 2

    for node in sorted(graph):
        visit(node, [])


def test_the_checker_sees_lazy_and_relative_imports(tmp_path, monkeypatch):
    # The rule test must be able to fail: a function-level import and a relative one are found.
    fake = tmp_path / "presence_desktop" / "ui"
    fake.mkdir(parents=True)
    (fake / "x.py").write_text("def f():\n    from presence_desktop.relay import core\n\nfrom ..events_api import client\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "presence_desktop")
    found = {(t, top) for t, _, top in _imports(fake / "x.py")}
    assert ("presence_desktop.relay", False) in found
    assert ("presence_desktop.events_api", True) in found


def test_docs_architecture_table_is_this_rule():
    # docs/architecture.md shows the rooms to people; it must say what this test enforces.
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)/` \| ([^|]+) \| (?:yes|no) \|$", doc, re.M))
    assert rows.keys() == ALLOWED.keys()
    for room, allowed in ALLOWED.items():
        text = rows[room]
        if text.startswith("every room but"):
            named = set(re.findall(r"`(\w+)`", text))
            assert allowed == set(ALLOWED) - named - {room}, room
        elif text.startswith("every room"):
            assert allowed == set(ALLOWED) - {room}, room
        else:
            assert set(re.findall(r"`(\w+)`", text)) == allowed, room
    qt_rows = set(re.findall(r"^\| `(\w+)/` \| [^|]+ \| yes \|$", doc, re.M))
    assert qt_rows == set(ALLOWED) - NO_QT
