"""Batch jobs on the embedded AWS run their command and environment as local processes.

Against the session's moto server over HTTP (patched by local/moto/batch_jobs.py
through local/moto/main.py), plus a canary that fails once stock moto no
longer needs Docker for a job, so the patch can go.
"""

from __future__ import annotations

import inspect
import json
import sys
import time
import uuid

from moto.batch.models import Job

from flowdrop.local.moto import batch_jobs


def _queue_and_definition(aws, command: list[str], env: dict[str, str], timeout: int | None = None) -> tuple[str, str]:
    iam, batch = aws.client("iam"), aws.client("batch")
    suffix = uuid.uuid4().hex[:8]
    role = iam.create_role(
        RoleName=f"batch-{suffix}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    env_arn = batch.create_compute_environment(
        computeEnvironmentName=f"ce-{suffix}", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName=f"q-{suffix}", state="ENABLED", priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env_arn}],
    )["jobQueueArn"]
    extra = {"timeout": {"attemptDurationSeconds": timeout}} if timeout else {}
    definition = batch.register_job_definition(
        jobDefinitionName=f"jd-{suffix}", type="container",
        containerProperties={
            "image": "python:3.11-slim", "command": command,
            "environment": [{"name": k, "value": v} for k, v in env.items()],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
        },
        **extra,
    )["jobDefinitionArn"]
    return queue, definition


def _wait(batch, job_id: str) -> dict:
    for _ in range(300):
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if job["status"] in ("SUCCEEDED", "FAILED"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['status']} after 15 s")


def test_stock_moto_still_runs_batch_jobs_in_docker():
    # Canary: when this fails, moto runs jobs without Docker and the patch can go.
    assert "import docker" in inspect.getsource(batch_jobs.stock_run())
    assert "exitCode" not in inspect.getsource(Job._container_details if not batch_jobs.is_applied() else batch_jobs._STOCK_CONTAINER_DETAILS)


def test_job_runs_command_with_definition_env_and_overrides_and_logs(aws):
    script = "import os,sys; print('A=' + os.environ['A'], 'B=' + os.environ['B'], sys.argv[1:])"
    queue, definition = _queue_and_definition(aws, ["python", "-c", script, "x"], {"A": "def", "B": "def"})
    batch, logs = aws.client("batch"), aws.client("logs")
    job_id = batch.submit_job(
        jobName="ok", jobQueue=queue, jobDefinition=definition,
        containerOverrides={"environment": [{"name": "B", "value": "override"}]},
    )["jobId"]
    job = _wait(batch, job_id)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert job["container"]["exitCode"] == 0
    assert len(job["attempts"]) == 1 and job["attempts"][0]["container"]["exitCode"] == 0
    stream = job["container"]["logStreamName"]
    assert stream.endswith(job_id)
    messages = [e["message"] for e in logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)["events"]]
    assert messages == ["A=def B=override ['x']"]


def test_failing_job_reports_exit_code_and_stderr(aws):
    queue, definition = _queue_and_definition(aws, ["python", "-c", "import sys; sys.exit('boom')"], {})
    batch, logs = aws.client("batch"), aws.client("logs")
    job = _wait(batch, batch.submit_job(jobName="bad", jobQueue=queue, jobDefinition=definition)["jobId"])
    assert job["status"] == "FAILED"
    assert job["container"]["exitCode"] == 1
    events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=job["container"]["logStreamName"])
    assert [e["message"] for e in events["events"]] == ["boom"]


def test_attempt_duration_kills_the_process(aws):
    queue, definition = _queue_and_definition(aws, [sys.executable, "-c", "import time; time.sleep(30)"], {}, timeout=1)
    batch = aws.client("batch")
    started = time.monotonic()
    job = _wait(batch, batch.submit_job(jobName="slow", jobQueue=queue, jobDefinition=definition)["jobId"])
    assert job["status"] == "FAILED"
    assert job["container"]["exitCode"] != 0
    assert time.monotonic() - started < 10


def test_stock_moto_still_sends_batch_tasks_pascal_case_and_streams_sdk_bodies():
    # Canaries: when these fail, moto normalises Batch parameters and aws-sdk
    # responses itself, and those parts of the patch can go.
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    parameters, response = batch_jobs.stock_normalisers()
    assert parameters is StateTaskService._normalise_parameters
    assert response is StateTaskService._normalise_response
    assert batch_jobs._STOCK_SDK_NORMALISE is StateTaskService._normalise_response
    assert inspect.getsource(StateTaskService._normalise_parameters).rstrip().endswith("pass")


