"""End to end on the embedded stack: deploy by upload, trigger over the API, run on moto's Step Functions.

One stack for the module (moto, app.py's routes, the SQS event source, the
clock with an injected time source, the worker pool). Flows are deployed the
way a user deploys them (`python flow.py step-functions create`, a
subprocess reading the stack's client config), triggered through the HTTP
API and read back through the client API from the production datastore.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone

import pytest

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operations import production_client
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import deploy_flow, examples_dir, wait_for_run
from tests.helpers.clock import FakeTime
from tests.helpers.nested_foreach import assert_every_cell_ran_once

pytestmark = pytest.mark.slow

EXAMPLES = examples_dir()
# Short, so a lost worker is noticed within the test, yet long enough for a
# task's wait in the queue and for heartbeats on a busy 2-core machine
# (Step Functions counts from when it queues the task).
HEARTBEAT_SECONDS = 15


@pytest.fixture(scope="module")
def fake_time() -> FakeTime:
    return FakeTime(datetime(2026, 11, 25, 9, 58, 30, tzinfo=timezone.utc))


@pytest.fixture(scope="module")
def stack(tmp_path_factory, fake_time):
    options = StackOptions(state_dir=tmp_path_factory.mktemp("e2e-stack"), max_tasks=8,
                           heartbeat_seconds=HEARTBEAT_SECONDS, heartbeat_interval=1.0, clock_interval=0.2,
                           now=fake_time)
    with EmbeddedStack(options) as running:
        yield running


@pytest.fixture(scope="module")
def api(stack) -> ApiClient:
    return ApiClient.from_config(stack.config)


@pytest.fixture(scope="module")
def started_runs(stack, api):
    """The four graph shapes deployed by upload, then triggered together (they run concurrently)."""
    flows = {"LinearFlow": ("linear_flow.py", {"base": 5}), "BranchFlow": ("branch_flow.py", {}),
             "NestedForeachFlow": ("nested_foreach_flow.py", {}), "DecoratedFlow": ("decorated_flow.py", {})}
    for flow, (file_name, _) in flows.items():
        output = deploy_flow(stack, EXAMPLES / file_name)
        assert f"State machine {flow} for flow {flow} pushed" in output, output
        assert api.get_flow(flow)["production_version"] == 1
    return {flow: api.trigger(flow, params)["run_id"] for flow, (_, params) in flows.items()}


def finished(api: ApiClient, flow: str, run_id: str, timeout: float = 240.0) -> dict:
    answer = wait_for_run(api, flow, run_id, timeout=timeout)
    assert answer["status"] == "SUCCEEDED", (answer.get("error"), answer.get("cause"), answer.get("steps"))
    return answer


def task_data(stack, flow: str, run_id: str, step: str, task_id: str | None = None):
    from flowdrop.client import Run

    production_client(stack.config)
    step_obj = Run(f"{flow}/{run_id}")[step]
    return (step_obj[task_id] if task_id else step_obj.task).data


def test_linear_flow_runs_to_success_with_its_trigger_parameters(stack, api, started_runs):
    run_id = started_runs["LinearFlow"]
    assert run_id.startswith("sfn-")
    answer = finished(api, "LinearFlow", run_id)
    assert list(answer["steps"]) == ["start", "double", "increment", "end"]
    assert set(answer["steps"].values()) == {"SUCCEEDED"}
    end = task_data(stack, "LinearFlow", run_id, "end")
    assert (end.trail, end.value) == (["start", "double", "increment", "end"], 11)


def test_three_way_branch_joins_every_branch(stack, api, started_runs):
    run_id = started_runs["BranchFlow"]
    finished(api, "BranchFlow", run_id)
    join = task_data(stack, "BranchFlow", run_id, "join")
    assert (join.a, join.b, join.c, join.total_score) == (1, 2, 3, 60)


def test_nested_foreach_runs_all_twelve_cells(stack, api, started_runs):
    from flowdrop.client import Run

    run_id = started_runs["NestedForeachFlow"]
    finished(api, "NestedForeachFlow", run_id)
    production_client(stack.config)
    run = Run(f"NestedForeachFlow/{run_id}")
    assert_every_cell_ran_once(run)


def test_a_nested_foreach_with_every_foreach_distributed_on_batch(stack, api, tmp_path):
    # Batch, the default backend (lambda's nested foreach runs in test_compute_backends.py; both cost ~1 s a task).
    from flowdrop.client import Run

    flow = "NestedBatchFlow"
    source = (EXAMPLES / "nested_foreach_flow.py").read_text().replace("NestedForeachFlow", flow)
    (tmp_path / "nested_batch_flow.py").write_text(source)
    output = deploy_flow(stack, tmp_path / "nested_batch_flow.py", create_options=("--use-distributed-map",))
    assert f"State machine {flow} for flow {flow} pushed" in output, output
    sfn = stack.aws.client("stepfunctions")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == flow)
    definition = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"]
    assert '"arn:aws:states:::batch:submitJob.sync"' in definition
    run_id = api.trigger(flow, {})["run_id"]
    finished(api, flow, run_id)
    arn = f"{machine['stateMachineArn'].replace(':stateMachine:', ':execution:')}:{run_id[len('sfn-'):]}"
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    # Metaflow's --use-distributed-map: the 4 rows ran as a Distributed Map of child executions (whose
    # histories moto keeps apart); not one Map ran inline in this execution.
    entered = {e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "MapStateEntered"}
    assert entered == {"start-map-wide"}, entered
    production_client(stack.config)
    run = Run(f"{flow}/{run_id}")
    assert_every_cell_ran_once(run)


def test_retry_decorator_retries_in_step_functions(stack, api, started_runs):
    run_id = started_runs["DecoratedFlow"]
    finished(api, "DecoratedFlow", run_id)
    assert task_data(stack, "DecoratedFlow", run_id, "flaky").attempts == 3
    end = task_data(stack, "DecoratedFlow", run_id, "end")
    assert end.attempts == 3 and "ZeroDivisionError" in str(end.risky_failure)


def batch_jobs(stack, name: str) -> list[dict]:
    """The Batch jobs named `name` (flow-step) on the stack's queue, oldest first."""
    batch = stack.aws.client("batch")
    ids = [job["jobId"] for status in ("SUCCEEDED", "FAILED")
           for job in batch.list_jobs(jobQueue=stack.resources.job_queue_arn, jobStatus=status)["jobSummaryList"]
           if job["jobName"] == name]
    return sorted(batch.describe_jobs(jobs=ids)["jobs"] if ids else [], key=lambda job: job["createdAt"])


