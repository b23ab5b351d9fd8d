"""The local runtime end to end: real `python flow.py run` subprocesses, a real datastore."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from flowdrop import client
from flowdrop.codepackage.archive import extract_package
from flowdrop.datastore import FlowDatastore, open_storage
from tests.helpers.deployer import flow_package
from tests.helpers.runtime import EXAMPLES, TEST_FLOWS, run_flow

pytestmark = pytest.mark.slow


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "ds"
    client.set_datastore(str(root), production=None)
    client.namespace(None)
    yield root
    client.set_datastore(None)
    client.namespace(client.default_namespace())


def test_seed_parameter_flow_prints_alpha_and_client_reads_it(store):
    proc = run_flow(EXAMPLES / "parameter_flow.py", "run", "--alpha", "0.5", datastore=store)
    assert proc.returncode == 0, proc.stderr
    assert "alpha is 0.500000" in proc.stdout
    assert "alpha is still 0.500000" in proc.stdout
    run = client.Flow("ParameterFlow").latest_run
    assert run.successful and run.finished
    assert run.data.alpha == 0.5
    assert run["end"].task.data.alpha == 0.5
    assert "alpha is 0.500000" in run["start"].task.stdout


def test_live_output_is_prefixed_with_step_task_and_pid(store):
    proc = run_flow(EXAMPLES / "linear_flow.py", "run", "--base", "5", datastore=store)
    assert proc.returncode == 0, proc.stderr
    line = next(l for l in proc.stdout.splitlines() if "value is" in l)
    assert line.startswith("[end/end (pid ")
    assert "value is 11 after start -> double -> increment -> end" in line


def test_three_way_branch_merges_artifacts(store):
    proc = run_flow(EXAMPLES / "branch_flow.py", "run", datastore=store)
    assert proc.returncode == 0, proc.stderr
    data = client.Flow("BranchFlow").latest_run.data
    assert (data.a, data.b, data.c, data.shared, data.total_score) == (1, 2, 3, "from start", 60)
    assert "score" not in data  # excluded: the branches disagreed on it


def test_merge_conflict_without_exclude_fails_naming_the_artifact(store, tmp_path):
    flow = tmp_path / "conflict_flow.py"
    flow.write_text((EXAMPLES / "branch_flow.py").read_text().replace(
        "self.merge_artifacts(inputs, exclude=['score'])", "self.merge_artifacts(inputs)"))
    proc = run_flow(flow, "run", datastore=store)
    assert proc.returncode != 0
    assert "failed at step 'join'" in proc.stderr
    assert "score" in proc.stderr


@pytest.mark.parametrize("launcher", ["fork", "subprocess"])
def test_nested_foreach_4x3_joins_compute_sums(store, launcher):
    proc = run_flow(EXAMPLES / "nested_foreach_flow.py", "run", datastore=store,
                    env={"FLOWDROP_LAUNCHER": launcher})
    assert proc.returncode == 0, proc.stderr
    run = client.Flow("NestedForeachFlow").latest_run
    cells = sorted(t.id for t in run["cell"])
    assert cells == sorted(f"cell-{i}-{j}" for i in range(4) for j in range(3))
    row_sums = {t.id: t.data.row_sum for t in run["join_cols"]}
    assert row_sums == {f"join_cols-{i}": sum(i * 10 + j for j in range(3)) for i in range(4)}
    assert run.data.total == sum(i * 10 + j for i in range(4) for j in range(3))
    assert run.data.cells == [(i, j) for i in range(4) for j in range(3)]


def test_retry_succeeds_on_third_attempt_and_catch_continues(store):
    proc = run_flow(EXAMPLES / "decorated_flow.py", "run", datastore=store)
    assert proc.returncode == 0, proc.stderr
    run = client.Flow("DecoratedFlow").latest_run
    assert run.data.attempts == 3
    ds = FlowDatastore(open_storage(str(store)), "DecoratedFlow")
    statuses = [ds.read_attempt(run.id, "flaky", "flaky", a)["status"] for a in ds.list_attempts(run.id, "flaky", "flaky")]
    assert statuses == ["failed", "failed", "succeeded"]
    failure = run.data.risky_failure
    assert failure.exception_type == "ZeroDivisionError"
    assert "division by zero" in str(failure)
    assert "never_set" not in run.data


def test_with_retry_adds_retries_and_times_zero_opts_out(store):
    failed = run_flow(TEST_FLOWS / "retry_flow.py", "run", datastore=store)
    assert failed.returncode != 0
    assert "failed at step 'start'" in failed.stderr
    ok = run_flow(TEST_FLOWS / "retry_flow.py", "--with", "retry:times=1,minutes_between_retries=0", "run",
                  datastore=store)
    assert ok.returncode == 0, ok.stderr
    assert client.Flow("RetryFlow").latest_run.data.start_attempts == 2
    opted_out = run_flow(TEST_FLOWS / "retry_flow.py", "--with", "retry:minutes_between_retries=0", "run",
                         datastore=store, env={"BREAK_FRAGILE": "1"})
    assert opted_out.returncode != 0
    assert "failed at step 'fragile'" in opted_out.stderr


def test_timeout_kills_a_sleeping_step(store):
    started = datetime.now()
    proc = run_flow(TEST_FLOWS / "timeout_flow.py", "run", datastore=store, timeout=60)
    elapsed = (datetime.now() - started).total_seconds()
    assert proc.returncode != 0
    assert "failed at step 'start'" in proc.stderr
    assert "timed out after 1 s" in proc.stderr
    assert elapsed < 20


def test_max_workers_bounds_concurrency(store):
    proc = run_flow(TEST_FLOWS / "wide_flow.py", "run", "--max-workers", "2", datastore=store)
    assert proc.returncode == 0, proc.stderr
    run = client.Flow("WideFlow").latest_run
    assert run.data.values == list(range(6))
    ds = FlowDatastore(open_storage(str(store)), "WideFlow")
    spans = []
    for task_id in ds.list_tasks(run.id, "work"):
        meta = ds.read_done(run.id, "work", task_id)
        spans.append((datetime.fromisoformat(meta["started"]), datetime.fromisoformat(meta["finished"])))
    peak = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert peak <= 2


def test_bad_parameter_values_are_rejected_clearly(store):
    proc = run_flow(EXAMPLES / "linear_flow.py", "run", "--base", "abc", datastore=store)
    assert proc.returncode == 2
    assert "--base expects an integer: 'abc' is not an integer" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (store / "LinearFlow").exists()


def test_deploy_time_parameter_is_evaluated_at_run_start(store):
    proc = run_flow(EXAMPLES / "deployment_info_flow.py", "run", datastore=store,
                    env={"FLOWDROP_USER": "ada"})
    assert proc.returncode == 0, proc.stderr
    info = client.Flow("DeploymentInfoFlow").latest_run.data.info
    assert info["who"] == "ada"
    assert "This flow was deployed at %s by ada" % info["when"] in proc.stdout


def test_debug_flow_story_resume_reruns_only_the_failed_branch_onward(store):
    failed = run_flow(EXAMPLES / "debug_flow.py", "run", datastore=store)
    assert failed.returncode != 0
    assert "failed at step 'b'" in failed.stderr and "ValueError" in failed.stderr
    origin = client.Flow("DebugFlow").latest_run
    assert not origin.successful
    resumed = run_flow(EXAMPLES / "debug_flow.py", "resume", "--origin-run-id", origin.id, datastore=store,
                       env={"FIX_DEBUG_FLOW": "1"})
    assert resumed.returncode == 0, resumed.stderr
    assert "total is 3" in resumed.stdout
    run = client.Flow("DebugFlow").latest_run
    assert run.id != origin.id and run.successful
    ds = FlowDatastore(open_storage(str(store)), "DebugFlow")
    cloned = {s: ds.read_done(run.id, s, s).get("cloned_from") for s in ("start", "a", "b", "join", "end")}
    assert cloned["start"] == f"{origin.id}/start/start"
    assert cloned["a"] == f"{origin.id}/a/a"
    assert cloned["b"] is None and cloned["join"] is None and cloned["end"] is None
    assert "[a/a" not in resumed.stdout  # a was reused, not run again


def test_resume_from_a_production_run_in_s3(store, aws, unique_name, tmp_path):
    """The seed's story: a `sfn-...` run failed in production; resume it locally after the fix."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=unique_name)
    production = f"s3://{unique_name}/data"
    env = {"FLOWDROP_AWS_ENDPOINT": aws.endpoint_url}
    run_id = "sfn-5ca85f96-8c7a-4d0e-9a38-0e0b3c1d2f4a"
    flow = EXAMPLES / "debug_flow.py"
    # Production tasks run through the same runner: start, a, then b fails.
    for step in ("start", "a", "b"):
        proc = run_flow(flow, "step", step, "--run-id", run_id, "--task-id", step,
                        *(["--parameters", "{}"] if step == "start" else []), datastore=production, env=env)
        assert (proc.returncode == 0) == (step != "b"), proc.stderr
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"production_datastore": production, "aws_endpoint": aws.endpoint_url}))
    resumed = run_flow(flow, "resume", "--origin-run-id", run_id, datastore=store, config=config,
                       env={**env, "FIX_DEBUG_FLOW": "1"})
    assert resumed.returncode == 0, resumed.stderr
    assert "total is 3" in resumed.stdout
    run = client.Flow("DebugFlow").latest_run
    assert run.successful
    ds = FlowDatastore(open_storage(str(store)), "DebugFlow")
    assert ds.read_done(run.id, "a", "a")["cloned_from"] == f"{run_id}/a/a"
    assert run["a"].task.data.x == 1  # the artifact blob was copied from S3


