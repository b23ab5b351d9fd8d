"""What a run of examples/nested_foreach_flow.py (4 rows x 3 columns) leaves, read through the client API."""

from __future__ import annotations

from typing import Any

CELLS = [(i, j) for i in range(4) for j in range(3)]


def assert_every_cell_ran_once(run: Any) -> None:
    """The run has the twelve cell tasks, each once, and the join saw every cell and their total."""
    assert sorted(t.id for t in run["cell"].tasks()) == sorted(f"cell-{i}-{j}" for i, j in CELLS)
    final = run["join_rows"].task.data
    assert final.cells == CELLS
    assert final.total == sum(i * 10 + j for i, j in CELLS)