def test_the_default_backend_is_batch_and_resources_reach_the_job(stack, api, started_runs):
    """No --backend: every task was a Batch job; @resources(cpu=2, memory=4096) is the job's requirement."""
    finished(api, "DecoratedFlow", started_runs["DecoratedFlow"])
    finished(api, "LinearFlow", started_runs["LinearFlow"])
    for step in ("start", "double", "increment", "end"):
        assert [job["status"] for job in batch_jobs(stack, f"LinearFlow-{step}")] == ["SUCCEEDED"]
    (start,) = batch_jobs(stack, "DecoratedFlow-start")
    requirements = {r["type"]: r["value"] for r in start["container"]["resourceRequirements"]}
    assert requirements == {"VCPU": "2", "MEMORY": "4096"}
    (end,) = batch_jobs(stack, "DecoratedFlow-end")  # no @resources: the job definition's default
    assert {r["type"]: r["value"] for r in end["container"]["resourceRequirements"]} == {"VCPU": "1", "MEMORY": "2048"}
    # @retry(times=3) with two failures: three jobs, the first two FAILED with the task's exit code
    assert [(job["status"], job["container"].get("exitCode")) for job in batch_jobs(stack, "DecoratedFlow-flaky")] \
        == [("FAILED", 1), ("FAILED", 1), ("SUCCEEDED", 0)]


def executions(stack, flow: str) -> list[dict]:
    sfn = stack.aws.client("stepfunctions")
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{flow}"
    return sfn.list_executions(stateMachineArn=arn)["executions"]


