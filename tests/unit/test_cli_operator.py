"""The `flowdrop ...` operator commands' argument handling, on its own: run names, typed parameters, cancel
against a stub API.

The commands against an embedded stack: tests/e2e/test_cli_operator.py.
"""

from __future__ import annotations

import pytest

from flowdrop.cli.operator import cli, split_run, typed_parameters
from flowdrop.errors import FlowdropError
from tests.helpers.cli import api, env, invoke  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow  # as in the module it came from (tests/test_cli.py)


def test_split_run_and_typed_parameters():
    assert split_run("F/sfn-1", None) == ("F", "sfn-1")
    assert split_run("sfn-1", "F") == ("F", "sfn-1")
    with pytest.raises(FlowdropError, match="--flow says"):
        split_run("F/sfn-1", "G")
    declared = [{"name": "alpha", "type": "float"}, {"name": "n", "type": "int"}, {"name": "on", "type": "bool"}]
    assert typed_parameters(declared, {"alpha": "0.5", "n": "3", "on": "true", "x": "y"}) == {
        "alpha": 0.5, "n": 3, "on": True, "x": "y"}


def test_cancel_sends_delete_for_the_run_of_the_flow_it_names(api, env):
    env.update(FLOWDROP_API_URL=api.url, FLOWDROP_API_TOKEN="t")
    api.answer("DELETE", "/flows/TrainFlow/runs/sfn-1",
               (200, {"run_id": "sfn-1", "status": "ABORTED", "cause": "terminated by alice: late"}),
               (409, {"error": "run sfn-1 of TrainFlow already ended: ABORTED"}))
    result = invoke(cli, ["cancel", "TrainFlow/sfn-1", "--reason", "late"], env)
    assert result.exit_code == 0, result.output
    assert result.output == "Cancelled TrainFlow/sfn-1: it ends ABORTED (terminated by alice: late).\n"
    assert api.requests[-1]["method"] == "DELETE" and api.requests[-1]["body"] == {"reason": "late", "user": "alice"}
    again = invoke(cli, ["cancel", "sfn-1", "--flow", "TrainFlow"], env)
    assert again.exit_code == 1 and "already ended: ABORTED" in again.output
    unnamed = invoke(cli, ["cancel", "sfn-1"], env)
    assert unnamed.exit_code != 0 and "add --flow FLOW" in unnamed.output
