"""The import graph of the installed flowdrop package: DESIGN.md's layers, and no cycles.

The contracts live in pyproject.toml ([tool.importlinter]); this test is
what enforces them. The one declared exception is FlowSpec handing over to
the flow CLI when a flow file runs as a script (flowspec -> cli.flow), as
Metaflow's FlowSpec does.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
DECLARED_EXCEPTION = ("flowdrop.flowspec", "flowdrop.cli.flow")


@pytest.fixture(scope="module")
def imports() -> dict[str, set[str]]:
    """module -> the flowdrop modules it imports (TYPE_CHECKING-only imports left out)."""
    graph = grimp.build_graph("flowdrop", exclude_type_checking_imports=True)
    return {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


def cycles(edges: Mapping[str, Set[str]]) -> list[list[str]]:
    """Every group of modules that import each other, directly or not (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in edges.get(module, ()):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def test_the_installed_package_is_the_one_tested(imports):
    import flowdrop

    assert "flowdrop.deployer.app" in imports and "flowdrop.model.graph" in imports
    assert Path(flowdrop.__file__).resolve().parent == ROOT / "chalicelib"


def test_no_import_cycles_but_the_declared_one(imports):
    edges = {module: set(targets) for module, targets in imports.items()}
    source, target = DECLARED_EXCEPTION
    assert target in edges[source], "the declared exception is gone: drop it from here and from pyproject.toml"
    edges[source].discard(target)
    assert cycles(edges) == []


def test_the_cycle_finder_sees_the_declared_exception_as_a_cycle(imports):
    # With FlowSpec's hand-over kept, the flow CLI imports the SDK back: a
    # cycle the finder must report (so an empty answer above means something).
    found = cycles(imports)
    assert any(set(DECLARED_EXCEPTION) <= set(group) for group in found), found


def test_cycle_finder_on_small_graphs():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_layer_contracts_are_kept(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=str(tmp_path), no_logo=True)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "flowdrop's layers KEPT" in out and "0 broken" in out