def test_cron_rule_fired_by_the_clock_starts_exactly_one_run(stack, api, fake_time):
    # cron(0 10 * * ? *): nothing before 10:00; the clock sees the rule first at 09:58:30.
    deploy_flow(stack, EXAMPLES / "cron_flow.py")
    time.sleep(1.0)  # several clock ticks at 09:58:30: the rule is known, nothing is due
    assert executions(stack, "MorningReportFlow") == []
    fake_time.set(datetime(2026, 11, 25, 10, 0, 5, tzinfo=timezone.utc))
    deadline = time.monotonic() + 20
    while not executions(stack, "MorningReportFlow") and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # more ticks in the same minute, and a redelivery of the same tick, change nothing
    again = stack.clock.fire_now("MorningReportFlow", at=datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc))
    assert [f.result["run_id"] for f in again] == ["sfn-sched-20261125T1000Z"]
    runs = executions(stack, "MorningReportFlow")
    assert [e["name"] for e in runs] == ["sched-20261125T1000Z"]
    finished(api, "MorningReportFlow", "sfn-sched-20261125T1000Z")
    assert task_data(stack, "MorningReportFlow", "sfn-sched-20261125T1000Z", "start").report == "all good"
    # The next day's tick is the next run, once.
    fake_time.set(datetime(2026, 11, 26, 10, 0, 1, tzinfo=timezone.utc) + timedelta(seconds=1))
    deadline = time.monotonic() + 20
    while len(executions(stack, "MorningReportFlow")) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sorted(e["name"] for e in executions(stack, "MorningReportFlow")) == [
        "sched-20261125T1000Z", "sched-20261126T1000Z"]


KILLABLE_FLOW = '''
import os
import time

from flowdrop import FlowSpec, current, retry, step


class KillableFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.slow)

    @retry(times=2, minutes_between_retries=0)
    @step
    def slow(self):
        if current.retry_count == 0:
            with open({pid_file!r}, "w") as handle:
                handle.write(str(os.getpid()))
            time.sleep(300)
        self.attempts = current.retry_count + 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    KillableFlow()
'''


@pytest.mark.parametrize("backend", ["batch", "lambda", "worker"])
def test_a_task_killed_mid_run_is_retried_and_the_run_succeeds(stack, api, tmp_path, backend):
    pid_file = tmp_path / "slow.pid"
    flow_dir = tmp_path / "killable"
    flow_dir.mkdir()
    flow = f"Killable{backend.title()}Flow"
    source = KILLABLE_FLOW.format(pid_file=str(pid_file)).replace("KillableFlow", flow)
    (flow_dir / "killable_flow.py").write_text(textwrap.dedent(source))
    deploy_flow(stack, flow_dir / "killable_flow.py", backend=backend)
    run_id = api.trigger(flow, {})["run_id"]
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pid_file.exists(), "the first attempt of `slow` never started"
    os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the task dies mid-run, as on a lost instance
    answer = finished(api, flow, run_id, timeout=90)
    assert answer["steps"]["slow"] == "SUCCEEDED"
    assert task_data(stack, flow, run_id, "slow").attempts == 2


def test_a_worker_that_stops_heartbeating_times_out_and_the_task_is_retried(stack, api, tmp_path):
    """A lost worker (no answer, no heartbeat): HeartbeatSeconds fails the task, Retry runs it again."""
    pid_file = tmp_path / "slow.pid"
    flow_dir = tmp_path / "lost"
    flow_dir.mkdir()
    source = KILLABLE_FLOW.format(pid_file=str(pid_file)).replace("KillableFlow", "LostWorkerFlow")
    (flow_dir / "lost_worker_flow.py").write_text(textwrap.dedent(source))
    deploy_flow(stack, flow_dir / "lost_worker_flow.py", backend="worker")
    worker = stack.worker
    real_sfn = worker.sfn

    class SilentHeartbeats:
        """The worker's Step Functions client with its heartbeats lost on the way."""

        def __getattr__(self, name):
            if name == "send_task_heartbeat":
                return lambda **kwargs: {}
            return getattr(real_sfn, name)

    worker.sfn = SilentHeartbeats()
    try:
        run_id = api.trigger("LostWorkerFlow", {})["run_id"]
        answer = finished(api, "LostWorkerFlow", run_id, timeout=90)
    finally:
        worker.sfn = real_sfn
        if pid_file.exists() and _alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the first attempt, still asleep
    assert answer["steps"]["slow"] == "SUCCEEDED"
    assert task_data(stack, "LostWorkerFlow", run_id, "slow").attempts == 2


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))


DEPLOY_TIME_FLOW = '''import os

from flowdrop import FlowSpec, Parameter, step


def where_evaluated(context):
    return os.environ.get("DEPLOY_MARK", "evaluated when the run started")


class DeployTimeFlow(FlowSpec):
    mark = Parameter("mark", default=where_evaluated)

    @step
    def start(self):
        self.seen = self.mark
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DeployTimeFlow()
'''


