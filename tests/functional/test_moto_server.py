"""The embedded AWS starts with Step Functions really executing state machines."""

import json
import time


def test_state_machine_executes_on_moto(aws, unique_name):
    sfn = aws.client("stepfunctions")
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}}
    arn = sfn.create_state_machine(
        name=unique_name, definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/x"
    )["stateMachineArn"]
    exec_arn = sfn.start_execution(stateMachineArn=arn, name="e1", input="{}")["executionArn"]
    for _ in range(100):
        desc = sfn.describe_execution(executionArn=exec_arn)
        if desc["status"] != "RUNNING":
            break
        time.sleep(0.05)
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"]) == {"ok": 1}
