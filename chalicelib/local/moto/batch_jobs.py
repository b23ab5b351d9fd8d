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
Also owns: the one gap on the Step Functions side. moto's interpreter calls
Batch for `batch:submitJob.sync`, but its StateTaskService leaves
`_normalise_parameters` / `_normalise_response` empty (state_task_service.py:208-222),
so SubmitJob receives the ASL's PascalCase keys (`JobName`, ...) that the
Batch API does not know, and the sync resolver's `submission["JobId"]` fails
(`States.Runtime 'JobName'`). The patch maps the parameters to the Batch API's
own member names and the responses back to Step Functions' PascalCase, as
AWS does, with botocore's model of the Batch API. And the batch backend's
foreach path reads the task's done.json with `aws-sdk:s3:getObject`, whose
`Body` moto hands to the state machine as an unread botocore stream
(state_task_service_aws_sdk.py:128 never normalises the response), so
`States.StringToJson($.Body)` fails; AWS gives the body as a string.
A `.sync` task waits on its job's thread in this process instead of asking
DescribeJobs every poll (the answer is still DescribeJobs', once the job ended).
DescribeJobs no longer fails when a job is submitted while it answers (moto walked its job
table as it grew: HTTP 500, then States.Runtime KeyError('RequestId') in the interpreter).
And a `.sync` Batch task whose execution is stopped leaves its job running in
moto (the wait loop just ends, state_task_service_callback.py:141); AWS
terminates the job. Here it is terminated too.
A job's process is killed with moto if moto dies (Linux's parent-death signal).
At most FLOWDROP_BATCH_MAX_JOBS jobs (the stack's task slots; default 4) run at once, as a compute
environment's vCPUs bound it on AWS: the others stay RUNNABLE until a slot frees (without it a
100-way foreach started 100 interpreters at once on two cores, and the API timed out meanwhile).
Does not own: creating queues and definitions (local/resources.py).

The image is not used: the command runs with this machine's Python on PATH.
A canary test (tests/functional/test_moto_batch_jobs.py) fails once stock
moto stops needing Docker here, so this patch can go.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from typing import Any

from moto import settings
import botocore.session
from moto.batch.models import BatchBackend, Job, JobStatus
from moto.core.utils import unix_time_millis
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
    StateTaskServiceBatch,
)

_STOCK_RUN = Job.run
_STOCK_CONTAINER_DETAILS = Job._container_details
_STOCK_NORMALISE = (StateTaskServiceBatch._normalise_parameters, StateTaskServiceBatch._normalise_response)
_STOCK_SDK_NORMALISE = StateTaskServiceAwsSdk._normalise_response
_STOCK_BUILD_SYNC = StateTaskServiceBatch._build_sync_resolver
_STOCK_EVAL_SYNC = StateTaskServiceBatch._eval_sync
_STOCK_DESCRIBE_JOBS = BatchBackend.describe_jobs
_BATCH_MODEL = None
MAX_JOBS_ENV = "FLOWDROP_BATCH_MAX_JOBS"
DEFAULT_MAX_JOBS = 4
_SLOTS: threading.Semaphore | None = None
_SLOTS_LOCK = threading.Lock()
# How often a `.sync` task asks Batch whether its job ended (moto: 0.5 s,
# state_task_service_callback.py:49, paid at the end of every task).
SYNC_POLL_SECONDS = 0.1
# How long one look of a `.sync` task waits on its job's thread (a stopped execution's job is
# terminated at most this late). Waiting on the thread, not polling DescribeJobs: a 100-way
# foreach of jobs polled every 0.1 s was 1,000 requests a second into moto.
SYNC_WAIT_SECONDS = 1.0


def stock_run() -> Any:
    """moto's own Job.run, patched or not."""
    return _STOCK_RUN


def stock_normalisers() -> tuple[Any, Any]:
    """moto's own StateTaskServiceBatch._normalise_parameters and _normalise_response."""
    return _STOCK_NORMALISE


def is_applied() -> bool:
    """True when this process runs Batch jobs as local processes."""
    return Job.run is _run_locally


def apply_patches() -> None:
    """Patch moto's Batch Job in this process; calling it again changes nothing."""
    Job.run = _run_locally  # type: ignore[method-assign]
    Job._container_details = _container_details  # type: ignore[method-assign]
    StateTaskServiceBatch._normalise_parameters = _normalise_parameters  # type: ignore[method-assign]
    StateTaskServiceBatch._normalise_response = _normalise_response  # type: ignore[method-assign]
    StateTaskServiceAwsSdk._normalise_response = _read_streams  # type: ignore[method-assign]
    state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK = SYNC_POLL_SECONDS
    StateTaskServiceBatch._build_sync_resolver = _build_sync_resolver  # type: ignore[method-assign]
    StateTaskServiceBatch._eval_sync = _eval_sync  # type: ignore[method-assign]
    BatchBackend.describe_jobs = _describe_jobs  # type: ignore[method-assign]


