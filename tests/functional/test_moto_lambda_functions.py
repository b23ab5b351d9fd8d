"""Lambda functions on the embedded AWS run their handler as a local process.

Against the session's moto server over HTTP (patched by local/moto/lambda_functions.py
through local/moto/main.py), plus a canary that fails once stock moto runs
zip functions without Docker, so the patch can go.
"""

from __future__ import annotations

import inspect
import io
import json
import time
import zipfile

from flowdrop.local.moto import lambda_functions

HANDLER_SOURCE = '''
import os, time

def handle(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail: " + event["fail"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    print("handling", event["name"])
    return {"hello": event["name"], "colour": os.environ["COLOUR"], "function": context.function_name,
            "left_ms": context.get_remaining_time_in_millis()}
'''


def _function(aws, name: str, timeout: int = 10) -> str:
    iam, lam = aws.client("iam"), aws.client("lambda")
    role = iam.create_role(RoleName=f"fn-{name}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr(f"{name}_handler.py", HANDLER_SOURCE)
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler=f"{name}_handler.handle",
                               Code={"ZipFile": code.getvalue()}, Timeout=timeout, MemorySize=256,
                               Environment={"Variables": {"COLOUR": "teal"}})["FunctionArn"]


def test_stock_moto_still_echoes_instead_of_running_functions():
    simple, docker = lambda_functions.stock_invokes()
    assert "Simple Lambda happy path OK" in inspect.getsource(simple)
    assert "import docker" in inspect.getsource(docker)


def test_invoke_runs_the_handler_from_the_functions_zip_with_its_environment_and_logs(aws, unique_name):
    _function(aws, unique_name)
    lam = aws.client("lambda")
    answer = lam.invoke(FunctionName=unique_name, Payload=json.dumps({"name": "ada"}))
    assert "FunctionError" not in answer
    result = json.loads(answer["Payload"].read())
    assert result["hello"] == "ada" and result["colour"] == "teal" and result["function"] == unique_name
    assert 0 < result["left_ms"] <= 10_000
    logs = aws.client("logs")
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{unique_name}")["logStreams"]
    messages = [e["message"] for e in logs.get_log_events(logGroupName=f"/aws/lambda/{unique_name}",
                                                          logStreamName=streams[0]["logStreamName"])["events"]]
    assert "handling ada" in messages and messages[0].startswith("START RequestId:")


def test_a_raising_handler_is_a_function_error_with_lambdas_shape(aws, unique_name):
    _function(aws, unique_name)
    answer = aws.client("lambda").invoke(FunctionName=unique_name, Payload=json.dumps({"fail": "on purpose"}))
    assert answer.get("FunctionError")
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "asked to fail: on purpose"
    assert any("raise ValueError" in frame for frame in error["stackTrace"])


def test_the_functions_timeout_stops_the_handler(aws, unique_name):
    _function(aws, unique_name, timeout=1)
    started = time.monotonic()
    answer = aws.client("lambda").invoke(FunctionName=unique_name, Payload=json.dumps({"name": "x", "sleep": 30}))
    assert time.monotonic() - started < 10
    error = json.loads(answer["Payload"].read())
    assert answer.get("FunctionError") and error["errorType"] == "Sandbox.Timedout"


def test_a_state_machine_invokes_the_function_and_catches_its_error_type(aws, unique_name):
    arn = _function(aws, unique_name)
    sfn = aws.client("stepfunctions")
    role = aws.client("iam").create_role(RoleName=f"sfn-{unique_name}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = {"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "ResultSelector": {"out.$": "$.Payload"},
                 "Parameters": {"FunctionName": arn, "Payload.$": "$"}, "ResultPath": "$.call",
                 "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.caught", "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    machine = sfn.create_state_machine(name=unique_name, roleArn=role, definition=json.dumps(definition))
    outputs = {}
    for name, event in {"ok": {"name": "grace"}, "bad": {"fail": "in a state machine"}}.items():
        execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=name, input=json.dumps(event))
        for _ in range(200):
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if described["status"] != "RUNNING":
                break
            time.sleep(0.1)
        assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
        outputs[name] = json.loads(described["output"])
    assert outputs["ok"]["call"]["out"]["hello"] == "grace"
    assert outputs["bad"]["caught"]["Error"] == "ValueError"
    assert "in a state machine" in outputs["bad"]["caught"]["Cause"]
