"""The batch and lambda backends end to end on the embedded stack: tasks are Batch jobs and Lambda
invokes that moto runs as local processes.

One stack for the module whose deployer sends a foreach wider than 3 items
to a Distributed Map, so a 4x3 nested foreach runs its outer level
distributed and its inner level inline. Flows are deployed with
`python flow.py step-functions create` and no --backend (Batch is the
default), triggered over the API and read back through the client API.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operations import production_client
from flowdrop.compiler.job import COMMAND
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import deploy_flow, examples_dir, wait_for_run
from tests.helpers.nested_foreach import assert_every_cell_ran_once

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    options = StackOptions(state_dir=tmp_path_factory.mktemp("batch-stack"), inline_foreach_limit=3, clock_interval=0.5)
    with EmbeddedStack(options) as running:
        yield running


@pytest.fixture(scope="module")
def api(stack) -> ApiClient:
    return ApiClient.from_config(stack.config)


def run_flow(stack, api, flow_file, flow: str, parameters: dict | None = None,
             backend: str | None = None) -> tuple[str, dict]:
    output = deploy_flow(stack, flow_file, backend=backend)
    assert f"State machine {flow} for flow {flow} pushed" in output, output
    run_id = api.trigger(flow, parameters or {})["run_id"]
    return run_id, wait_for_run(api, flow, run_id, timeout=240)


def history(stack, flow: str, run_id: str) -> list[dict]:
    arn = f"arn:aws:states:us-east-1:123456789012:execution:{flow}:{run_id[len('sfn-'):]}"
    return stack.aws.client("stepfunctions").get_execution_history(executionArn=arn)["events"]


def test_nested_foreach_outer_distributed_inner_inline(stack, api):
    from flowdrop.client import Run

    run_id, answer = run_flow(stack, api, examples_dir() / "nested_foreach_flow.py", "NestedForeachFlow")
    assert answer["status"] == "SUCCEEDED", (answer.get("error"), answer.get("cause"), answer.get("steps"))
    events = history(stack, "NestedForeachFlow", run_id)
    maps = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "MapStateEntered"]
    # 4 rows > 3: distributed (the 3 columns run inline in its child runs, whose history moto keeps apart)
    assert maps == ["start-map-wide"]
    assert [e["type"] for e in events if e["type"].startswith("MapRun")] == ["MapRunStarted", "MapRunSucceeded"]
    production_client(stack.config)
    run = Run(f"NestedForeachFlow/{run_id}")
    assert_every_cell_ran_once(run)


PROBE_FLOW = '''
import os
import sys

import flowdrop
from flowdrop import FlowSpec, step


class ProbeFlow(FlowSpec):

    @step
    def start(self):
        self.sdk_file = flowdrop.__file__
        self.argv = sys.argv[1:]
        self.env = {k: v for k, v in os.environ.items() if k.startswith(("FLOWDROP_", "AWS_BATCH_"))}
        print("probe says hello")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProbeFlow()
'''


def test_a_batch_task_runs_the_job_definitions_command_with_the_sdk_from_its_code_package(stack, api, tmp_path):
    from flowdrop.client import Run

    (tmp_path / "probe_flow.py").write_text(textwrap.dedent(PROBE_FLOW))
    run_id, answer = run_flow(stack, api, tmp_path / "probe_flow.py", "ProbeFlow")
    assert answer["status"] == "SUCCEEDED", (answer.get("error"), answer.get("cause"))
    batch, logs = stack.aws.client("batch"), stack.aws.client("logs")
    summaries = batch.list_jobs(jobQueue=stack.resources.job_queue_arn, jobStatus="SUCCEEDED")["jobSummaryList"]
    (job,) = batch.describe_jobs(jobs=[s["jobId"] for s in summaries if s["jobName"] == "ProbeFlow-start"])["jobs"]
    definition = batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])["jobDefinitions"][0]
    # The job ran the definition's command, unchanged by the submission...
    assert job["container"]["command"] == definition["containerProperties"]["command"] == list(COMMAND)
    production_client(stack.config)
    start = Run(f"ProbeFlow/{run_id}")["start"].task
    data = start.data
    # ...which ran the flow's own `step` command from the extracted package, with its flowdrop, not this checkout's.
    step_at = data.argv.index("step")
    assert data.argv[step_at:step_at + 4] == ["step", "start", "--run-id", run_id]
    assert data.sdk_file.endswith("/code/flowdrop/__init__.py") and "flowdrop-task-" in data.sdk_file
    # The task's identity came from the container overrides the compiled state machine set.
    submitted = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert json.loads(submitted["FLOWDROP_RUN"])["run_id"] == run_id
    for name in ("FLOWDROP_RUN", "FLOWDROP_STEP", "FLOWDROP_INDICES", "FLOWDROP_MODE"):
        assert data.env[name] == submitted[name]
    assert data.env["AWS_BATCH_JOB_ID"] == job["jobId"]
    # The run's code is the package the job ran from: its flow file as deployed, its manifest, the tarball.
    url = json.loads(submitted["FLOWDROP_RUN"])["code_package"]
    code = Run(f"ProbeFlow/{run_id}").code
    assert url.startswith("s3://") and code.path == url == start.code.path
    assert code.flowspec == textwrap.dedent(PROBE_FLOW) and code.info["flow_name"] == "ProbeFlow"
    assert "code/flowdrop/__init__.py" in code.tarball.getnames()
    assert start.environment_info["type"] == "batch"
    # The task's stdout is in the job's CloudWatch log stream, as on AWS.
    events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=job["container"]["logStreamName"])
    assert "probe says hello" in [e["message"] for e in events["events"]]


TIMEOUT_FLOW = '''
import time

from flowdrop import FlowSpec, catch, step, timeout


class StuckFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.stuck)

    @catch(var='stuck_failure')
    @timeout(seconds=3)
    @step
    def stuck(self):
        time.sleep(40)
        self.next(self.end)

    @step
    def end(self):
        self.caught = str(self.stuck_failure)


if __name__ == "__main__":
    StuckFlow()
'''


@pytest.mark.parametrize("backend", ["batch", "lambda"])
def test_timeout_stops_a_task_and_catch_lets_the_run_go_on(stack, api, tmp_path, backend):
    from flowdrop.client import Run

    flow = f"Stuck{backend.title()}Flow"
    (tmp_path / "stuck_flow.py").write_text(textwrap.dedent(TIMEOUT_FLOW).replace("StuckFlow", flow))
    run_id, answer = run_flow(stack, api, tmp_path / "stuck_flow.py", flow, backend=backend)
    assert answer["status"] == "SUCCEEDED", (answer.get("error"), answer.get("cause"))
    timed_out = [e for e in history(stack, flow, run_id) if e["type"] == "TaskTimedOut"]
    assert len(timed_out) == 1
    production_client(stack.config)
    assert "Timeout" in Run(f"{flow}/{run_id}")["end"].task.data.caught
    if backend == "lambda":
        return
    batch = stack.aws.client("batch")
    jobs = [s for status in ("RUNNING", "SUCCEEDED", "FAILED")
            for s in batch.list_jobs(jobQueue=stack.resources.job_queue_arn, jobStatus=status)["jobSummaryList"]
            if s["jobName"] == f"{flow}-stuck"]
    described = batch.describe_jobs(jobs=[j["jobId"] for j in jobs])["jobs"]
    modes = {{e["name"]: e["value"] for e in job["container"]["environment"]}["FLOWDROP_MODE"]: job
             for job in described}
    assert sorted(modes) == ["catch", "run"]  # the step's job, then the catch fallback's
    job = modes["run"]
    assert job["timeout"] == {"attemptDurationSeconds": 60}  # Batch ends the job Step Functions gave up on


@pytest.mark.parametrize("flow_file, flow", [("linear_flow.py", "LinearFlow"), ("branch_flow.py", "BranchFlow"),
                                             ("nested_foreach_flow.py", "NestedForeachFlow"),
                                             ("decorated_flow.py", "DecoratedFlow")])
def test_the_lambda_backend_runs_each_graph_shape(stack, api, flow_file, flow):
    from flowdrop.client import Run

    parameters = {"base": 5} if flow == "LinearFlow" else {}
    run_id, answer = run_flow(stack, api, examples_dir() / flow_file, flow, parameters, backend="lambda")
    assert answer["status"] == "SUCCEEDED", (answer.get("error"), answer.get("cause"), answer.get("steps"))
    production_client(stack.config)
    run = Run(f"{flow}/{run_id}")
    end = run["end"].task.data
    assert run["end"].task.environment_info["type"] == "lambda"
    assert run.code.flowspec == (examples_dir() / flow_file).read_text()
    if flow == "LinearFlow":
        assert (end.trail, end.value) == (["start", "double", "increment", "end"], 11)
    elif flow == "BranchFlow":
        join = run["join"].task.data
        assert (join.a, join.b, join.c, join.total_score) == (1, 2, 3, 60)
    elif flow == "NestedForeachFlow":
        assert run["join_rows"].task.data.total == sum(i * 10 + j for i in range(4) for j in range(3))
    else:  # @retry with two failures, then @catch of a ZeroDivisionError
        assert run["flaky"].task.data.attempts == 3
        assert "ZeroDivisionError" in str(end.risky_failure)
    # Every task was one invoke of the task function, logged as Lambda logs.
    logs = stack.aws.client("logs")
    group = f"/aws/lambda/{stack.names.task_function}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert streams and all(s["logStreamName"].count("/") == 3 for s in streams)


SLEEPY_FLOW = '''
import time

from flowdrop import FlowSpec, step


class Sleepy{backend}Flow(FlowSpec):

    @step
    def start(self):
        print("started", flush=True)
        time.sleep(120)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    Sleepy{backend}Flow()
'''


@pytest.mark.parametrize("backend", ["batch", "worker"])
def test_terminate_stops_a_running_run_and_its_task(stack, api, tmp_path, backend):
    import subprocess
    import sys
    import time

    from flowdrop.testing import client_env

    flow = f"Sleepy{backend.title()}Flow"
    flow_file = tmp_path / "sleepy_flow.py"
    flow_file.write_text(textwrap.dedent(SLEEPY_FLOW.format(backend=backend.title())))
    deploy_flow(stack, flow_file, backend=backend)
    run_id = api.trigger(flow, {})["run_id"]
    deadline = time.monotonic() + 60
    while api.get_run(flow, run_id)["steps"].get("start") != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(2)  # the task itself is under way
    done = subprocess.run([sys.executable, str(flow_file), "step-functions", "terminate", run_id, "--reason", "no more"],
                          env=client_env(stack, FLOWDROP_USER="ada"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Terminated {flow}/{run_id}: it ends ABORTED (terminated by ada: no more)" in done.stdout
    answer = wait_for_run(api, flow, run_id, timeout=30)
    assert answer["status"] == "ABORTED" and answer["steps"]["start"] in ("ABORTED", "FAILED")
    again = subprocess.run([sys.executable, str(flow_file), "step-functions", "terminate", run_id],
                           env=client_env(stack), capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "already ended: ABORTED" in again.stdout + again.stderr
    if backend == "batch":  # the job is stopped too, not left sleeping for two minutes
        batch = stack.aws.client("batch")
        deadline = time.monotonic() + 20
        while True:
            jobs = [j for status in ("RUNNING", "SUCCEEDED", "FAILED") for j in batch.list_jobs(
                jobQueue=stack.resources.job_queue_arn, jobStatus=status)["jobSummaryList"] if j["jobName"] == f"{flow}-start"]
            if [j["status"] for j in jobs] == ["FAILED"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert [j["status"] for j in jobs] == ["FAILED"]


def test_metaflows_use_distributed_map_sends_even_a_narrow_foreach_distributed(stack, api, tmp_path):
    # Metaflow's create flags a deploy script passes: --use-distributed-map is carried out, the token flags
    # are said to be left out, and --deployer-attribute-file names what was deployed.
    attributes = tmp_path / "deployed.json"
    output = deploy_flow(stack, examples_dir() / "foreach_flow.py", backend="worker",
                         create_options=("--use-distributed-map", "--authorize", "any-token",
                                         "--deployer-attribute-file", str(attributes)))
    assert "flowdrop leaves out Metaflow's --authorize" in output, output
    written = json.loads(attributes.read_text())
    assert written["name"] == "ForeachFlow" and written["flow_name"] == "ForeachFlow"
    assert written["alias_arn"].endswith(":stateMachine:ForeachFlow:production") and written["version"] >= 1
    run_id = api.trigger("ForeachFlow", {"width": 2})["run_id"]
    answer = wait_for_run(api, "ForeachFlow", run_id, timeout=240)
    assert answer["status"] == "SUCCEEDED", (answer.get("error"), answer.get("cause"))
    events = history(stack, "ForeachFlow", run_id)
    # 2 items, under the stack's inline limit of 3, yet in a Distributed Map
    assert [e["type"] for e in events if e["type"].startswith("MapRun")] == ["MapRunStarted", "MapRunSucceeded"]


S3_FLOW = '''
from flowdrop import FlowSpec, S3, step


class S3UserFlow(FlowSpec):

    @step
    def start(self):
        with S3(run=self) as s3:
            self.url = s3.put('inputs/rows.csv', 'a,b\\n1,2\\n')
        self.next(self.end)

    @step
    def end(self):
        with S3(run=self) as s3:
            self.rows = s3.get('inputs/rows.csv').text.splitlines()
            self.listed = [obj.key for obj in s3.list_recursive()]


if __name__ == '__main__':
    S3UserFlow()
'''


def test_a_production_step_keeps_data_with_metaflows_s3_under_its_run(stack, api, tmp_path):
    from flowdrop.client import Run

    flow_file = tmp_path / "s3_user_flow.py"
    flow_file.write_text(S3_FLOW)
    run_id, answer = run_flow(stack, api, flow_file, "S3UserFlow", backend="worker")
    assert answer["status"] == "SUCCEEDED", (answer.get("error"), answer.get("cause"))
    production_client(stack.config)
    task = Run(f"S3UserFlow/{run_id}")["end"].task
    data = task.data
    assert task.environment_info["type"] == "worker" and task.code.flowspec == S3_FLOW
    assert data.rows == ["a,b", "1,2"] and data.listed == ["inputs/rows.csv"]
    bucket, _, key = data.url[len("s3://"):].partition("/")
    assert key.endswith(f"datatools/S3UserFlow/{run_id}/inputs/rows.csv")
    body = stack.aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert body == b"a,b\n1,2\n"


MISSING_DEPENDENCY_FLOW = '''
import os

from flowdrop import FlowSpec, step

if os.environ.get("AWS_BATCH_JOB_ID"):  # a package the laptop has and the container does not
    import only_on_the_laptop  # noqa: F401


class MissingDependencyFlow(FlowSpec):

    @step
    def start(self):
        print("start ran")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MissingDependencyFlow()
'''


def test_logs_batch_shows_what_a_job_printed_when_its_task_never_started(stack, api, tmp_path):
    from click.testing import CliRunner

    from flowdrop.cli.operator import cli

    (tmp_path / "missing_dependency_flow.py").write_text(textwrap.dedent(MISSING_DEPENDENCY_FLOW))
    run_id, answer = run_flow(stack, api, tmp_path / "missing_dependency_flow.py", "MissingDependencyFlow")
    assert answer["status"] == "FAILED"
    env = {"FLOWDROP_CONFIG": str(stack.config_path)}

    # The task failed at import, before it could save anything: the datastore has nothing of the run...
    datastore = CliRunner().invoke(cli, ["logs", f"MissingDependencyFlow/{run_id}/start"], env=env)
    assert datastore.exit_code == 1
    assert "does not exist" in datastore.output
    assert f"flowdrop logs MissingDependencyFlow/{run_id} --batch" in datastore.output

    # ...and the job's log stream has the container's whole output, under the task it was.
    batch = CliRunner().invoke(cli, ["logs", f"MissingDependencyFlow/{run_id}/start", "--batch"], env=env)
    assert batch.exit_code == 0, batch.output
    heading, *lines = batch.output.splitlines()
    assert heading.startswith(f"== MissingDependencyFlow/{run_id}/start/start  start (attempt 0): job ")
    assert "FAILED, exit code 1" in heading
    assert any("ModuleNotFoundError: No module named 'only_on_the_laptop'" in line for line in lines), lines
    assert "start ran" not in batch.output

    # A step with no jobs says so; the end step never ran.
    none = CliRunner().invoke(cli, ["logs", f"MissingDependencyFlow/{run_id}/end", "--batch"], env=env)
    assert "No Batch jobs of" in none.output and none.exit_code == 0
