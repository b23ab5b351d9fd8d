"""What a production run's Batch jobs printed, from their CloudWatch log streams (`flowdrop logs --batch`).

Owns: finding the Batch jobs of one run (the job ids Step Functions recorded
when it submitted them, in the execution's history and in the histories of
its Distributed Map child executions), which task each job was (the
container overrides the compiled state machine gave it: FLOWDROP_STEP,
FLOWDROP_INDICES, FLOWDROP_MODE, FLOWDROP_RETRY_COUNT), and reading each
job's log stream (group /aws/batch/job). This is the output of the whole
container: a job whose bootstrap failed (the code package unreadable, an
import error before the task started) has no logs in the datastore, only
here. Does not own: the datastore's task logs (operations.task_logs) or
printing (operator.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flowdrop.errors import TaskError
from flowdrop.model.task import payload_from_batch_environment

LOG_GROUP = "/aws/batch/job"
_DESCRIBE_BATCH = 100  # DescribeJobs takes at most 100 job ids
_LOG_PAGES = 100  # GetLogEvents pages read per stream at most (10,000 lines each on AWS)


@dataclass(frozen=True)
class BatchJob:
    """One Batch job of a run, and the task it ran."""

    job_id: str
    step: str
    task_id: str  # the id its task has in the datastore
    indices: tuple[int, ...]
    mode: str  # "run", or "catch" for a @catch fallback
    attempt: int
    status: str
    status_reason: str
    exit_code: int | None
    log_stream: str | None

    @property
    def label(self) -> str:
        where = self.step + "".join(f"[{i}]" for i in self.indices)
        extra = [f"attempt {self.attempt}"] + (["@catch fallback"] if self.mode == "catch" else [])
        ended = f", exit code {self.exit_code}" if self.exit_code is not None else ""
        return f"{where} ({', '.join(extra)}): job {self.job_id} {self.status}{ended}" + (
            f": {self.status_reason}" if self.status_reason and self.status == "FAILED" else "")


def report(config: Any, flow: str, run_id: str, step: str | None = None, task_index: str | None = None) -> list[str]:
    """The lines `flowdrop logs RUN [STEP] --batch` prints: each job's heading, then its log stream."""
    from flowdrop.cli.api_client import ApiClient

    execution_arn = ApiClient.from_config(config).get_run(flow, run_id, steps=False).get("execution_arn")
    if not execution_arn:
        return [f"No execution for {flow}/{run_id}."]
    jobs = [job for job in run_jobs(config.aws.client("stepfunctions"), config.aws.client("batch"), execution_arn)
            if step is None or job.step == step]
    if task_index is not None:
        jobs = [job for job in jobs if task_index == job.task_id]
    if not jobs:
        where = f"{flow}/{run_id}" + (f"/{step}" if step else "") + (f"/{task_index}" if task_index else "")
        return [f"No Batch jobs of {where} (its tasks ran on another backend, or none started yet)."]
    logs = config.aws.client("logs")
    lines: list[str] = []
    for job in jobs:
        lines.append(f"== {flow}/{run_id}/{job.step}/{job.task_id}  {job.label}")
        lines.extend(log_lines(logs, job.log_stream) if job.log_stream else ["(no log stream: the job never started)"])
    return lines


def submitted_job_ids(events: list[Mapping[str, Any]]) -> list[str]:
    """The Batch job ids of an execution's history, in submission order (pure)."""
    ids: list[str] = []
    for event in events:
        details = event.get("taskSubmittedEventDetails") or {}
        if details.get("resourceType") != "batch":
            continue
        try:
            job_id = json.loads(details.get("output") or "{}").get("JobId")
        except (TypeError, ValueError, AttributeError):
            continue
        if job_id and job_id not in ids:
            ids.append(str(job_id))
    return ids


def job_of(described: Mapping[str, Any]) -> BatchJob:
    """A BatchJob from DescribeJobs' description of it (pure)."""
    container = described.get("container") or {}
    env = {e.get("name"): e.get("value") for e in container.get("environment") or []}
    step = str(env.get("FLOWDROP_STEP") or "?")
    try:
        payload = payload_from_batch_environment(env)
        indices, task_id = payload.indices, payload.task_id
    except (TaskError, TypeError, ValueError, KeyError):  # not a flowdrop task's job, or overrides cut short
        indices, task_id = (), step
    try:
        attempt = int(env.get("FLOWDROP_RETRY_COUNT") or 0)
    except ValueError:
        attempt = 0
    return BatchJob(job_id=str(described.get("jobId")), step=step, task_id=task_id, indices=indices,
                    mode=str(env.get("FLOWDROP_MODE") or "run"), attempt=attempt,
                    status=str(described.get("status") or "?"), status_reason=str(described.get("statusReason") or ""),
                    exit_code=container.get("exitCode"), log_stream=container.get("logStreamName"))


def run_jobs(sfn: Any, batch: Any, execution_arn: str) -> list[BatchJob]:
    """Every Batch job of the execution (and its Distributed Map children), oldest first."""
    ids: list[str] = []
    for events in _histories(sfn, execution_arn):
        ids.extend(i for i in submitted_job_ids(events) if i not in ids)
    jobs: list[BatchJob] = []
    for start in range(0, len(ids), _DESCRIBE_BATCH):
        described = batch.describe_jobs(jobs=ids[start:start + _DESCRIBE_BATCH])["jobs"]
        by_id = {d["jobId"]: d for d in described}
        jobs.extend(job_of(by_id[i]) for i in ids[start:start + _DESCRIBE_BATCH] if i in by_id)
    return jobs


def log_lines(logs: Any, stream: str) -> list[str]:
    """Every message of one log stream, oldest first."""
    lines: list[str] = []
    token = None
    for _ in range(_LOG_PAGES):
        kwargs = {"nextToken": token} if token else {}
        try:
            page = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream, startFromHead=True, **kwargs)
        except logs.exceptions.ResourceNotFoundException:  # the stream is not made yet: the job never started
            return lines
        lines.extend(str(e.get("message", "")) for e in page.get("events") or [])
        # GetLogEvents has no boto3 paginator: it ends when the forward token comes back unchanged.
        if not page.get("events") or page.get("nextForwardToken") in (None, token):
            return lines
        token = page["nextForwardToken"]
    return lines


def _histories(sfn: Any, execution_arn: str) -> Iterator[list[Mapping[str, Any]]]:
    """The execution's history, then each Distributed Map child execution's."""
    yield _history(sfn, execution_arn)
    try:
        map_runs = [run for page in sfn.get_paginator("list_map_runs").paginate(executionArn=execution_arn)
                    for run in page.get("mapRuns") or []]
    except Exception:  # noqa: BLE001 - no map runs to read (or none the service lists): the parent's jobs stand
        return
    for map_run in map_runs:
        for page in sfn.get_paginator("list_executions").paginate(mapRunArn=map_run["mapRunArn"]):
            for child in page.get("executions") or []:
                yield _history(sfn, child["executionArn"])


def _history(sfn: Any, execution_arn: str) -> list[Mapping[str, Any]]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page.get("events") or []]
