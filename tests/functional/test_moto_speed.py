"""The moto server's speed patches (local/moto/speed.py): shared clients, parsed JSONPaths and programs,
executions found by name.

In this process (the patches are plain functions), plus canaries that fail once
stock moto does the same itself, so that patch can go. What the cached programs
and the name index must not change is checked against the session's moto server
over HTTP (it applies the patches): runs of one definition stay independent, an
updated definition, version or rollback runs at once, idempotency is AWS's.
Every e2e test runs on them too: the embedded stack's moto applies them.
"""

from __future__ import annotations

import inspect
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from flowdrop.local.moto import speed


def test_stock_moto_still_makes_a_client_per_call():
    # Canary: when this fails, moto reuses its clients and patch (1) can go.
    source = inspect.getsource(speed.stock_client_for())
    assert "return boto3.client(" in source and "cache" not in source


def test_stock_moto_still_parses_each_path_per_evaluation():
    # Canary: when this fails, moto (or jsonpath_ng) caches parsed paths and patch (2) can go.
    parsers = speed.stock_parsers()
    assert not hasattr(parsers["json_path"], "cache_info") and not hasattr(parsers["result_path"], "cache_info")


def test_one_client_per_region_and_service_shared_by_threads():
    speed.apply_patches()
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda _: speed.cached_client_for(region="us-east-1", service="sqs"), range(16)))
    assert all(client is clients[0] for client in clients)
    assert clients[0].meta.config.max_pool_connections == speed.POOL_CONNECTIONS
    assert speed.cached_client_for(region="eu-west-1", service="sqs") is not clients[0]
    assert speed.cached_client_for(region="us-east-1", service="batch").meta.service_model.service_name == "batch"


def test_parsed_paths_are_shared_and_still_find_each_input():
    from moto.stepfunctions.parser.asl.utils.json_path import extract_json

    speed.apply_patches()
    assert speed.is_applied()
    assert extract_json("$.payload.items[1]", {"payload": {"items": [1, 2]}}) == 2
    assert extract_json("$.payload.items[1]", {"payload": {"items": [3, 4]}}) == 4
    assert speed.cached_ext_parse("$.a.b") is speed.cached_ext_parse("$.a.b")


# --- (3) parsed programs, (4) executions by name -------------------------------------------------

ROLE = "arn:aws:iam::123456789012:role/flowdrop-test"


def _pass_definition(value: object) -> str:
    return json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": value}, "End": True}}})


def _wait(sfn, execution_arn: str) -> dict:
    for _ in range(600):
        desc = sfn.describe_execution(executionArn=execution_arn)
        if desc["status"] != "RUNNING":
            return desc
        time.sleep(0.05)
    raise AssertionError(f"{execution_arn} still RUNNING after 30 s")


def _run(sfn, arn: str, name: str, execution_input: object | None = None) -> dict:
    started = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(execution_input or {}))
    return _wait(sfn, started["executionArn"])


def test_stock_moto_still_parses_the_definition_per_execution():
    # Canary: when this fails, moto caches parsed programs and patch (3) can go.
    source = inspect.getsource(speed.stock_entrypoint())
    assert "AmazonStateLanguageParser.parse(" in source and "cache" not in source


def test_stock_moto_still_scans_every_execution_for_a_name():
    # Canary: when this fails, moto finds executions by name itself and patch (4) can go.
    assert "for execution in self.executions:" in inspect.getsource(speed.stock_idempotency())


