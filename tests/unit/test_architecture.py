"""The architecture, held by tests: what imports what, who commits, how long a function is.

Each rule here is one of docs/architecture.md's, read off the source with ``ast``,
so a change that breaks one fails the suite instead of waiting for a review.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_LINES_MAX = 70
# Where the composition happens: they wire every feature together and nothing imports them.
COMPOSITION_ROOTS = {"__init__", "cli", "demo"}


def _python_files(*tops: str) -> list[Path]:
    return sorted(path for top in tops for path in (ROOT / top).rglob("*.py") if "migrations" not in path.parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module ``path`` imports (absolute names), with the line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _component(path: Path) -> str:
    """``app/orders/services.py`` -> ``orders``; ``app/errors.py`` -> ``errors``."""
    parts = path.relative_to(ROOT / "app").parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def import_graph() -> dict[str, set[str]]:
    """Which part of ``app/`` (a feature package or a top-level module) imports which."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in _python_files("app"):
        source = _component(path)
        for name, _line in _imports(path):
            parts = name.split(".")
            if parts[0] == "app" and len(parts) > 1 and parts[1] != source:
                graph[source].add(parts[1])
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle's nodes, found by a depth-first search from each node."""
    found: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                cycle = path[:]
                turn = cycle.index(min(cycle))
                found.add(tuple(cycle[turn:] + cycle[:turn]))
            elif nxt not in path and nxt > start:
                walk(start, nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return [list(cycle) for cycle in sorted(found)]


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_tree():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}}) == []


def test_the_packages_of_app_import_each_other_without_a_cycle():
    found = cycles(import_graph())
    assert found == [], "import cycles between parts of app/: " + "; ".join(" -> ".join(c + c[:1]) for c in found)


def test_no_feature_imports_a_composition_root():
    importers = {src: deps & COMPOSITION_ROOTS for src, deps in import_graph().items() if src not in COMPOSITION_ROOTS}
    assert {src: deps for src, deps in importers.items() if deps} == {}


def test_app_uses_the_ledger_through_its_package_only():
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _python_files("app")
        for name, line in _imports(path)
        if name.startswith("ledger.") and name.split(".")[1] in _ledger_modules()
    ]
    assert offenders == []


def _ledger_modules() -> set[str]:
    return {path.stem for path in (ROOT / "ledger").glob("*.py")} - {"__init__"}


def test_the_ledger_and_the_sdk_stand_apart():
    for top, forbidden in (("ledger", ("app", "flask")), ("partner_sdk", ("app", "ledger", "flask"))):
        for path in _python_files(top):
            for name, line in _imports(path):
                assert name.split(".")[0] not in forbidden, f"{path.relative_to(ROOT)}:{line} imports {name}"


# The one module that talks to Stripe (docs/architecture.md, "Money through Stripe").
STRIPE_GATEWAY = "app/payments/stripe_gateway.py"


def stripe_importers(paths: list[Path]) -> list[str]:
    return [
        f"{_shown(path)}:{line} imports {name}"
        for path in paths
        if _shown(path) != STRIPE_GATEWAY
        for name, line in _imports(path)
        if name.split(".")[0] == "stripe"
    ]


def test_only_the_stripe_gateway_imports_stripe():
    paths = _python_files("app", "ledger", "partner_sdk")
    assert ROOT / STRIPE_GATEWAY in paths
    assert stripe_importers(paths) == []


def test_the_stripe_check_sees_an_import_outside_the_gateway(tmp_path):
    (tmp_path / "a.py").write_text("import json\nimport stripe\n")
    (tmp_path / "b.py").write_text("from stripe import StripeClient\n")
    (tmp_path / "c.py").write_text("import stripe_like\n")

    found = stripe_importers(sorted(tmp_path.glob("*.py")))

    assert found == ["a.py:2 imports stripe", "b.py:1 imports stripe.StripeClient"]


# A session's commit or rollback, or any bare ``.commit()``/``.rollback()``: the unit's
# own verbs are ``commit(answer)`` and ``discard()``.
_COMMIT = re.compile(r"\.(commit|rollback)\(\)|session\(?\)?\.(commit|rollback)\(")


def test_only_the_unit_of_work_commits_or_rolls_back():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _python_files("app")
        if path.name != "unit_of_work.py"
        for number, text in enumerate(path.read_text().splitlines(), 1)
        if _COMMIT.search(text)
    ]
    assert offenders == []


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def long_functions(paths: list[Path], limit: int) -> list[str]:
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append(f"{_shown(path)}:{node.lineno} {node.name} has {lines} lines")
    return found


@pytest.mark.parametrize("top", ["app", "ledger", "partner_sdk", "tests", "bench", "examples"])
def test_no_function_is_longer_than_70_lines(top):
    assert long_functions(_python_files(top), FUNCTION_LINES_MAX) == []


def test_the_length_check_sees_a_function_one_line_too_long(tmp_path):
    source = tmp_path / "long.py"
    source.write_text(
        "def f():\n" + "    x = 1\n" * (FUNCTION_LINES_MAX - 1) + "\n\ndef g():\n" + "    x = 1\n" * FUNCTION_LINES_MAX
    )
    assert long_functions([source], FUNCTION_LINES_MAX) == [f"long.py:{FUNCTION_LINES_MAX + 3} g has 71 lines"]