def test_tasks_read_their_package_manifest_deploy_time_values_and_production_namespace(stack, api, tmp_path):
    # The seed's semantics: a deploy-time default is computed once, by the
    # uploader, and every production task reads it from the package's
    # manifest (not recomputed in the worker, whose environment differs).
    from flowdrop.client import Run
    from flowdrop.testing import client_env, run_command

    (tmp_path / "deploy_time_flow.py").write_text(DEPLOY_TIME_FLOW)
    run_command([sys.executable, "deploy_time_flow.py", "step-functions", "create"],
                client_env(stack, DEPLOY_MARK="computed at deploy time"), tmp_path)
    run_id = api.trigger("DeployTimeFlow", {})["run_id"]
    finished(api, "DeployTimeFlow", run_id)
    assert task_data(stack, "DeployTimeFlow", run_id, "start").seen == "computed at deploy time"
    production_client(stack.config)
    assert "production:DeployTimeFlow" in Run(f"DeployTimeFlow/{run_id}").tags


STOPPED_BRANCH_FLOW = '''
import time

from flowdrop import FlowSpec, step


class StoppedBranch{backend}Flow(FlowSpec):

    @step
    def start(self):
        self.next(self.quick, self.broken, self.slow)

    @step
    def quick(self):
        time.sleep({quick_seconds})  # still running when `broken` fails and Step Functions stops the branches
        self.next(self.join)

    @step
    def broken(self):
        raise ValueError("broken on purpose")
        self.next(self.join)

    @step
    def slow(self):
        time.sleep(60)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StoppedBranch{backend}Flow()
'''


# A Lambda invoke cannot be cancelled: the stopped branch's task runs to its end. (A worker stops a
# task whose heartbeat Step Functions refuses, and a stopped branch's Batch job is terminated, as
# on AWS: there the stopped step really never finishes; see the next test.)
def test_a_step_that_finished_after_its_branch_was_stopped_shows_succeeded(stack, api, tmp_path):
    backend = "lambda"
    flow = f"StoppedBranch{backend.title()}Flow"
    source = STOPPED_BRANCH_FLOW.format(backend=backend.title(), quick_seconds=1.5)
    (tmp_path / "stopped_flow.py").write_text(textwrap.dedent(source))
    deploy_flow(stack, tmp_path / "stopped_flow.py", backend=backend)
    run_id = api.trigger(flow, {})["run_id"]
    assert wait_for_run(api, flow, run_id, timeout=90)["status"] == "FAILED"
    deadline = time.monotonic() + 30
    while (steps := api.get_run(flow, run_id)["steps"])["quick"] != "SUCCEEDED" and time.monotonic() < deadline:
        time.sleep(0.5)  # `quick` ends about 1.5 s after it started, whatever Step Functions did
    assert steps["start"] == "SUCCEEDED" and steps["quick"] == "SUCCEEDED"
    assert steps["broken"] == "FAILED"
    assert steps["slow"] in ("ABORTED", "FAILED")  # stopped mid-sleep: never finished


def test_the_python_deployer_api_creates_triggers_lists_and_deletes(stack, api):
    from flowdrop import DeployedFlow, Deployer
    from flowdrop.errors import ApiError, FlowNotFoundError
    from flowdrop.testing import client_env

    deployer = Deployer(EXAMPLES / "parameter_flow.py", config=stack.config, env=client_env(stack))
    deployed = deployer.step_functions(name="PyApiParameterFlow").create(max_workers=5, backend="worker",
                                                                        tags=["api", "python"])
    assert deployed.name == "PyApiParameterFlow" and deployed.production_version == 1
    run = deployed.trigger(alpha=0.25)
    assert run.run_id.startswith("sfn-")
    assert run.wait_for_completion(timeout=120, poll=0.25) == "SUCCEEDED"
    assert run.steps == {"start": "SUCCEEDED", "end": "SUCCEEDED"}
    assert run.run["start"].task.data.alpha == 0.25
    assert [r.run_id for r in deployed.list_runs()] == [run.run_id]
    again = DeployedFlow.from_deployment("PyApiParameterFlow", config=stack.config)
    assert again.production_version == 1
    assert "PyApiParameterFlow" in [f.name for f in Deployer.list_deployed_flows(config=stack.config)]
    with pytest.raises(ApiError) as bad:
        deployed.trigger(alpha="lots")
    assert "alpha" in str(bad.value)
    deployed.delete()
    with pytest.raises((ApiError, FlowNotFoundError)):
        DeployedFlow.from_deployment("PyApiParameterFlow", config=stack.config)