def test_one_program_per_definition_text_with_its_heap_keys_made():
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    first = speed.cached_program(_pass_definition("a"))
    assert speed.cached_program(_pass_definition("a")) is first
    assert speed.cached_program(_pass_definition("b")) is not first
    components, pending = [], [first]
    while pending:
        item = pending.pop()
        if isinstance(item, EvalComponent):
            components.append(item)
        if isinstance(item, Component):
            pending.extend(vars(item).values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    assert len(components) > 3
    assert all(component.__dict__.get("_EvalComponent__heap_key") for component in components)


def test_runs_of_one_definition_keep_their_own_retry_counts(aws, unique_name):
    # Retry attempts live in each execution's env.heap under the shared components' heap keys:
    # three concurrent runs of one cached program each retry twice (three attempts), as alone.
    sfn = aws.client("stepfunctions")
    missing_queue = f"{aws.endpoint_url}/123456789012/{unique_name}-missing"
    definition = json.dumps({"StartAt": "Send", "States": {
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": missing_queue, "MessageBody": "x"},
                 "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2,
                            "BackoffRate": 1.0}],
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}})
    arn = sfn.create_state_machine(name=unique_name, definition=definition, roleArn=ROLE)["stateMachineArn"]
    started = [sfn.start_execution(stateMachineArn=arn, name=f"run-{i}", input="{}")["executionArn"]
               for i in range(3)]
    for execution_arn in started:
        assert _wait(sfn, execution_arn)["status"] == "SUCCEEDED"
        events = sfn.get_execution_history(executionArn=execution_arn)["events"]
        assert [e["type"] for e in events].count("TaskScheduled") == 3, execution_arn


def test_an_updated_definition_runs_from_the_next_execution_on(aws, unique_name):
    sfn = aws.client("stepfunctions")
    created = sfn.create_state_machine(name=unique_name, definition=_pass_definition(1), roleArn=ROLE, publish=True)
    arn, v1 = created["stateMachineArn"], created["stateMachineVersionArn"]
    assert json.loads(_run(sfn, arn, "one")["output"]) == {"v": 1}
    v2 = sfn.update_state_machine(stateMachineArn=arn, definition=_pass_definition(2), publish=True)[
        "stateMachineVersionArn"]
    assert json.loads(_run(sfn, arn, "two")["output"]) == {"v": 2}
    alias = sfn.create_state_machine_alias(
        name="production", routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}]
    )["stateMachineAliasArn"]
    assert json.loads(_run(sfn, alias, "on-v2")["output"]) == {"v": 2}
    # A rollback: the alias back on v1 runs v1's definition at once.
    sfn.update_state_machine_alias(stateMachineAliasArn=alias,
                                   routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])
    assert json.loads(_run(sfn, alias, "on-v1")["output"]) == {"v": 1}


@pytest.mark.parametrize("target", ["machine", "alias"])
def test_idempotency_by_name_among_many_executions(aws, unique_name, target):
    # AWS: the same name and input as a RUNNING execution -> that execution; another input, or a
    # closed execution of that name -> ExecutionAlreadyExists.
    sfn = aws.client("stepfunctions")
    definition = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 300, "End": True}}})
    created = sfn.create_state_machine(name=unique_name, definition=definition, roleArn=ROLE, publish=True)
    arn = created["stateMachineArn"]
    if target == "alias":
        arn = sfn.create_state_machine_alias(name="production", routingConfiguration=[
            {"stateMachineVersionArn": created["stateMachineVersionArn"], "weight": 100}])["stateMachineAliasArn"]
    first = {f"n{i}": sfn.start_execution(stateMachineArn=arn, name=f"n{i}", input=json.dumps({"i": i}))
             for i in range(40)}
    try:
        for name in ("n0", "n17", "n39"):
            again = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps({"i": int(name[1:])}))
            assert (again["executionArn"], again["startDate"]) == (first[name]["executionArn"],
                                                                    first[name]["startDate"])
            with pytest.raises(ClientError) as refused:
                sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps({"i": -1}))
            assert refused.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
        fresh = sfn.start_execution(stateMachineArn=arn, name="n40", input="{}")
        assert fresh["executionArn"] not in {started["executionArn"] for started in first.values()}
        first["n40"] = fresh
    finally:
        for started in first.values():
            sfn.stop_execution(executionArn=started["executionArn"])
    assert _wait(sfn, first["n17"]["executionArn"])["status"] == "ABORTED"
    with pytest.raises(ClientError) as closed:
        sfn.start_execution(stateMachineArn=arn, name="n17", input=json.dumps({"i": 17}))
    assert closed.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
    listed = sfn.list_executions(stateMachineArn=created["stateMachineArn"], maxResults=100)["executions"]
    assert sorted(e["name"] for e in listed) == sorted(first)
