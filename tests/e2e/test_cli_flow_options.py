"""Metaflow's command line on real runs: `python flow.py [top-level options] run|resume|logs|dump|tag ...`."""

from __future__ import annotations

import pickle

import pytest

from flowdrop.client import Flow, Run, namespace, set_datastore
from flowdrop.model.version import __version__
from tests.helpers.client import isolated_client  # noqa: F401  (autouse fixture)
from tests.helpers.runtime import EXAMPLES, TEST_FLOWS, run_flow

pytestmark = pytest.mark.slow

ENV = {"FLOWDROP_USER": "ada"}


def _run(flow: str, *args: str, store, env: dict | None = None, folder=EXAMPLES):
    return run_flow(folder / flow, *args, datastore=store, env={**ENV, **(env or {})})


def _latest(store, flow_name: str) -> Run:
    set_datastore(str(store), production=None)
    namespace(None)
    return Flow(flow_name).latest_run


def test_no_pylint_and_max_num_splits_as_the_metaflow_suite_types_them(tmp_path):
    run_id_file = tmp_path / "run-id"
    proc = run_flow(EXAMPLES / "foreach_flow.py", "--no-pylint", "run", "--max-workers=16", "--max-num-splits=10000",
                    "--tag=core", "--tag", "ünïcode 🚀", "--run-id-file", str(run_id_file),
                    datastore=tmp_path / "ds", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert "pyflakes" not in proc.stdout + proc.stderr
    run = _latest(tmp_path / "ds", "ForeachFlow")
    assert run.id == run_id_file.read_text()
    assert {"core", "ünïcode 🚀"} == set(run.user_tags) and "user:ada" in run.system_tags
    assert run["end"].task["total"].data == 30


def test_a_foreach_wider_than_max_num_splits_fails_naming_step_width_and_option(tmp_path):
    proc = _run("foreach_flow.py", "run", "--max-num-splits", "3", store=tmp_path / "ds")
    assert proc.returncode == 1
    assert ("the foreach in step 'start' made 5 splits, more than the maximum of 3; raise it with --max-num-splits"
            in proc.stderr)
    assert "square" not in _latest(tmp_path / "ds", "ForeachFlow")  # no body task started


def test_pylint_is_the_default_and_an_error_stops_the_run_listing_where(tmp_path):
    proc = _run("lint_error_flow.py", "run", store=tmp_path / "ds", folder=TEST_FLOWS)
    assert proc.returncode == 1
    assert "lint_error_flow.py:15:" in proc.stderr and "undefined name 'undefined_total'" in proc.stderr
    assert "say --no-pylint" in proc.stderr
    assert "imported but unused" not in proc.stdout + proc.stderr  # warnings do not stop a run
    assert not (tmp_path / "ds" / "LintErrorFlow").exists()
    # --no-pylint runs it anyway (and the step then fails on the name, as Python says).
    proc = _run("lint_error_flow.py", "--no-pylint", "run", store=tmp_path / "ds", folder=TEST_FLOWS)
    assert proc.returncode == 1 and "NameError" in proc.stderr


def test_check_lists_warnings_on_request(tmp_path):
    proc = _run("lint_error_flow.py", "check", "--warnings", store=tmp_path / "ds", folder=TEST_FLOWS)
    assert proc.returncode == 1
    assert "'os' imported but unused" in proc.stdout + proc.stderr
    good = _run("linear_flow.py", "check", store=tmp_path / "ds")
    assert good.returncode == 0 and "Pyflakes is happy!" in good.stderr


def test_quiet_prints_no_progress(tmp_path):
    proc = _run("linear_flow.py", "--quiet", "run", store=tmp_path / "ds")
    assert proc.returncode == 0, proc.stderr
    assert "Workflow starting" not in proc.stdout and "Validating" not in proc.stderr and "Done!" not in proc.stdout


def test_datastore_local_with_datastore_root_and_metadata_local(tmp_path):
    root = tmp_path / "root"
    proc = run_flow(EXAMPLES / "linear_flow.py", "--datastore-root", str(root), "--metadata", "local", "run",
                    datastore="local", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert _latest(root, "LinearFlow").successful
    bad = run_flow(EXAMPLES / "linear_flow.py", "--metadata", "service", "run", datastore="local", env=ENV)
    assert bad.returncode == 2 and "'service' is not 'local'" in bad.stderr


def test_datastore_s3_needs_an_s3_root(tmp_path):
    proc = run_flow(EXAMPLES / "linear_flow.py", "--datastore-root", str(tmp_path), "run", datastore="s3", env=ENV)
    assert proc.returncode == 2
    assert "--datastore s3 needs an s3:// location" in proc.stderr


def test_max_log_size_keeps_the_tail_of_a_long_log(tmp_path):
    proc = _run("chatty_flow.py", "run", "--max-log-size", "1", store=tmp_path / "ds", folder=TEST_FLOWS,
                env={"CHATTY_BYTES": str(3 * 1024 * 1024)})
    assert proc.returncode == 0, proc.stderr
    stdout = _latest(tmp_path / "ds", "ChattyFlow")["start"].task.stdout
    assert len(stdout.encode()) < 1024 * 1024 + 200
    assert stdout.startswith("[flowdrop: output truncated:") and stdout.endswith("the last line\n")


def test_namespace_sets_what_the_steps_client_sees(tmp_path):
    proc = _run("chatty_flow.py", "run", "--namespace", "team:x", store=tmp_path / "ds", folder=TEST_FLOWS)
    assert proc.returncode == 0, proc.stderr
    run = _latest(tmp_path / "ds", "ChattyFlow")
    assert run["start"].task["seen_namespace"].data == "team:x"
    everything = _run("chatty_flow.py", "run", "--namespace=", store=tmp_path / "ds", folder=TEST_FLOWS)
    assert everything.returncode == 0, everything.stderr
    assert _latest(tmp_path / "ds", "ChattyFlow")["start"].task["seen_namespace"].data is None


def test_logs_and_dump_read_a_run(tmp_path):
    store = tmp_path / "ds"
    assert _run("chatty_flow.py", "run", "--tag", "t1", store=store, folder=TEST_FLOWS).returncode == 0
    run_id = _latest(store, "ChattyFlow").id
    logs = _run("chatty_flow.py", "logs", f"{run_id}/end", store=store, folder=TEST_FLOWS)
    assert logs.returncode == 0 and logs.stdout == "to stderr\n"  # both streams by default, as Metaflow
    assert logs.stderr.splitlines()[1:] == [f"Dumping logs of ChattyFlow/{run_id}/end/end", "stdout", "stderr"]
    logs = _run("chatty_flow.py", "--quiet", "logs", "--stdout", f"{run_id}/start", store=store, folder=TEST_FLOWS)
    assert logs.returncode == 0 and logs.stdout.endswith("the last line\n") and logs.stderr == ""
    err = _run("chatty_flow.py", "logs", "--stderr", f"{run_id}/end/end", store=store, folder=TEST_FLOWS)
    assert err.returncode == 0 and err.stdout == "to stderr\n"
    dump = _run("chatty_flow.py", "dump", f"{run_id}/start", store=store, folder=TEST_FLOWS)
    assert dump.returncode == 0 and "seen_namespace: 'user:ada'" in dump.stdout
    out = tmp_path / "dump.pkl"
    dump = _run("chatty_flow.py", "dump", "--include", "tags_seen", "--file", str(out), f"{run_id}/start",
                store=store, folder=TEST_FLOWS)
    assert dump.returncode == 0, dump.stderr
    assert pickle.loads(out.read_bytes()) == {f"{run_id}/start/start": {"tags_seen": ["t1"]}}  # Metaflow keys it run/step/task
    missing = _run("chatty_flow.py", "logs", f"{run_id}/nosuch", store=store, folder=TEST_FLOWS)
    assert missing.returncode == 1 and f"Step('ChattyFlow/{run_id}/nosuch') does not exist" in missing.stderr


def test_tag_add_remove_replace_list(tmp_path):
    store = tmp_path / "ds"
    assert _run("linear_flow.py", "run", "--tag", "keep", store=store).returncode == 0
    run_id = _latest(store, "LinearFlow").id
    add = _run("linear_flow.py", "tag", "add", "--run-id", run_id, "new", "ünï", store=store)
    assert add.returncode == 0, add.stderr
    assert "user tags:   keep, new, ünï" in add.stdout
    replace = _run("linear_flow.py", "tag", "replace", "--run-id", run_id, "--remove", "new", "--add", "newer",
                   store=store)
    assert replace.returncode == 0 and "user tags:   keep, newer, ünï" in replace.stdout
    system = _run("linear_flow.py", "tag", "remove", "--run-id", run_id, "user:ada", store=store)
    assert system.returncode == 1 and "cannot remove system tag(s) user:ada" in system.stderr
    listed = _run("linear_flow.py", "tag", "list", "--hide-system-tags", store=store)
    assert listed.returncode == 0 and f"{run_id}: keep, newer, ünï" in listed.stdout
    everything = _run("linear_flow.py", "tag", "list", store=store)
    assert everything.returncode == 0 and "runtime:dev" in everything.stdout and "user:ada" in everything.stdout
    assert _latest(store, "LinearFlow").user_tags == {"keep", "newer", "ünï"}
    too_long = _run("linear_flow.py", "tag", "add", "--run-id", run_id, "x" * 501, store=store)
    assert too_long.returncode == 1 and "a tag is at most 500 characters" in too_long.stderr


def test_the_metaflow_core_suites_top_options_and_tag_list_flat(tmp_path):
    # test/core's contexts.json passes these; its checker reads `tag list --flat` from stderr, after one banner line.
    top = ["--metadata=local", "--environment=local", "--event-logger=nullSidecarLogger", "--no-pylint"]
    proc = run_flow(EXAMPLES / "linear_flow.py", *top, "--quiet", "run", "--tag=刺身 means sashimi",
                    "--tag=multiple tags should be ok", datastore=tmp_path / "ds", env=ENV)
    assert proc.returncode == 0, proc.stderr
    run_id = _latest(tmp_path / "ds", "LinearFlow").id
    listed = run_flow(EXAMPLES / "linear_flow.py", *top, "tag", "list", "--flat", "--hide-system-tags",
                      "--run-id", run_id, datastore=tmp_path / "ds", env=ENV)
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.splitlines()[0] == f"flowdrop {__version__} executing LinearFlow for user:ada"
    assert frozenset(listed.stderr.splitlines()[1:]) == {"刺身 means sashimi", "multiple tags should be ok"}


def test_run_parameters_come_from_flowdrop_run_env_vars(tmp_path):
    proc = _run("foreach_flow.py", "run", store=tmp_path / "ds", env={"FLOWDROP_RUN_WIDTH": "2"})
    assert proc.returncode == 0, proc.stderr
    assert _latest(tmp_path / "ds", "ForeachFlow").data.total == 0 + 1


@pytest.mark.parametrize("launcher", ["fork", "subprocess"])
def test_a_task_that_dies_keeps_what_it_printed_and_says_how_it_died(tmp_path, launcher):
    proc = _run("segfault_flow.py", "run", store=tmp_path / "ds", folder=TEST_FLOWS, env={"FLOWDROP_LAUNCHER": launcher})
    assert proc.returncode == 1
    assert "failed at step 'end' (task end): flowdrop: task end/end was killed by SIGSEGV (segmentation fault)" in proc.stderr
    task = _latest(tmp_path / "ds", "SegfaultFlow")["end"].task
    assert "Crash and burn!" in task.stdout and "segmentation fault" in task.stderr
    assert task.finished and not task.successful


def test_dump_of_a_task_pathspec_shows_that_task_only(tmp_path):
    store = tmp_path / "ds"
    assert _run("foreach_flow.py", "run", "--width", "3", store=store).returncode == 0
    run_id = _latest(store, "ForeachFlow").id
    dump = _run("foreach_flow.py", "dump", f"{run_id}/square/square-1", store=store)
    assert dump.returncode == 0, dump.stderr
    # That task's artifacts (those it inherited from start too), not square-0's or square-2's.
    assert dump.stdout.splitlines() == ["item: 1", "items: [0, 1, 2]", "squared: 1", "width: 3"]
    assert f"Artifacts of ForeachFlow/{run_id}/square/square-1:" in dump.stderr and "square-0" not in dump.stderr
    out = tmp_path / "dump.pkl"
    dump = _run("foreach_flow.py", "dump", "--file", str(out), f"{run_id}/square/square-2", store=store)
    assert dump.returncode == 0, dump.stderr
    assert pickle.loads(out.read_bytes()) == {
        f"{run_id}/square/square-2": {"item": 2, "items": [0, 1, 2], "squared": 4, "width": 3}}
    whole_step = _run("foreach_flow.py", "dump", f"{run_id}/square", store=store)
    assert whole_step.returncode == 0 and whole_step.stdout.count("squared: ") == 3