def test_show_prints_the_graph(store):
    proc = run_flow(EXAMPLES / "branch_flow.py", "show", datastore=store)
    assert proc.returncode == 0, proc.stderr
    assert "fetch_a" in proc.stdout and "join" in proc.stdout


def test_catch_artifact_is_none_when_the_step_succeeds(store, tmp_path):
    flow = tmp_path / "catch_ok_flow.py"
    flow.write_text('''from flowdrop import FlowSpec, catch, step


class CatchOkFlow(FlowSpec):
    @catch(var='compute_failed')
    @step
    def start(self):
        self.value = 7
        self.next(self.end)

    @step
    def end(self):
        print('failed?', self.compute_failed)


if __name__ == '__main__':
    CatchOkFlow()
''')
    proc = run_flow(flow, "run", datastore=store)
    assert proc.returncode == 0, proc.stderr
    assert "failed? None" in proc.stdout
    assert client.Flow("CatchOkFlow").latest_run.data.compute_failed is None


def test_local_retries_start_at_once_despite_minutes_between_retries(store, tmp_path):
    flow = tmp_path / "slow_retry_flow.py"
    flow.write_text('''from flowdrop import FlowSpec, current, retry, step


class SlowRetryFlow(FlowSpec):
    @retry(times=1, minutes_between_retries=30)
    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError('once')
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    SlowRetryFlow()
''')
    proc = run_flow(flow, "run", datastore=store, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "retrying (attempt 2 of 2)" in proc.stderr


PROJECT_FLOW = '''from flowdrop import FlowSpec, current, project, step


@project(name='fraud')
class ProjFlow(FlowSpec):
    @step
    def start(self):
        self.seen = (current.project_name, current.branch_name, current.project_flow_name,
                     current.is_production, current.namespace)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    ProjFlow()
'''


def test_current_knows_the_project_branch_locally_and_in_production(store, tmp_path):
    local = tmp_path / "proj_flow.py"
    local.write_text(PROJECT_FLOW)
    proc = run_flow(local, "run", datastore=store, env={"FLOWDROP_USER": "ada"})
    assert proc.returncode == 0, proc.stderr
    assert client.Flow("ProjFlow").latest_run.data.seen == (
        "fraud", "user.ada", "fraud.user.ada.ProjFlow", False, "user:ada")
    # A task run from a deployed package: the manifest names the deployment.
    package = tmp_path / "package"
    built = flow_package(PROJECT_FLOW, file_name="proj_flow.py",
                         manifest_changes={"state_machine_name": "fraud.prod.ProjFlow"})
    extract_package(built.data, package / "code")
    (package / "manifest.json").write_text(json.dumps(built.manifest))
    proc = run_flow(package / "code" / "proj_flow.py", "step", "start", "--run-id", "sfn-abc", "--task-id", "start",
                    "--parameters", "{}", datastore=store)
    assert proc.returncode == 0, proc.stderr
    run = client.Run("ProjFlow/sfn-abc")
    assert run["start"].task.data.seen == (
        "fraud", "prod", "fraud.prod.ProjFlow", True, "production:fraud.prod.ProjFlow")
    assert "production:fraud.prod.ProjFlow" in run.tags


def test_catch_records_the_steps_failure_not_an_earlier_fallback_attempts(store):
    """A retried catch fallback's own failed attempt must not replace the step's exception."""
    proc = run_flow(EXAMPLES / "decorated_flow.py", "run", datastore=store)
    assert proc.returncode == 0, proc.stderr
    run = client.Flow("DecoratedFlow").latest_run
    ds = FlowDatastore(open_storage(str(store)), "DecoratedFlow")
    # Replay the fallback as Step Functions would after a failed first fallback attempt.
    ds.write_attempt(run.id, "risky", "risky", 2, {"status": "failed", "mode": "catch", "attempt": 2,
                                                   "exception_type": "OSError", "exception_message": "disk full"})
    proc = run_flow(EXAMPLES / "decorated_flow.py", "step", "risky", "--run-id", run.id, "--task-id", "risky",
                    "--mode", "catch", datastore=store)
    assert proc.returncode == 0, proc.stderr
    failure = client.Run(f"DecoratedFlow/{run.id}")["risky"].task.data.risky_failure
    assert failure.exception_type == "ZeroDivisionError" and failure.attempts == 1


def test_a_failing_deploy_time_function_is_a_message_naming_the_parameter(store, tmp_path):
    flow = tmp_path / "bad_default_flow.py"
    flow.write_text('''from flowdrop import FlowSpec, Parameter, step


def broken(context):
    raise KeyError('no such setting')


class BadDefaultFlow(FlowSpec):
    setting = Parameter('setting', default=broken)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    BadDefaultFlow()
''')
    proc = run_flow(flow, "run", datastore=store)
    assert proc.returncode == 2, proc.stderr
    assert "deploy-time parameter 'setting': its function raised KeyError" in proc.stderr
    assert "Traceback" not in proc.stderr
    given = run_flow(flow, "run", "--setting", "x", datastore=store)  # a given value skips the function
    assert given.returncode == 0, given.stderr


BAD_DEFINITIONS = {
    "cron": ("@schedule(cron='61 25 * * ? *')\nclass BadFlow(FlowSpec):\n", "", 4,
             "cron '61 25 * * ? *': minutes field '61' is out of range 0-59; hours field '25' is out of range 0-23"),
    "retry": ("class BadFlow(FlowSpec):\n", "    @retry(times='lots')\n", 5,
              "@retry(times='lots'): times must be a whole number from 0 to 10"),
}


@pytest.mark.parametrize("case", sorted(BAD_DEFINITIONS))
@pytest.mark.parametrize("command", [["run"], ["step-functions", "create"]])
def test_a_bad_decorator_argument_is_one_line_naming_file_and_line_not_a_traceback(tmp_path, case, command):
    header, start_decorator, line, message = BAD_DEFINITIONS[case]
    source = ("from flowdrop import FlowSpec, retry, schedule, step\n\n\n" + header + start_decorator
              + "    @step\n    def start(self):\n        self.next(self.end)\n\n"
              + "    @step\n    def end(self):\n        pass\n\n\nif __name__ == '__main__':\n    BadFlow()\n")
    flow = tmp_path / "bad_flow.py"
    flow.write_text(source)
    assert source.splitlines()[line - 1].lstrip().startswith("@")  # the line named is the decorator's
    proc = run_flow(flow, *command, datastore=tmp_path / "store")
    assert proc.returncode == 2  # the input was wrong, as for every other flow error
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"{flow}:{line}: {message}"]


