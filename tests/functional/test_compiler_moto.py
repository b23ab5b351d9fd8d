"""compile_flow's definitions on the session's moto server: accepted as written, and evaluated as the tasks expect."""

from __future__ import annotations

import json

import pytest

from flowdrop.compiler import compile_flow, definition_json
from flowdrop.model.task import payload_from_batch_environment
from flowdrop.compiler.payload import start_states
from flowdrop.model.task import TaskPayload
from flowdrop.testing import synthetic_graph
from tests.helpers.compiler import GOLDEN_FLOWS, ROLE_ARN, all_states, example_graph, options, run_to_end


@pytest.mark.parametrize("kind", ["batch", "lambda", "worker"])
def test_moto_accepts_every_definition(aws, unique_name, kind):
    sfn = aws.client("stepfunctions")
    for flow in GOLDEN_FLOWS + ["debug_flow", "cron_flow"]:
        definition = definition_json(compile_flow(example_graph(flow), options(kind)))
        arn = sfn.create_state_machine(name=f"{unique_name}-{flow}"[:80], definition=definition,
                                       roleArn=ROLE_ARN)["stateMachineArn"]
        assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == json.loads(definition)


@pytest.mark.parametrize("given, expected", [
    ({}, "{}"), ({"Parameters": None}, "{}"), ({"Parameters": "{}"}, "{}"),
    ({"Parameters": '{"alpha": 0.5}'}, '{"alpha": 0.5}'), ({"Parameters": {"alpha": 0.5}}, '{"alpha":0.5}')])
def test_start_states_normalize_the_execution_input(aws, unique_name, given, expected):
    graph = synthetic_graph(2)
    states = start_states(graph, options(), "done")
    states["done"] = {"Type": "Pass", "End": True}
    sfn = aws.client("stepfunctions")
    arn = sfn.create_state_machine(name=unique_name, roleArn=ROLE_ARN, definition=json.dumps(
        {"StartAt": "parameters-check", "States": states}))["stateMachineArn"]
    result = run_to_end(sfn, arn, "exec-1", given)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["run"] == {
        "flow_name": "GeneratedFlow", "run_id": "sfn-exec-1", "parameters": expected,
        "code_package": "s3://flowdrop-packages/packages/Flow/0f1e.tar.gz", "datastore_root": "s3://flowdrop-data/data"}


def test_batch_environment_decodes_to_the_same_payload_as_the_worker_message(aws, unique_name):
    """Evaluate a batch Task's and a worker Task's Parameters in moto (as Pass states) and compare."""
    graph = example_graph("nested_foreach_flow")
    cell_batch = all_states(compile_flow(graph, options("batch")))["cell"]
    cell_worker = all_states(compile_flow(graph, options("worker")))["cell"]
    state_data = {"run": {"flow_name": "NestedForeachFlow", "run_id": "sfn-e", "parameters": '{"a": 1}',
                          "code_package": None, "datastore_root": "s3://b/d"}, "indices": [3, 2]}
    definition = {"StartAt": "batch", "States": {
        "batch": {"Type": "Pass", "Parameters": cell_batch["Parameters"]["ContainerOverrides"],
                  "ResultPath": "$.batch", "Next": "worker"},
        "worker": {"Type": "Pass", "Parameters": cell_worker["Parameters"]["MessageBody"]["payload"]
                   | {"retry_count": 0}, "ResultPath": "$.worker", "End": True}}}
    # $$.State.RetryCount exists only in Task states in moto: fix it to 0 for this Pass.
    definition["States"]["worker"]["Parameters"].pop("retry_count.$")
    definition["States"]["batch"]["Parameters"]["Environment"][-1] = {"Name": "FLOWDROP_RETRY_COUNT", "Value": "0"}
    sfn = aws.client("stepfunctions")
    arn = sfn.create_state_machine(name=unique_name, roleArn=ROLE_ARN,
                                   definition=json.dumps(definition))["stateMachineArn"]
    result = run_to_end(sfn, arn, "e", state_data)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    output = json.loads(result["output"])
    environment = {e["Name"]: e["Value"] for e in output["batch"]["Environment"]}
    from_batch = payload_from_batch_environment(environment)
    assert from_batch == TaskPayload.from_dict(output["worker"])
    assert from_batch == TaskPayload("NestedForeachFlow", "cell", "sfn-e", (3, 2), '{"a": 1}', "run", 0, None,
                                     "s3://b/d")
