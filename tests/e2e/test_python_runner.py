"""Runner, Metaflow's Python API for local runs: run and resume a flow from Python and read what they made."""

from __future__ import annotations

import asyncio

import pytest

from flowdrop import ExecutingRun, Runner
from flowdrop.errors import FlowdropError
from tests.helpers.client import isolated_client  # noqa: F401  (autouse fixture)
from tests.helpers.runtime import EXAMPLES, TEST_FLOWS

pytestmark = pytest.mark.slow

RESUME_FLOW = TEST_FLOWS / "resume_foreach_flow.py"


def test_runner_runs_a_flow_with_parameters_and_reads_its_artifacts(tmp_path):
    store = tmp_path / "ds"
    with Runner(EXAMPLES / "parameter_flow.py", show_output=False, datastore_root=str(store),
                env={"FLOWDROP_USER": "ada"}) as runner:
        result = runner.run(alpha=0.25, max_workers=2, tags=["from-python", "nightly"])
        assert isinstance(result, ExecutingRun)
        assert result.status == "successful" and result.returncode == 0
        assert "alpha is 0.250000" in result.stdout
        run = result.run
        assert run.pathspec == f"ParameterFlow/{result.run_id}" and run.successful
        assert run["start"].task.data.alpha == 0.25 and {"from-python", "nightly"} <= run.user_tags
        assert "user:ada" in run.tags
    assert not runner._scratch.exists()  # the context manager removed the run-id and log files


def test_runner_resumes_a_failed_run_and_reuses_what_succeeded(tmp_path):
    store = tmp_path / "ds"
    runner = Runner(RESUME_FLOW, show_output=False, datastore_root=str(store))
    failed = runner.run()
    assert failed.status == "failed" and failed.returncode == 1
    assert "item 1 is broken" in failed.stderr
    assert not failed.run.successful
    fixed = Runner(RESUME_FLOW, show_output=False, datastore_root=str(store), env={"FIX_ITEM": "1"})
    resumed = fixed.resume(origin_run_id=failed.run_id)
    assert resumed.status == "successful", resumed.stderr
    run = resumed.run
    assert run.id != failed.run_id and run.data.total == 6
    assert run.origin_pathspec == f"ResumeForeachFlow/{failed.run_id}"
    inner = {t.id: t for t in run["inner"]}
    assert inner["inner-0"].origin_pathspec == f"ResumeForeachFlow/{failed.run_id}/inner/inner-0"
    assert inner["inner-1"].origin_pathspec is None  # the failed item ran again
    again = fixed.resume(origin_run_id=run.id, step_to_rerun="join")
    assert again.status == "successful" and again.run["start"].task.origin_pathspec is not None
    assert again.run["join"].task.origin_pathspec is None
    fixed.cleanup()
    runner.cleanup()


def test_async_run_returns_while_the_run_goes_on_and_wait_ends_it(tmp_path):
    async def scenario() -> ExecutingRun:
        async with Runner(EXAMPLES / "linear_flow.py", datastore_root=str(tmp_path / "ds")) as runner:
            executing = await runner.async_run()
            assert executing.run_id and executing.status in ("running", "successful")
            await executing.wait(timeout=120)
            return executing

    done = asyncio.run(scenario())
    assert done.status == "successful" and done.run.successful


def test_a_run_that_never_starts_says_why(tmp_path):
    runner = Runner(EXAMPLES / "parameter_flow.py", show_output=False, datastore_root=str(tmp_path / "ds"))
    with pytest.raises(FlowdropError) as err:
        runner.run(alpha="not-a-number")
    assert "never started" in str(err.value) and "alpha" in str(err.value)
    runner.cleanup()
