"""The `flowdrop ...` operator commands' argument handling, on its own: run names and typed parameters.

The commands against an embedded stack: tests/e2e/test_cli_operator.py.
"""

from __future__ import annotations

import pytest

from flowdrop.cli.operator import split_run, typed_parameters
from flowdrop.errors import FlowdropError

pytestmark = pytest.mark.slow  # as in the module it came from (tests/test_cli.py)


def test_split_run_and_typed_parameters():
    assert split_run("F/sfn-1", None) == ("F", "sfn-1")
    assert split_run("sfn-1", "F") == ("F", "sfn-1")
    with pytest.raises(FlowdropError, match="--flow says"):
        split_run("F/sfn-1", "G")
    declared = [{"name": "alpha", "type": "float"}, {"name": "n", "type": "int"}, {"name": "on", "type": "bool"}]
    assert typed_parameters(declared, {"alpha": "0.5", "n": "3", "on": "true", "x": "y"}) == {
        "alpha": 0.5, "n": 3, "on": True, "x": "y"}