def test_a_flow_whose_defaults_are_computed_at_import_runs_as_metaflows_tutorials_do(store, tmp_path):
    # Metaflow's 01-playlist tutorial: IncludeFile(default=script_path('movies.csv')), a call, not a literal.
    (tmp_path / "movies.csv").write_text("movie_title,genres\nAlien,Sci-Fi\nHeat,Crime\n")
    flow = tmp_path / "playlist_flow.py"
    flow.write_text('''import os

from flowdrop import FlowSpec, IncludeFile, Parameter, step


def script_path(filename):
    return os.path.join(os.path.dirname(__file__), filename)


class PlaylistFlow(FlowSpec):
    movie_data = IncludeFile('movie_data', default=script_path('movies.csv'))
    genre = Parameter('genre', default=os.environ.get('NO_SUCH_VARIABLE', 'Sci-Fi'))

    @step
    def start(self):
        rows = self.movie_data.splitlines()[1:]
        self.picks = [row.split(',')[0] for row in rows if self.genre in row]
        self.next(self.end)

    @step
    def end(self):
        print('picks', self.picks)


if __name__ == '__main__':
    PlaylistFlow()
''')
    proc = run_flow(flow, "run", datastore=store)
    assert proc.returncode == 0, proc.stderr
    run = client.Flow("PlaylistFlow").latest_run
    assert run.data.picks == ["Alien"] and run.data.genre == "Sci-Fi"
    again = run_flow(flow, "run", "--genre", "Crime", datastore=store)
    assert again.returncode == 0, again.stderr
    assert client.Flow("PlaylistFlow").latest_run.data.picks == ["Heat"]


def test_run_help_shows_each_parameter_with_its_type_and_default(store):
    proc = run_flow(EXAMPLES / "parameter_flow.py", "run", "--help", datastore=store)
    assert proc.returncode == 0, proc.stderr
    assert "--alpha FLOAT" in proc.stdout and "default: 0.01" in proc.stdout
