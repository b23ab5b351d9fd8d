"""moto 5.2.5's Batch jobs run as local processes instead of Docker containers.

Owns: replacing `moto.batch.models.Job.run` (moto/batch/models.py:780, which
imports `docker` and starts a container; there is no daemon here and images
cannot be pulled) with a run that executes the job's command, with the job
definition's environment merged with the container overrides, as a child
process of the moto server. It keeps moto's own lifecycle fields
(SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING -> SUCCEEDED/FAILED,
`attempts`, the exit code, `attemptDurationSeconds` kills the process) and
writes stdout and stderr to CloudWatch Logs as Batch does: group
`/aws/batch/job`, stream `<job definition>/default/<job id>`.
Does not own: the Step Functions side (moto's interpreter already calls
Batch for `batch:submitJob.sync`), creating queues and definitions
(local/resources.py).

The image is not used: the command runs with this machine's Python on PATH.
A canary test (tests/functional/test_moto_batch_jobs.py) fails once stock
moto stops needing Docker here, so this patch can go.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from typing import Any

from moto import settings
from moto.batch.models import Job, JobStatus
from moto.core.utils import unix_time_millis

_STOCK_RUN = Job.run
_STOCK_CONTAINER_DETAILS = Job._container_details


def stock_run() -> Any:
    """moto's own Job.run, patched or not."""
    return _STOCK_RUN


def is_applied() -> bool:
    """True when this process runs Batch jobs as local processes."""
    return Job.run is _run_locally


def apply_patches() -> None:
    """Patch moto's Batch Job in this process; calling it again changes nothing."""
    Job.run = _run_locally  # type: ignore[method-assign]
    Job._container_details = _container_details  # type: ignore[method-assign]


def _container_details(job: Job) -> dict[str, Any]:
    # DescribeJobs on AWS carries container.exitCode; moto's full describe
    # (models.py:654) drops it, only describe_short has it.
    details = _STOCK_CONTAINER_DETAILS(job)
    if job.exit_code is not None:
        details["exitCode"] = job.exit_code
    return details


def _environment(job: Job) -> dict[str, str]:
    env = dict(os.environ)
    env.update({e["name"]: str(e["value"]) for e in job._get_container_property("environment", [])})
    env["AWS_BATCH_JOB_ID"] = job.job_id
    env["AWS_BATCH_JQ_NAME"] = job.job_queue.name
    env["AWS_BATCH_JOB_ATTEMPT"] = str(len(job.attempts))
    env.setdefault("MOTO_PORT", str(settings.moto_server_port()))
    return env


def _command(job: Job) -> list[str]:
    command = job._add_parameters_to_command(job._get_container_property("command", []))
    # A stock Python image's `python` is this machine's interpreter here.
    return [sys.executable if part in ("python", "python3") else part for part in command]


def _put_logs(job: Job, output: bytes, started_ms: int) -> None:
    job.log_stream_name = job._stream_name
    job._log_backend.ensure_log_group(job._log_group)
    job._log_backend.ensure_log_stream(job._log_group, job.log_stream_name)
    lines = [line for line in output.decode(errors="replace").splitlines() if line.strip()]
    events = [{"timestamp": started_ms + i, "message": line} for i, line in enumerate(lines)]
    if events:
        job._log_backend.put_log_events(job._log_group, job.log_stream_name, events)


def _run_locally(job: Job) -> None:
    try:
        job.status = JobStatus.PENDING
        if job.depends_on and not job._wait_for_dependencies():
            return
        job.status = JobStatus.RUNNABLE
        job.status = JobStatus.STARTING
        job.job_started_at = datetime.now()
        job.log_stream_name = job._stream_name
        job._start_attempt()
        job.status = JobStatus.RUNNING
        started_ms = int(unix_time_millis(job.job_started_at))
        duration = job._get_attempt_duration()
        deadline = time.monotonic() + duration if duration else None
        process = subprocess.Popen(
            _command(job), env=_environment(job), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        timed_out = False
        while process.poll() is None:
            if job.stop or (deadline is not None and time.monotonic() > deadline):
                timed_out = not job.stop
                process.kill()
                break
            time.sleep(0.05)
        output = process.communicate()[0]
        _put_logs(job, output, started_ms)
        job.exit_code = process.returncode
        if timed_out:
            job.job_stopped_reason = "Job attempt duration exceeded timeout"
        if job.latest_attempt is not None:
            job.latest_attempt["container"]["exitCode"] = process.returncode
        job._mark_stopped(success=process.returncode == 0 and not job.stop and not timed_out)
    except Exception as err:  # the job fails, the server lives on, as with moto's own run
        job.job_stopped_reason = f"flowdrop local Batch run failed: {err}"
        job._mark_stopped(success=False)