def test_a_state_machine_runs_a_batch_job_with_its_overrides_and_retries_it(aws, unique_name):
    """submitJob.sync from moto's interpreter: PascalCase overrides reach the job; a failed job is retried."""
    marker = f"/tmp/{unique_name}.attempted"
    script = ("import os,sys; p=os.environ['MARKER']; first=not os.path.exists(p); open(p,'w').close(); "
              "print('X=' + os.environ['X']); sys.exit(3 if first else 0)")
    queue, definition = _queue_and_definition(aws, ["python", "-c", script], {"X": "definition"})
    sfn = aws.client("stepfunctions")
    role = aws.client("iam").create_role(RoleName=f"sfn-{unique_name}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    task = {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync", "End": True, "ResultPath": "$.job",
            "Parameters": {"JobName": "retried", "JobQueue": queue, "JobDefinition": definition,
                           "ContainerOverrides": {"Environment": [{"Name": "X", "Value.$": "$.x"},
                                                                  {"Name": "MARKER", "Value": marker}]}},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}]}
    arn = sfn.create_state_machine(name=unique_name, roleArn=role,
                                   definition=json.dumps({"StartAt": "T", "States": {"T": task}}))["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="one", input=json.dumps({"x": "override"}))
    for _ in range(300):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            break
        time.sleep(0.1)
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    job = json.loads(described["output"])["job"]
    assert job["Status"] == "SUCCEEDED" and job["Container"]["ExitCode"] == 0  # Step Functions' PascalCase
    events = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    assert [e["type"] for e in events if e["type"] in ("TaskFailed", "TaskSucceeded", "TaskTimedOut")] == [
        "TaskFailed", "TaskSucceeded"]
    stream = job["Container"]["LogStreamName"]
    logs = aws.client("logs").get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)
    assert [e["message"] for e in logs["events"]] == ["X=override"]


def _until(check, what: str, tries: int = 600):
    for _ in range(tries):
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def test_jobs_beyond_the_compute_environments_slots_wait_runnable(aws, tmp_path):
    # The session's moto runs at most DEFAULT_MAX_JOBS jobs at once; each job here waits for a `go` file.
    slots = batch_jobs.DEFAULT_MAX_JOBS
    script = ("import os, pathlib, time; d = pathlib.Path(os.environ['DIR']); "
              "(d / ('started-' + os.environ['AWS_BATCH_JOB_ID'])).touch(); "
              "[time.sleep(0.02) for _ in iter(lambda: (d / 'go').exists(), True)]")
    queue, definition = _queue_and_definition(aws, ["python", "-c", script], {"DIR": str(tmp_path)})
    batch = aws.client("batch")
    ids = [batch.submit_job(jobName=f"wide-{i}", jobQueue=queue, jobDefinition=definition)["jobId"]
           for i in range(slots + 2)]
    _until(lambda: len(list(tmp_path.glob("started-*"))) == slots, f"{slots} jobs started")
    statuses = {j["jobId"]: j["status"] for j in batch.describe_jobs(jobs=ids)["jobs"]}
    waiting = [job_id for job_id in ids if not (tmp_path / f"started-{job_id}").exists()]
    assert len(waiting) == 2 and {statuses[job_id] for job_id in waiting} == {"RUNNABLE"}
    assert sorted(statuses[job_id] for job_id in ids if job_id not in waiting) == ["RUNNING"] * slots
    # A job terminated while it waits never starts; the others run once slots free.
    batch.terminate_job(jobId=waiting[0], reason="not needed")
    (tmp_path / "go").touch()
    ended = {job_id: _wait(batch, job_id) for job_id in ids}
    assert ended[waiting[0]]["status"] == "FAILED" and ended[waiting[0]]["statusReason"] == "not needed"
    assert not (tmp_path / f"started-{waiting[0]}").exists()
    assert sorted(ended[job_id]["status"] for job_id in ids if job_id != waiting[0]) == ["SUCCEEDED"] * (slots + 1)


_SUBMIT_DURING_DESCRIBE = '''
import sys
from moto.batch.models import BatchBackend
from flowdrop.local.moto import batch_jobs


class FakeJob:
    """Describing it submits another job, as a SubmitJob landing while DescribeJobs walks the table."""

    def __init__(self, backend, job_id):
        self.backend, self.job_id, self.arn = backend, job_id, "arn:aws:batch:us-east-1:1:job/" + job_id

    def describe(self):
        new = "late-%d" % len(self.backend._jobs)
        self.backend._jobs[new] = FakeJob(self.backend, new)
        return {"jobId": self.job_id}


def answer(describe):
    backend = BatchBackend("us-east-1", "123456789012")
    for job_id in ("a", "b", "c"):
        backend._jobs[job_id] = FakeJob(backend, job_id)
    try:
        return sorted(j["jobId"] for j in describe(backend, ["a", "arn:aws:batch:us-east-1:1:job/c"]))
    except RuntimeError as err:
        return str(err)


stock = answer(batch_jobs.stock_describe_jobs())
batch_jobs.apply_patches()
patched = answer(BatchBackend.describe_jobs)
print(repr(stock)); print(repr(patched))
'''


def test_describe_jobs_answers_while_a_job_is_submitted(tmp_path):
    """Stock DescribeJobs raised when a SubmitJob landed while it walked the job table (CI saw it as
    States.Runtime KeyError('RequestId') in a batch foreach). In a subprocess: this one keeps stock moto."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", _SUBMIT_DURING_DESCRIBE], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    stock, patched = done.stdout.strip().splitlines()
    assert stock == repr("dictionary changed size during iteration")  # the race, made certain here
    assert patched == repr(["a", "c"])  # by id and by ARN, as stock answers when nothing is submitted