def stock_describe_jobs() -> Any:
    """moto's own BatchBackend.describe_jobs."""
    return _STOCK_DESCRIBE_JOBS


def _describe_jobs(self: BatchBackend, jobs: list[str] | None) -> list[dict[str, Any]]:
    # Stock (batch/models.py:1972-1988) walks self._jobs while describing each job, so a SubmitJob
    # landing meanwhile (a foreach's iterations submit while others ask DescribeJobs) raised
    # "dictionary changed size during iteration": HTTP 500, and moto's interpreter, reading the
    # error's RequestId, failed the run with States.Runtime KeyError('RequestId'). Same answer, from
    # a copy of the jobs taken at once (list() of a dict does not let another thread in).
    wanted = set(jobs or ())
    return [job.describe() for key, job in list(self._jobs.items())
            if not wanted or key in wanted or job.arn in wanted]


def _build_sync_resolver(self: StateTaskServiceBatch, env: Any, resource_runtime_part: Any,
                         normalised_parameters: dict, state_credentials: Any) -> Any:
    job_id = env.stack[-1].get("JobId") if env.stack and isinstance(env.stack[-1], dict) else None
    resolve = _STOCK_BUILD_SYNC(self, env=env, resource_runtime_part=resource_runtime_part,
                                normalised_parameters=normalised_parameters, state_credentials=state_credentials)

    account, region = resource_runtime_part.account, resource_runtime_part.region

    def resolver() -> Any:
        # moto runs each job on its own thread (Job is a threading.Thread): wait on it here instead
        # of a DescribeJobs request every poll; ask Batch once the job's thread has ended.
        job = _job(account, region, job_id)
        if job is not None and job.is_alive():
            job.join(timeout=SYNC_WAIT_SECONDS)
            if job.is_alive():
                return None
        return resolve()

    resolver.job_id = job_id  # type: ignore[attr-defined]
    resolver.region = resource_runtime_part.region  # type: ignore[attr-defined]
    return resolver


def _job(account: str, region: str, job_id: str | None) -> Job | None:
    """moto's own Job object (None when it is not this process's: then the stock polling answers)."""
    if not job_id:
        return None
    from moto.batch.models import batch_backends

    try:
        return batch_backends[account][region].get_job_by_id(job_id)
    except Exception:  # noqa: BLE001 - an unknown account or region: DescribeJobs says what is wrong
        return None


def _eval_sync(self: StateTaskServiceBatch, env: Any, timeout_seconds: Any, callback_endpoint: Any,
               heartbeat_endpoint: Any, sync_resolver: Any) -> Any:
    try:
        return _STOCK_EVAL_SYNC(self, env=env, timeout_seconds=timeout_seconds, callback_endpoint=callback_endpoint,
                                heartbeat_endpoint=heartbeat_endpoint, sync_resolver=sync_resolver)
    finally:
        job_id = getattr(sync_resolver, "job_id", None)
        if job_id and not env.is_running():  # the execution was stopped while its job ran
            from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

            try:
                boto_client_for(region=sync_resolver.region, service="batch").terminate_job(
                    jobId=job_id, reason="Step Functions execution stopped")
            except Exception:  # noqa: BLE001 - the job may have ended meanwhile
                pass


def _read_streams(self: StateTaskServiceAwsSdk, response: Any, boto_service_name: str | None = None,
                  service_action_name: str | None = None) -> None:
    # S3 GetObject's Body (and any other streamed member) as the text AWS puts in the state.
    if isinstance(response, dict):
        for key, value in list(response.items()):
            if hasattr(value, "read") and callable(value.read):
                response[key] = value.read().decode("utf-8", errors="replace")


def _operation(action: str) -> Any:
    global _BATCH_MODEL
    if _BATCH_MODEL is None:
        _BATCH_MODEL = botocore.session.get_session().get_service_model("batch")
    names = {name.lower(): name for name in _BATCH_MODEL.operation_names}
    return _BATCH_MODEL.operation_model(names[action.replace("_", "").lower()])


def _normalise_parameters(self: StateTaskServiceBatch, parameters: dict, boto_service_name: str | None = None,
                          service_action_name: str | None = None) -> None:
    # SubmitJob's ASL keys (JobName, ContainerOverrides.Environment[].Name) -> jobName, environment[].name
    action = service_action_name or self.resource.api_action
    self._to_boto_request(parameters, _operation(action).input_shape)


def _normalise_response(self: StateTaskServiceBatch, response: Any, boto_service_name: str | None = None,
                        service_action_name: str | None = None) -> None:
    # jobId -> JobId, as Step Functions hands Batch results to the state machine on AWS
    action = service_action_name or self.resource.api_action
    self._from_boto_response(response, _operation(action).output_shape)


