"""The package's modules form layers: their import graph has no cycle, and no function
imports a package module (such imports only hide cycles)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import catbell_qutip

PACKAGE = "catbell_qutip"
ROOT = Path(catbell_qutip.__file__).parent


def _module_name(path: Path) -> str:
    parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _targets(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """Package modules an import statement loads (a ``from X import name`` counts X, and
    X.name when that is a module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == PACKAGE]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if source.split(".")[0] != PACKAGE:
        return []
    out = [source]
    out += [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in MODULES]
    return out


def _imports(module: str) -> tuple[set[str], list[tuple[str, int]]]:
    """(every package module imported anywhere in ``module``, [(target, line) imported
    inside a function])."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    every: set[str] = set()
    inside: list[tuple[str, int]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            found = _targets(child, module, is_package)
            every.update(found)
            if in_function:
                inside.extend((t, child.lineno) for t in found)
            visit(child, in_function or isinstance(child, (ast.FunctionDef,
                                                             ast.AsyncFunctionDef,
                                                             ast.Lambda)))

    visit(tree, False)
    return every - {module}, inside


GRAPH = {m: _imports(m)[0] for m in MODULES}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a list of nodes (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := dfs(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := dfs(node)):
            return found
    return None


def test_the_graph_sees_the_known_layers():
    # guards against a graph builder that finds nothing (then it is trivially acyclic)
    assert "catbell_qutip.formulas" in GRAPH["catbell_qutip.result"]
    assert "catbell_qutip.api" in GRAPH["catbell_qutip.rates"]
    assert "catbell_qutip.api" in GRAPH["catbell_qutip.keyrate"]
    assert "catbell_qutip.engines.base" in GRAPH["catbell_qutip.engines.fock"]
    assert "catbell_qutip.params" in GRAPH["catbell_qutip.cli._common"]


def test_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _find_cycle(graph) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_function_level_imports_are_counted():
    source = "def f():\n    from . import api\n    from .rates import alpha_for_rate\n"
    tree = ast.parse(source)
    fn = tree.body[0]
    found = [t for node in fn.body for t in _targets(node, "catbell_qutip.sweep", False)]
    assert found == ["catbell_qutip", "catbell_qutip.api", "catbell_qutip.rates"]


def test_import_graph_is_acyclic():
    cycle = _find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_function_level_import_of_a_package_module(module):
    inside = _imports(module)[1]
    assert not inside, f"{module} imports package modules inside functions: {inside}"


def test_formulas_is_a_bottom_layer():
    # the pure formulas may lean on validation, the fibre's formulas and constants only
    assert GRAPH["catbell_qutip.formulas"] <= {"catbell_qutip._checks", "catbell_qutip.fibre",
                                               "catbell_qutip.params"}
    # the fibre's transmission and timing: below everything but the checks
    assert GRAPH["catbell_qutip.fibre"] <= {"catbell_qutip._checks"}


def test_finitekey_bound_is_formula_level():
    # the finite-size bound sits beside the formulas: no solver, no api, no simulator
    assert GRAPH["catbell_qutip.finitekey.bound"] <= {
        "catbell_qutip._checks", "catbell_qutip.params", "catbell_qutip.formulas"}
    assert GRAPH["catbell_qutip.finitekey.statistics"] <= {
        "catbell_qutip._checks", "catbell_qutip.bell", "catbell_qutip.finitekey.bound"}
    assert "catbell_qutip.api" in GRAPH["catbell_qutip.finitekey.simulator"]
