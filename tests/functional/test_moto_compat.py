"""The embedded AWS starts executions on aliases and versions, as AWS does.

Everything here runs against the session's moto server over HTTP (started
through local/moto/main.py, so with local/moto/compat.py's fixes), except
the canaries, which check that stock moto still lacks what the fixes add:
when one fails, moto has caught up and the matching fix should go.
How an alias picks its version, on its own: tests/unit/test_moto_compat.py.
"""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError
from moto.stepfunctions.exceptions import StateMachineDoesNotExist
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from flowdrop.local.moto import compat as moto_compat

ROLE = "arn:aws:iam::123456789012:role/flowdrop-test"


def _pass_definition(value: object) -> str:
    return json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": value}, "End": True}}})


def _wait(sfn, execution_arn: str) -> dict:
    for _ in range(400):
        desc = sfn.describe_execution(executionArn=execution_arn)
        if desc["status"] != "RUNNING":
            return desc
        time.sleep(0.05)
    raise AssertionError(f"{execution_arn} still RUNNING after 20 s")


def _run(sfn, target_arn: str, name: str, execution_input: object | None = None) -> dict:
    started = sfn.start_execution(stateMachineArn=target_arn, name=name, input=json.dumps(execution_input or {}))
    return _wait(sfn, started["executionArn"])


@pytest.fixture
def versioned(aws, unique_name):
    """A state machine with v1 -> {"v": 1}, v2 -> {"v": 2}, an unpublished current {"v": "draft"},
    and a `production` alias on v1."""
    sfn = aws.client("stepfunctions")
    created = sfn.create_state_machine(name=unique_name, definition=_pass_definition(1), roleArn=ROLE, publish=True)
    arn, v1 = created["stateMachineArn"], created["stateMachineVersionArn"]
    v2 = sfn.update_state_machine(stateMachineArn=arn, definition=_pass_definition(2), publish=True)[
        "stateMachineVersionArn"
    ]
    # The current definition differs from every version: an execution that
    # ran it instead of the version would say so.
    sfn.update_state_machine(stateMachineArn=arn, definition=_pass_definition("draft"))
    alias = sfn.create_state_machine_alias(
        name="production", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}]
    )["stateMachineAliasArn"]
    return sfn, arn, v1, v2, alias


def test_alias_start_runs_the_version_the_alias_points_to(versioned):
    sfn, arn, v1, v2, alias = versioned

    first = _run(sfn, alias, "on-v1")
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}]
    )
    second = _run(sfn, alias, "on-v2")

    assert (first["status"], json.loads(first["output"])) == ("SUCCEEDED", {"v": 1})
    assert (second["status"], json.loads(second["output"])) == ("SUCCEEDED", {"v": 2})
    assert first["stateMachineArn"] == arn
    assert (first["stateMachineVersionArn"], first["stateMachineAliasArn"]) == (v1, alias)
    assert (second["stateMachineVersionArn"], second["stateMachineAliasArn"]) == (v2, alias)
    assert first["executionArn"] == arn.replace(":stateMachine:", ":execution:") + ":on-v1"


def test_version_arn_start_runs_that_version(versioned):
    sfn, arn, v1, _v2, _alias = versioned

    desc = _run(sfn, v1, "direct")

    assert json.loads(desc["output"]) == {"v": 1}
    assert desc["stateMachineArn"] == arn
    assert desc["stateMachineVersionArn"] == v1
    assert "stateMachineAliasArn" not in desc


def test_routed_executions_are_listed_under_the_base_machine(versioned):
    sfn, arn, v1, v2, alias = versioned
    via_alias = _run(sfn, alias, "via-alias")
    via_version = _run(sfn, v2, "via-version")
    plain = _run(sfn, arn, "plain")

    listed = {item["name"]: item for item in sfn.list_executions(stateMachineArn=arn)["executions"]}

    assert set(listed) == {"via-alias", "via-version", "plain"}
    assert listed["via-alias"]["executionArn"] == via_alias["executionArn"]
    assert (listed["via-alias"]["stateMachineVersionArn"], listed["via-alias"]["stateMachineAliasArn"]) == (v1, alias)
    assert listed["via-version"]["stateMachineVersionArn"] == v2
    assert "stateMachineVersionArn" not in listed["plain"]
    assert json.loads(plain["output"]) == {"v": "draft"}
    assert json.loads(via_version["output"]) == {"v": 2}


def test_describe_state_machine_for_execution_gives_the_version_it_ran(versioned):
    sfn, _arn, _v1, _v2, alias = versioned
    desc = _run(sfn, alias, "which-definition")

    ran = sfn.describe_state_machine_for_execution(executionArn=desc["executionArn"])

    assert json.loads(ran["definition"]) == json.loads(_pass_definition(1))