def _container_details(job: Job) -> dict[str, Any]:
    # DescribeJobs on AWS carries container.exitCode; moto's full describe
    # (models.py:654) drops it, only describe_short has it.
    # Nor resourceRequirements: AWS gives the definition's, each type replaced by
    # the submission's override (moto reads only the old vcpus/memory keys).
    details = _STOCK_CONTAINER_DETAILS(job)
    if job.exit_code is not None:
        details["exitCode"] = job.exit_code
    merged = {r["type"]: r for r in job.job_definition.container_properties.get("resourceRequirements") or []}
    merged.update({r["type"]: r for r in job.container_overrides.get("resourceRequirements") or []})
    if merged:
        details["resourceRequirements"] = [merged[t] for t in sorted(merged)]
    return details


def _environment(job: Job) -> dict[str, str]:
    env = dict(os.environ)
    env.update({e["name"]: str(e["value"]) for e in job._get_container_property("environment", [])})
    env["AWS_BATCH_JOB_ID"] = job.job_id
    env["AWS_BATCH_JQ_NAME"] = job.job_queue.name
    env["AWS_BATCH_JOB_ATTEMPT"] = str(len(job.attempts))
    env.setdefault("MOTO_PORT", str(settings.moto_server_port()))
    # A stock Python image's `python` is this machine's interpreter here, also
    # for a shell command that finds it on PATH.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


def _command(job: Job) -> list[str]:
    command = job._add_parameters_to_command(job._get_container_property("command", []))
    return _dies_with_moto([sys.executable if part in ("python", "python3") else part for part in command])


# The job's process asks Linux to SIGKILL it when moto (the thread that started
# it, which waits for it) dies, then becomes the command. A moto server killed
# outright cannot stop its jobs itself: without this they would run on,
# orphaned, talking to an endpoint that is gone. If moto died before the
# request took hold, the job ends at once. The launcher's interpreter starts
# isolated and without site (-I -S): it needs only the standard library, and
# the site step (this venv's .pth files) was a third of its ~65 ms of CPU per
# job. The command it becomes gets the job's environment untouched.
_LAUNCHER = ("import ctypes, os, signal, sys; ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL); "
             "os.getppid() == int(sys.argv[1]) or os._exit(137); os.execvp(sys.argv[2], sys.argv[2:])")


def _dies_with_moto(command: list[str]) -> list[str]:
    if not sys.platform.startswith("linux") or not command:
        return command
    return [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(os.getpid()), *command]


def _put_logs(job: Job, output: bytes, started_ms: int) -> None:
    job.log_stream_name = job._stream_name
    job._log_backend.ensure_log_group(job._log_group)
    job._log_backend.ensure_log_stream(job._log_group, job.log_stream_name)
    lines = [line for line in output.decode(errors="replace").splitlines() if line.strip()]
    events = [{"timestamp": started_ms + i, "message": line} for i, line in enumerate(lines)]
    if events:
        job._log_backend.put_log_events(job._log_group, job.log_stream_name, events)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def max_jobs() -> int:
    """How many Batch jobs run at once in this moto process (FLOWDROP_BATCH_MAX_JOBS)."""
    try:
        return max(1, int(os.environ.get(MAX_JOBS_ENV) or DEFAULT_MAX_JOBS))
    except ValueError:
        return DEFAULT_MAX_JOBS


def _slots() -> threading.Semaphore:
    global _SLOTS
    with _SLOTS_LOCK:
        if _SLOTS is None:
            _SLOTS = threading.Semaphore(max_jobs())
        return _SLOTS


def _wait_for_slot(job: Job) -> bool:
    """Block while the compute environment is full (the job stays RUNNABLE); False when it was stopped first."""
    slots = _slots()
    while not slots.acquire(timeout=0.1):
        if job.stop:
            return False
    if job.stop:
        slots.release()
        return False
    return True


def _run_locally(job: Job) -> None:
    job.status = JobStatus.PENDING
    if job.depends_on and not job._wait_for_dependencies():
        return
    job.status = JobStatus.RUNNABLE
    if not _wait_for_slot(job):
        job.job_stopped_reason = job.job_stopped_reason or "Job terminated while RUNNABLE"
        job._mark_stopped(success=False)
        return
    try:
        _run_in_slot(job)
    finally:
        _slots().release()


def _run_in_slot(job: Job) -> None:
    try:
        job.status = JobStatus.STARTING
        job.job_started_at = datetime.now()
        job.log_stream_name = job._stream_name
        job._start_attempt()
        job.status = JobStatus.RUNNING
        started_ms = int(unix_time_millis(job.job_started_at))
        duration = job._get_attempt_duration()
        deadline = time.monotonic() + duration if duration else None
        # Output to a file, not a pipe nobody reads while the job runs (a chatty
        # task would block on a full pipe). Its own process group: stopping the
        # job kills what its command started too, as stopping a container does.
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(_command(job), env=_environment(job), stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            timed_out = False
            while process.poll() is None:
                if job.stop or (deadline is not None and time.monotonic() > deadline):
                    timed_out = not job.stop
                    _kill_group(process)
                    break
                time.sleep(0.02)
            process.wait()
            log.seek(0)
            output = log.read()
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
