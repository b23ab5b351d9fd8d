"""The worker backend's stand-in compute: run queued tasks and answer their task tokens.

Owns: long-polling the worker queue, running ONE task per message through
the task runner in a subprocess (bounded pool), heartbeating while it runs,
and answering SendTaskSuccess with the runner's output JSON or
SendTaskFailure (error "TaskFailed", cause: the tail of stderr). A task
whose heartbeat is refused (its execution was stopped: `terminate`, or it
timed out) is signalled: SIGTERM, then SIGKILL after a grace period.
Does not own: the state machine (compiler/), where a flow file comes from
(`resolve_flow_file`, injected: tests map flow names to examples/, the
embedded stack extracts the code package), or the runner's command
(runtime.task_command). boto3 clients are passed in.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowdrop.local.loop import RepeatingThread
from flowdrop.model.backends import WORKER, WORKER_ENV
from flowdrop.model.task import TaskPayload

log = logging.getLogger(__name__)

# Step Functions caps a failure cause at 32,768 characters; the end of
# stderr is where a traceback says what went wrong.
CAUSE_CHARS = 8000
# A refused heartbeat is the only way Step Functions tells a worker that
# nobody waits for its task any more (the execution was stopped), so a
# worker heartbeats at least this often: a terminated run's task stops
# within seconds, not at the next `heartbeat_interval`.
STOP_CHECK_SECONDS = 2.0
# How long a signalled task gets to end on SIGTERM before SIGKILL.
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class TaskMessage:
    """One worker-queue message, as compiler/worker.py shapes it."""

    task_token: str
    payload: TaskPayload
    receipt_handle: str

    @classmethod
    def from_sqs(cls, message: Mapping[str, Any]) -> TaskMessage:
        """Validate an SQS message into a TaskMessage (ValueError when it is not one)."""
        try:
            body = json.loads(message["Body"])
            return cls(str(body["task_token"]), TaskPayload.from_dict(body["payload"]), message["ReceiptHandle"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a flowdrop task message: {err!r}") from err


class TaskWorker:
    """Polls one queue and runs at most `max_tasks` tasks at once, each in its own subprocess."""

    def __init__(
        self,
        sqs: Any,
        sfn: Any,
        queue_url: str,
        resolve_flow_file: Callable[[TaskPayload], Path],
        *,
        max_tasks: int = 4,
        heartbeat_interval: float = 20.0,
        stop_check_seconds: float = STOP_CHECK_SECONDS,
        poll_wait_seconds: int = 1,
        env: Mapping[str, str] | None = None,
        python: str | None = None,
        task_command: Callable[..., list[str]] | None = None,
        launcher: str | None = None,
    ):
        self.sqs, self.sfn, self.queue_url = sqs, sfn, queue_url
        self.resolve_flow_file = resolve_flow_file
        self.max_tasks = max_tasks
        self.heartbeat_interval = min(heartbeat_interval, stop_check_seconds)
        self.poll_wait_seconds = poll_wait_seconds
        # The tasks say they ran on a worker (Task.environment_info), as Batch and Lambda tasks say theirs.
        self.env = {**os.environ, **(env or {}), WORKER_ENV: WORKER}
        self.python = python
        self._task_command = task_command
        # "fork": run each task in a fork of this process (flowdrop and boto3
        # already imported: ~20x less CPU per task than a new interpreter);
        # "subprocess": `python flow.py step ...`, as Batch runs it. A custom
        # task_command implies subprocesses.
        chosen = launcher or os.environ.get("FLOWDROP_LAUNCHER") or "fork"
        if task_command is not None or not hasattr(os, "fork"):
            chosen = "subprocess"
        if chosen not in ("fork", "subprocess"):
            raise ValueError(f"launcher must be fork or subprocess, got {chosen!r}")
        self.launcher = chosen
        self._slots = threading.Semaphore(max_tasks)
        self._pool = ThreadPoolExecutor(max_workers=max_tasks, thread_name_prefix="flowdrop-task")
        self._poller = RepeatingThread("flowdrop-worker-poll", self.poll_once)
        self._running: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._fork_s3: tuple[Any, Any] | None = None  # (AwsConfig, S3 client) forked children inherit
        self.completed = 0

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> TaskWorker:
        """Start polling in a background thread."""
        if self.launcher == "fork":
            self._prepare_forks()
        self._poller.start()
        return self

    def _prepare_forks(self) -> None:
        """What every forked task would otherwise do itself: the task runner's imports, and an S3 client for
        the datastore made here and never used here, so each child inherits one with no connection in its
        pool (about 45 ms of CPU a task)."""
        from flowdrop.aws import AwsConfig
        from flowdrop.runtime.entry import preload_task_modules

        preload_task_modules()
        aws = AwsConfig.from_env(self.env)
        client = aws.client("s3")
        client.exceptions.ClientError  # noqa: B018 - built on first use: here once, not in every child
        self._fork_s3 = (aws, client)

    def _s3_client_for(self, aws: Any) -> Any:
        """In a forked child: the inherited S3 client when the task's datastore is where it points."""
        made_for, client = self._fork_s3 or (None, None)
        return client if aws == made_for else None

    def stop(self, timeout: float = 30.0) -> None:
        """Stop polling, let running tasks finish for `timeout` seconds, then terminate the rest."""
        self._poller.stop(timeout=self.poll_wait_seconds + 5)
        finished = threading.Event()
        threading.Thread(target=lambda: (self._pool.shutdown(wait=True), finished.set()), daemon=True).start()
        if not finished.wait(timeout):
            with self._lock:
                running = list(self._running.values())
            for process in running:
                process.terminate()
            finished.wait(10)

    def __enter__(self) -> TaskWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- polling ------------------------------------------------------------------

    def poll_once(self) -> int:
        """Receive as many messages as there are free slots and start their tasks; returns how many."""
        if not self._slots.acquire(timeout=0.5):
            return 0
        free = 1
        while free < min(10, self.max_tasks) and self._slots.acquire(blocking=False):
            free += 1
        try:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=free,
                                                WaitTimeSeconds=self.poll_wait_seconds).get("Messages", [])
        except Exception:
            self._release(free)
            raise
        self._release(free - len(messages))
        for message in messages:
            # The token, not the message, is the unit of work: once taken, a
            # lost worker shows as a missed heartbeat and Step Functions retries.
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            self._pool.submit(self._run_and_release, message)
        return len(messages)

    def _release(self, count: int) -> None:
        for _ in range(count):
            self._slots.release()

    def _run_and_release(self, message: Mapping[str, Any]) -> None:
        try:
            task = TaskMessage.from_sqs(message)
        except ValueError:
            log.exception("dropping a malformed message from %s", self.queue_url)
            self._slots.release()
            return
        try:
            self.run_task(task)
        except Exception as err:  # noqa: BLE001 - whatever happens, answer the token
            log.exception("task %s failed in the worker", task.payload.task_id)
            self._answer_failure(task, "WorkerError", f"{type(err).__name__}: {err}")
        finally:
            self._slots.release()

    # --- one task -----------------------------------------------------------------

    def command(self, flow_file: Path, payload: TaskPayload, output_file: Path) -> list[str]:
        """The runner's argument list for one task."""
        if self._task_command is not None:
            return self._task_command(flow_file, payload, output_file)
        from flowdrop.runtime import task_command

        return task_command(flow_file, payload, output_file, python=self.python)

    def _launch(self, flow_file: Path, payload: TaskPayload, output_file: Path, stderr: Any) -> Any:
        if self.launcher == "fork":
            from flowdrop.runtime.entry import run_task_from_file
            from flowdrop.runtime.forked import fork_task

            def run_in_child(task_payload: TaskPayload) -> dict:
                # The child gets the environment a subprocess would have had.
                os.environ.clear()
                os.environ.update(self.env)
                return run_task_from_file(flow_file, task_payload, s3_client_for=self._s3_client_for)

            with open(os.devnull, "wb") as devnull:
                return fork_task(run_in_child, payload, output_file,
                                 stdout=devnull.fileno(), stderr=stderr.fileno(), cwd=flow_file.parent)
        return subprocess.Popen(self.command(flow_file, payload, output_file), cwd=flow_file.parent,
                                env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)

    def run_task(self, task: TaskMessage) -> None:
        """Run one task to its end, heartbeating, and answer its token."""
        payload = task.payload
        flow_file = Path(self.resolve_flow_file(payload))
        with tempfile.TemporaryDirectory(prefix="flowdrop-task-") as tmp:
            output_file = Path(tmp) / "output.json"
            stderr_path = Path(tmp) / "stderr"
            with open(stderr_path, "wb") as stderr:
                process = self._launch(flow_file, payload, output_file, stderr)
                with self._lock:
                    self._running[task.task_token] = process
                try:
                    returncode = self._wait_with_heartbeats(task, process)
                finally:
                    with self._lock:
                        self._running.pop(task.task_token, None)
            if returncode == 0 and output_file.exists():
                output = output_file.read_text()
                self.sfn.send_task_success(taskToken=task.task_token, output=output)
                self.completed += 1
                return
            tail = stderr_path.read_bytes()[-CAUSE_CHARS:].decode("utf-8", "replace")
            why = f"exit code {returncode}" + ("" if returncode != 0 else ", but no output file")
            self._answer_failure(task, "TaskFailed", f"{payload.step} ({payload.task_id}): {why}\n{tail}")

    def _wait_with_heartbeats(self, task: TaskMessage, process: subprocess.Popen) -> int:
        while True:
            try:
                return process.wait(timeout=self.heartbeat_interval)
            except subprocess.TimeoutExpired:
                pass
            try:
                self.sfn.send_task_heartbeat(taskToken=task.task_token)
            except Exception as err:  # noqa: BLE001 - TaskTimedOut etc.: nobody waits for this task
                log.warning("heartbeat for %s refused (%s); stopping the task", task.payload.task_id, err)
                return stop_process(process)

    def _answer_failure(self, task: TaskMessage, error: str, cause: str) -> None:
        try:
            self.sfn.send_task_failure(taskToken=task.task_token, error=error, cause=cause[-CAUSE_CHARS:])
        except Exception:  # noqa: BLE001 - the execution may be gone already
            log.exception("could not report the failure of %s", task.payload.task_id)


def stop_process(process: Any, grace: float = STOP_GRACE_SECONDS) -> int:
    """SIGTERM a task process, SIGKILL it if it is still there after `grace` seconds; its exit code."""
    process.terminate()
    try:
        return process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