def test_duplicate_execution_name_on_alias_is_execution_already_exists(versioned):
    sfn, arn, _v1, v2, alias = versioned
    _run(sfn, alias, "once")

    for target in (alias, v2, arn):
        with pytest.raises(ClientError) as caught:
            sfn.start_execution(stateMachineArn=target, name="once", input="{}")
        assert caught.value.response["Error"]["Code"] == "ExecutionAlreadyExists", target
    assert [item["name"] for item in sfn.list_executions(stateMachineArn=arn)["executions"]] == ["once"]


def test_unknown_alias_or_version_is_state_machine_does_not_exist(versioned):
    sfn, arn, _v1, _v2, _alias = versioned

    for target in (f"{arn}:staging", f"{arn}:99"):
        with pytest.raises(ClientError) as caught:
            sfn.start_execution(stateMachineArn=target, name="nowhere", input="{}")
        assert caught.value.response["Error"]["Code"] == "StateMachineDoesNotExist", target
        assert target in caught.value.response["Error"]["Message"]


def test_unnamed_executions_get_distinct_names(versioned):
    sfn, arn, _v1, _v2, alias = versioned

    first = sfn.start_execution(stateMachineArn=alias, input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=alias, input="{}")["executionArn"]

    assert first != second
    assert not first.endswith(":None")


def test_weighted_alias_routes_each_name_as_choose_version_arn_predicts(versioned):
    sfn, _arn, v1, v2, alias = versioned
    routes = [{"stateMachineVersionArn": v1, "weight": 50}, {"stateMachineVersionArn": v2, "weight": 50}]
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=routes)
    names = [f"w{i}" for i in range(10)]

    ran = {name: _run(sfn, alias, name)["stateMachineVersionArn"] for name in names}

    assert ran == {name: moto_compat.choose_version_arn(routes, f"{alias}\n{name}") for name in names}
    assert set(ran.values()) == {v1, v2}


def test_list_state_machine_versions_newest_first(versioned):
    sfn, arn, v1, v2, _alias = versioned

    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]

    assert [item["stateMachineVersionArn"] for item in listed] == [v2, v1]


def test_server_runs_patched_with_execution_flag_on(moto_server, versioned):
    sfn, _arn, _v1, _v2, alias = versioned

    desc = _run(sfn, alias, "flag")
    events = sfn.get_execution_history(executionArn=desc["executionArn"])["events"]

    assert "flowdrop.local.moto.main" in moto_server.process.args
    # Stock moto without the flag answers a canned history naming "A State".
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "PassStateEntered"]
    assert entered == ["P"]


# --- canaries: stock moto 5.2.5, in this process (which is never patched) ---


def _stock_backend_with_alias() -> tuple[StepFunctionsParserBackend, str, str]:
    backend = StepFunctionsParserBackend("us-east-1", "123456789012")
    machine = backend.create_state_machine("canary", _pass_definition(1), ROLE, publish=True)
    version_arn = machine.latest_version.arn
    routes = [{"stateMachineVersionArn": version_arn, "weight": 100}]
    alias = backend.create_state_machine_alias("production", routes, None)
    return backend, version_arn, alias.arn


def test_canary_stock_moto_cannot_start_on_an_alias():
    backend, _version_arn, alias_arn = _stock_backend_with_alias()

    with pytest.raises(StateMachineDoesNotExist):
        moto_compat.stock_start_execution()(backend, alias_arn, "e1", "{}")
    # If this fails, moto starts executions on alias ARNs itself: drop the
    # alias part of local/moto/compat.py (resolve_route) and this canary.


def test_canary_stock_moto_cannot_start_on_a_version():
    backend, version_arn, _alias_arn = _stock_backend_with_alias()

    with pytest.raises(AttributeError, match="_handle_name_input_idempotency"):
        moto_compat.stock_start_execution()(backend, version_arn, "e1", "{}")
    # If this fails, moto starts executions on version ARNs itself: drop
    # _start_routed_execution from local/moto/compat.py and this canary.


def test_canary_stock_moto_has_no_list_state_machine_versions():
    assert not moto_compat.is_applied(), "tests must not patch moto in the test process"

    assert not hasattr(StepFunctionResponse, "list_state_machine_versions"), (
        "moto now answers ListStateMachineVersions: drop it from local/moto/compat.py"
    )


def test_canary_stock_moto_reads_history_forward_whatever_is_asked():
    import inspect

    source = inspect.getsource(moto_compat._STOCK["get_execution_history"])
    assert "reverseOrder" not in source and "maxResults" not in source, (
        "moto now honours reverseOrder/maxResults in GetExecutionHistory: drop that fix from local/moto/compat.py"
    )


