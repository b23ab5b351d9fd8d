"""What a task records about where it ran: its backend (Task.environment_info) and its code package (Task.code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowdrop.model.backends import WORKER_ENV, task_backend
from flowdrop.model.runs import run_record
from flowdrop.model.task import TaskPayload
from flowdrop.runtime import task_command


@pytest.mark.parametrize("environ, backend", [
    ({}, "local"),
    ({"AWS_BATCH_JOB_ID": "job-1"}, "batch"),
    ({"AWS_LAMBDA_FUNCTION_NAME": "flowdrop-task"}, "lambda"),
    ({WORKER_ENV: "worker", "AWS_LAMBDA_FUNCTION_NAME": "x"}, "worker"),
    ({WORKER_ENV: "nonsense"}, "local"),
])
def test_the_backend_is_read_from_what_each_one_sets(environ, backend):
    assert task_backend(environ) == backend


def test_a_production_tasks_command_carries_its_code_package_and_a_local_ones_none():
    url = "s3://b/packages/F/ab.tar.gz"
    args = task_command(Path("flow.py"), TaskPayload("F", "start", "sfn-1", code_package=url))
    assert args[args.index("--code-package") + 1] == url
    assert "--code-package" not in task_command(Path("flow.py"), TaskPayload("F", "start", "1"))


def test_run_json_names_the_code_package_only_when_there_is_one():
    with_package = run_record("F", "sfn-1", created="2026-01-01", user="ada", code_package="s3://b/p.tar.gz")
    assert with_package["code_package"] == "s3://b/p.tar.gz"
    assert "code_package" not in run_record("F", "1", created="2026-01-01", user="ada")