NAPPING_FLOW = """
    import time

    from flowdrop import FlowSpec, Parameter, step


    class NappingFlow(FlowSpec):
        seconds = Parameter('seconds', default=0)

        @step
        def start(self):
            self.slept = self.seconds
            time.sleep(self.seconds)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == '__main__':
        NappingFlow()
"""


def test_the_python_deployer_api_has_metaflows_names_and_semantics(stack, api, tmp_path):
    # Metaflow's floor: .name, .production_token, trigger -> TriggeredRun with .run, .status,
    # .wait_for_run(), .terminate(); .list_runs(states=...); .delete(); and from_deployment/list_deployed_flows.
    from flowdrop import DeployedFlow, Deployer, namespace
    from flowdrop.testing import client_env

    (tmp_path / "napping_flow.py").write_text(textwrap.dedent(NAPPING_FLOW))
    deployed = Deployer(tmp_path / "napping_flow.py", config=stack.config, env=client_env(stack)) \
        .step_functions().create(backend="worker")
    assert deployed.name == "NappingFlow" and deployed.production_token == "NappingFlow"
    quick = deployed.trigger(seconds=0)
    assert quick.name == quick.run_id.removeprefix("sfn-")
    found = quick.wait_for_run(check_interval=0.2, timeout=120)
    assert found.pathspec == quick.pathspec == f"NappingFlow/{quick.run_id}"
    assert quick.wait_for_completion(timeout=120, poll=0.25) == "SUCCEEDED" and quick.status == "SUCCEEDED"
    assert f"production:{deployed.production_token}" in quick.run.tags
    namespace(f"production:{deployed.production_token}")
    try:
        assert quick.run["start"].task.data.slept == 0
    finally:
        namespace(None)
    slow = deployed.trigger(seconds=300)
    slow.wait_for_run(check_interval=0.2, timeout=120)
    assert [r.run_id for r in deployed.list_runs(states=["RUNNING"])] == [slow.run_id]
    assert slow.terminate() is True
    assert slow.wait_for_completion(timeout=60, poll=0.25) == "ABORTED"
    assert [r.run_id for r in deployed.list_runs()] == [slow.run_id, quick.run_id]
    assert [r.run_id for r in deployed.list_runs(states=["SUCCEEDED", "ABORTED"])] == [slow.run_id, quick.run_id]
    assert [r.run_id for r in deployed.list_runs(states=["FAILED"])] == []
    with pytest.raises(ValueError, match="BOGUS"):
        deployed.list_runs(states=["BOGUS"])
    assert DeployedFlow.from_deployment("NappingFlow", config=stack.config).production_token == "NappingFlow"
    assert "NappingFlow" in [f.name for f in Deployer.list_deployed_flows(config=stack.config)]
    assert deployed.delete() is True
    assert deployed.production_token is None
    assert "NappingFlow" not in [f.name for f in Deployer.list_deployed_flows(config=stack.config)]


def test_a_stopped_branchs_batch_job_is_terminated_and_the_step_aborted(stack, api, tmp_path):
    flow = "StoppedBranchBatchFlow"
    source = STOPPED_BRANCH_FLOW.format(backend="Batch", quick_seconds=20)
    (tmp_path / "stopped_flow.py").write_text(textwrap.dedent(source))
    deploy_flow(stack, tmp_path / "stopped_flow.py", backend="batch")
    run_id = api.trigger(flow, {})["run_id"]
    answer = wait_for_run(api, flow, run_id, timeout=90)
    assert answer["status"] == "FAILED"
    assert answer["steps"]["broken"] == "FAILED" and answer["steps"]["quick"] == "ABORTED"
    assert answer["steps"]["slow"] == "ABORTED"
    deadline = time.monotonic() + 15  # well before the job's own 20 s would end it
    while not (jobs := batch_jobs(stack, f"{flow}-quick")) and time.monotonic() < deadline:
        time.sleep(0.5)  # batch_jobs lists ended jobs only
    (job,) = jobs
    assert job["status"] == "FAILED" and job["statusReason"] == "Step Functions execution stopped"
