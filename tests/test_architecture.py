"""The layout's rules, checked on the source: no import cycle anywhere (imports under
TYPE_CHECKING and inside functions included), Redis keys only in the store, and dependencies
pointing one way."""

from __future__ import annotations

import ast
from pathlib import Path

from orchestrator.settings import REPO_ROOT

PACKAGES = ('orchestrator', 'table_qr', 'robot_nodes')


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob('*.py'):
            if 'restaurant_interfaces' in path.parts or 'build' in path.parts:
                continue
            name = '.'.join(path.relative_to(REPO_ROOT).with_suffix('').parts)
            out[name.removesuffix('.__init__')] = path
    return out


def imports(path: Path, known: set[str]) -> set[str]:
    """Every project module `path` imports, wherever the import statement stands."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f'{node.module}.{a.name}' for a in node.names]
        found |= {n for n in names if n in known}
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(path, set(mods)) - {name} for name, path in mods.items()}


def test_no_import_cycle() -> None:
    g = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(g[m]):
            if state.get(n) == 1:
                cycle = [*stack[stack.index(n) :], n]
                raise AssertionError('import cycle: ' + ' -> '.join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)


def test_only_the_store_touches_redis_keys() -> None:
    users = {m for m, deps in graph().items() if 'orchestrator.redis_keys' in deps}
    assert users and all(m.startswith('orchestrator.store') for m in users), sorted(users)


def test_layers_point_one_way() -> None:
    g = graph()
    for m, deps in g.items():
        if m.startswith('orchestrator.store'):
            above = [
                d
                for d in deps
                if d.split('.')[1:2] in (['api'], ['console'], ['dispatch'], ['rush'])
            ]
            assert not above, f'{m} imports {above}'
        if m.startswith('orchestrator.console'):
            assert not [d for d in deps if d.startswith('orchestrator.dispatch')], m
        if m.startswith('orchestrator.dispatch'):
            assert not [d for d in deps if d.startswith('orchestrator.console')], m