def test_history_read_in_reverse_is_newest_first_and_paged(versioned):
    sfn, arn, v1, _, _ = versioned
    execution = sfn.start_execution(stateMachineArn=v1, name="reverse", input="{}")["executionArn"]
    _wait(sfn, execution)
    forward = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["id"] for e in forward] == list(range(1, len(forward) + 1)) and len(forward) >= 4

    newest = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=1)
    assert [e["id"] for e in newest["events"]] == [len(forward)]
    assert newest["events"][0]["type"] == "ExecutionSucceeded"
    rest = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=100,
                                     nextToken=newest["nextToken"])
    assert [e["id"] for e in rest["events"]] == list(range(len(forward) - 1, 0, -1)) and "nextToken" not in rest
    # Forward reads are whole, as before.
    assert sfn.get_execution_history(executionArn=execution, maxResults=2)["events"] == forward


# --- ASL features the compiler relies on, as moto's interpreter runs them ---


def _run_definition(aws, name: str, states: dict, start: str, execution_input: object) -> dict:
    sfn = aws.client("stepfunctions")
    definition = json.dumps({"StartAt": start, "States": states})
    arn = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)["stateMachineArn"]
    desc = _run(sfn, arn, "asl", execution_input)
    assert desc["status"] == "SUCCEEDED", desc
    return json.loads(desc["output"])


def test_intrinsics_and_execution_context(aws, unique_name):
    parameters = {
        "run.$": "States.Format('sfn-{}', $$.Execution.Name)",
        "array.$": "States.Array($.a, $.b, 'x')",
        "json.$": "States.JsonToString($.obj)",
        "nested.$": "States.Format('{}', States.JsonToString(States.Array($.a, $.b)))",
        "range.$": "States.ArrayRange(0, States.MathAdd($.n, -1), 1)",
        "input.$": "$$.Execution.Input",
    }
    execution_input = {"a": "A", "b": 2, "obj": {"k": [1, "v"]}, "n": 3}

    states = {"P": {"Type": "Pass", "Parameters": parameters, "End": True}}

    output = _run_definition(aws, unique_name, states, "P", execution_input)

    assert output == {
        "run": "sfn-asl",
        "array": ["A", 2, "x"],
        "json": '{"k":[1,"v"]}',
        "nested": '["A",2]',
        "range": [0, 1, 2],
        "input": execution_input,
    }


def test_map_item_value_and_index_in_item_selector(aws, unique_name):
    states = {
        "M": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 2,
            "ItemSelector": {
                "value.$": "$$.Map.Item.Value",
                "indices.$": "States.Array($.indices[0], $$.Map.Item.Index)",
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "I",
                "States": {"I": {"Type": "Pass", "End": True}},
            },
            "End": True,
        }
    }

    output = _run_definition(aws, unique_name, states, "M", {"items": ["x", "y", "z"], "indices": [7]})

    assert output == [
        {"value": "x", "indices": [7, 0]},
        {"value": "y", "indices": [7, 1]},
        {"value": "z", "indices": [7, 2]},
    ]


@pytest.mark.parametrize(
    ("execution_input", "branch"), [({"x": None}, "present"), ({"y": 1}, "absent"), ({"x": {"y": 0}}, "present")]
)
def test_choice_is_present(aws, unique_name, execution_input, branch):
    states = {
        "C": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.x", "IsPresent": False, "Next": "Absent"}],
            "Default": "Present",
        },
        "Absent": {"Type": "Pass", "Result": "absent", "ResultPath": "$.branch", "End": True},
        "Present": {"Type": "Pass", "Result": "present", "ResultPath": "$.branch", "End": True},
    }

    assert _run_definition(aws, unique_name, states, "C", execution_input)["branch"] == branch


def test_state_retry_count_counts_attempts(aws, unique_name):
    # Attempt n sends to queue "<name>-n"; only "<name>-1" exists, so the
    # first attempt fails, the retry succeeds and says it is retry 1.
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"{unique_name}-1")["QueueUrl"]
    states = {
        "T": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {
                "QueueUrl.$": "States.Format('{}-{}', $.queue_base, $$.State.RetryCount)",
                "MessageBody.$": "States.Format('retry {}', $$.State.RetryCount)",
            },
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}],
            "ResultPath": None,
            "End": True,
        }
    }

    _run_definition(aws, unique_name, states, "T", {"queue_base": queue_url.rsplit("-", 1)[0]})

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [message["Body"] for message in messages] == ["retry 1"]


def test_cached_module_list_names_the_same_services():
    """The dispatcher's module list is cached by apply_patches, with the same contents.

    In a subprocess: this test process keeps stock moto for the canaries.
    """
    import subprocess
    import sys

    script = (
        "import os, moto\n"
        "from moto import backends\n"
        "from flowdrop.local.moto import compat as moto_compat\n"
        "folder = os.path.dirname(moto.__file__)\n"
        "expected = sorted(n for n in os.listdir(folder) if os.path.isdir(os.path.join(folder, n))"
        " and not n.startswith('__'))\n"
        "moto_compat.apply_patches()\n"
        "assert getattr(backends.list_of_moto_modules, '_flowdrop_cached', False)\n"
        "assert list(backends.list_of_moto_modules()) == expected, 'module list changed'\n"
        "assert 'stepfunctions' in expected and 's3' in expected\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
