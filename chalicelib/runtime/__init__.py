"""Running flows: the one task runner and the local scheduler over it.

`task_command` is how anything outside this package launches a task: the
local scheduler, the embedded stack's workers and the Batch job definition
all run the same `python flow.py step ...` command.
"""

from __future__ import annotations

import sys
from pathlib import Path

from flowdrop.model.task import TaskPayload


def task_command(
    flow_file: Path,
    payload: TaskPayload,
    output_file: Path | None = None,
    datastore_root: str | None = None,
    python: str | None = None,
    with_specs: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    origin_run_id: str | None = None,
    namespace: str | None = None,
    max_log_size: int | None = None,
    top_options: tuple[str, ...] = (),
) -> list[str]:
    """The argument list that runs one task through the task runner."""
    args = [python or sys.executable, str(flow_file), "--quiet", *top_options]
    for spec in with_specs:
        args += ["--with", spec]
    root = datastore_root or payload.datastore_root
    if root:
        args += ["--datastore-root", root]
    args += ["step", payload.step, "--run-id", payload.run_id, "--task-id", payload.task_id]
    if payload.parameters is not None:
        args += ["--parameters", payload.parameters]
    if payload.mode != "run":
        args += ["--mode", payload.mode]
    if payload.retry_count:
        args += ["--retry-count", str(payload.retry_count)]
    if payload.code_package:  # a production task records the package it runs from (the client's Task.code)
        args += ["--code-package", payload.code_package]
    if payload.input_paths is not None:  # after a switch, which tasks feed this one (Metaflow's option)
        args += ["--input-paths", ",".join(payload.input_paths)]
    if output_file is not None:
        args += ["--output-file", str(output_file)]
    for tag in tags:
        args += ["--tag", tag]
    if origin_run_id:
        args += ["--origin-run-id", origin_run_id]
    if namespace is not None:
        args += ["--namespace", namespace]
    if max_log_size is not None:
        args += ["--max-log-size", str(max_log_size)]
    return args


__all__ = ["task_command"]
