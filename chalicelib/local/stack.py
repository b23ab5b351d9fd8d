"""The embedded stack: all of flowdrop on one machine, against moto instead of an AWS account.

Owns: starting and stopping, in order, the moto server (AWS endpoint), the
stack's resources (resources.py), app.py's routes on loopback (app_host.py),
the stand-ins AWS would provide (the SQS event source delivering package
notifications to the deploy handler, the EventBridge clock invoking the
scheduled handler, a bounded pool of workers for the worker backend), the
deployer's environment, and the client config that makes `python flow.py
step-functions ...`, the `flowdrop` commands and the client API use it.
Does not own: any deployer logic (the handlers are app.py's, unchanged).

Usable as a context manager from tests and the demo; `flowdrop up` is a
thin wrapper. Its logs go to <state_dir>/logs/.

Durable (local/durable.py, local/moto/journal.py): one stack per state dir
(a lock), moto journals what changes under <state_dir>/moto/ and replays it
on start, after the resources are made; runs a stop cut short come back
ABORTED and marked interrupted; if moto dies, `failed` is set and says why.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from flowdrop.aws import AwsConfig
from flowdrop.config import ClientConfig, write_config
from flowdrop.errors import FlowdropError
from flowdrop.local.app_host import LocalApi, lambda_context, load_app
from flowdrop.local.redeliver import redeliver_undeployed
from flowdrop.local.clock import ScheduleClock, utc_now
from flowdrop.local.durable import MotoWatchdog, StateDirLock, mark_interrupted
from flowdrop.local.events import SqsEventSource
from flowdrop.local.moto.server import MotoServer, free_port, launch_moto_server
from flowdrop.runtime.packages import PackageCache
from flowdrop.local.resources import StackNames, StackResources, create_resources
from flowdrop.local.status_events import StatusEventEmitter
from flowdrop.local.worker import TaskWorker

log = logging.getLogger(__name__)


@dataclass
class StackOptions:
    """How to run one embedded stack."""

    state_dir: Path
    port: int | None = None  # the API's port on 127.0.0.1 (None: a free one)
    moto_port: int | None = None
    config_path: Path | None = None  # where the client config goes (None: <state_dir>/config.json)
    max_tasks: int = 4  # tasks run at once by the worker pool
    # HeartbeatSeconds of every worker Task: a lost worker's task fails after
    # this long. Step Functions starts the timer when it queues the message,
    # not when a worker takes it, so it must also cover the wait in the
    # queue: a 100-way foreach on 4 workers queues tasks for a minute.
    heartbeat_seconds: int = 300
    heartbeat_interval: float | None = None  # how often workers heartbeat (None: a third of heartbeat_seconds)
    clock_interval: float = 2.0  # seconds between two reads of the schedule rules
    now: Callable[[], datetime] = field(default=utc_now)  # the clock's time source (tests inject one)
    deploy_visibility_seconds: int = 60  # before a failed package notification is delivered again
    api_token: str | None = None  # None: a fresh random token
    # The deployer's FLOWDROP_INLINE_FOREACH_LIMIT (None: its default, 1,000);
    # tests lower it to run small foreach steps as Distributed Maps.
    inline_foreach_limit: int | None = None
    status_interval: float = 1.0  # seconds between two looks for execution status changes (alerts)


# Every service the stack and its deployer call: making the first client of one loads its model (~0.4 s in all).
STACK_SERVICES = ("s3", "sqs", "dynamodb", "iam", "batch", "events", "lambda", "scheduler", "stepfunctions", "logs")


def warm_clients(aws: AwsConfig) -> None:
    """Make one client per service the stack uses, so boto3's models are loaded before moto answers."""
    for service in STACK_SERVICES:
        aws.client(service)


class EmbeddedStack:
    """A running embedded stack; start() brings it up, stop() takes it down (also on errors)."""

    def __init__(self, options: StackOptions):
        self.options = options
        self.state_dir = Path(options.state_dir).resolve()
        self.logs_dir = self.state_dir / "logs"
        self.config_path = Path(options.config_path or self.state_dir / "config.json")
        self.api_token = options.api_token or secrets.token_urlsafe(24)
        self.names = StackNames()
        self.moto: MotoServer | None = None
        self.aws: AwsConfig | None = None
        self.resources: StackResources | None = None
        self.app: ModuleType | None = None
        self.api: LocalApi | None = None
        self.event_source: SqsEventSource | None = None
        self.status_events: StatusEventEmitter | None = None  # what Step Functions emits on AWS (moto does not)
        self.alerts_source: SqsEventSource | None = None  # the alerts queue -> app.py's alerts handler
        self.trigger_source: SqsEventSource | None = None  # the events queue -> the trigger handler
        self.clock: ScheduleClock | None = None
        self.worker: TaskWorker | None = None
        self.packages: PackageCache | None = None
        self.config: ClientConfig | None = None
        self.started_in: float = 0.0
        self._saved_env: dict[str, str | None] = {}
        self._log_handler: logging.Handler | None = None
        # Durability: the state dir's lock, what the journal restored, moto's watchdog.
        self.lock = StateDirLock(self.state_dir)
        self.restored: dict[str, Any] = {}
        self.interrupted_runs: list[str] = []
        self.redelivered: list[str] = []  # package keys delivered again at start (local/redeliver.py)
        self.watchdog: MotoWatchdog | None = None
        self.failed = threading.Event()  # set when a part died under the running stack (`failure` says which)
        self.failure: str | None = None

    # --- lifecycle ----------------------------------------------------------------

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> EmbeddedStack:
        """Start every part; on failure, stop what started and raise FlowdropError."""
        began = time.monotonic()
        self.lock.acquire()  # before anything touches the state dir
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._start_logging()
        try:
            self._start()
        except BaseException:
            log.exception("the embedded stack failed to start")
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        log.info("embedded stack up in %.1fs: %s", self.started_in, self.describe())
        return self

    def _start(self) -> None:
        options = self.options
        # moto takes ~2 s to import its backends in its own process: this one readies its clients meanwhile.
        # Batch jobs past the stack's task slots wait RUNNABLE, as in a full compute environment.
        self.moto = launch_moto_server(options.moto_port, log_path=str(self.logs_dir / "moto.log"),
                                       state_dir=str(self.state_dir), batch_max_jobs=options.max_tasks)
        self.aws = aws = AwsConfig(endpoint_url=self.moto.endpoint_url)
        warm_clients(aws)
        self.moto.wait_ready()
        self.resources = resources = create_resources(aws, self.names, options.deploy_visibility_seconds)
        # The resources are made afresh each start; then the journal puts back what the flows changed.
        self.restored = self.moto.restore_journal()
        log.info("journal restored: %s entries replayed (%s failed), %s executions",
                 self.restored.get("replayed"), self.restored.get("failed"), len(self.restored.get("executions", [])))
        env = resources.deployer_env(aws, self.api_token, options.heartbeat_seconds)
        if options.inline_foreach_limit is not None:
            env["FLOWDROP_INLINE_FOREACH_LIMIT"] = str(options.inline_foreach_limit)
        # app.py reads its settings from the environment (as in Lambda), so
        # the environment is set before it is loaded and kept until stop().
        self._set_env({**env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
        self.app = app = load_app()
        settings = app.settings()
        self.interrupted_runs = mark_interrupted(app.clients(), self.restored.get("executions", []))
        # Packages the last stop (or crash) left undeployed: their queue messages are gone, deliver them again.
        self.redelivered = redeliver_undeployed(app.clients(), aws.client("sqs"), resources.deploy_queue_url, settings)
        port = options.port or free_port()
        self.api = LocalApi(app, port, settings.api_token_hashes, self._control).start()
        self.event_source = SqsEventSource(
            aws.client("sqs"), resources.deploy_queue_url, resources.deploy_queue_arn, app.deploy,
            context_factory=lambda: lambda_context("flowdrop-local-deploy", 120, 512), region=aws.region).start()
        self.trigger_source = SqsEventSource(
            aws.client("sqs"), resources.events_queue_url, resources.events_queue_arn, app.trigger_events,
            context_factory=lambda: lambda_context("flowdrop-local-events", 60, 256), region=aws.region).start()
        self.clock = ScheduleClock(aws.client("scheduler"), self.names.scheduled_function_arn, self._invoke_scheduled,
                                   group=settings.schedule_group, now=options.now,
                                   interval=options.clock_interval).start()
        self._start_alerts(aws, resources)
        self.packages = PackageCache(aws.client("s3"), self.state_dir / "packages")
        heartbeat_interval = options.heartbeat_interval or max(1.0, options.heartbeat_seconds / 3)
        self.worker = TaskWorker(aws.client("sqs"), aws.client("stepfunctions"), resources.task_queue_url,
                                 self.packages.flow_file, max_tasks=options.max_tasks,
                                 heartbeat_interval=heartbeat_interval, env=self.task_env()).start()
        self.config = ClientConfig(production_datastore=f"s3://{self.names.bucket}/data", bucket=self.names.bucket,
                                   aws_endpoint=aws.endpoint_url, region=aws.region, api_url=self.api.url,
                                   api_token=self.api_token)
        write_config(self.config_path, self.config)
        (self.state_dir / "stack.json").write_text(json.dumps(self.describe(), indent=2, sort_keys=True) + "\n")
        self.watchdog = MotoWatchdog(self.moto.process, self._moto_exited).start()

    def _moto_exited(self, code: int) -> None:
        self.failure = (f"the moto server (AWS endpoint {self.aws.endpoint_url if self.aws else '?'}) exited with "
                        f"code {code}; the embedded stack stops (its state is in {self.state_dir}, "
                        f"`flowdrop up` again restores it)")
        self.failed.set()

    def stop(self) -> None:
        """Stop the stand-ins, the API and moto; restore the environment. Safe to call twice."""
        if self.watchdog is not None:
            self.watchdog.stop()
            self.watchdog = None
        for part in (self.clock, self.event_source, self.status_events, self.alerts_source, self.trigger_source):
            if part is not None:
                part.stop(timeout=10)
        self.status_events = self.alerts_source = None
        if self.worker is not None:
            self.worker.stop(timeout=5)
        if self.api is not None:
            self.api.stop()
        if self.moto is not None:
            if self.moto.process.poll() is None:
                try:
                    self.moto.snapshot_journal()  # the executions as they are now, for the next start
                except OSError:
                    log.exception("could not snapshot the executions before stopping moto")
            self.moto.stop()
        self.clock = self.event_source = self.trigger_source = self.worker = self.api = self.moto = None
        self._restore_env()
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
        self.lock.release()

    def _start_alerts(self, aws: AwsConfig, resources: StackResources) -> None:
        """Status events on EventBridge (rule -> alerts queue), and the queue's event source for `alerts`."""
        assert self.app is not None
        self.alerts_source = SqsEventSource(
            aws.client("sqs"), resources.alerts_queue_url, resources.alerts_queue_arn, self.app.alerts,
            context_factory=lambda: lambda_context("flowdrop-local-alerts", 60, 256), region=aws.region).start()
        # Runs restored as they ended were alerted on before the restart; interrupted ones are news.
        seen = {e["arn"]: e["status"] for e in self.restored.get("executions", []) if not e.get("interrupted")}
        self.status_events = StatusEventEmitter(aws.client("stepfunctions"), aws.client("events"),
                                                interval=self.options.status_interval, seen=seen).start()

    # --- what the stack offers ----------------------------------------------------

    def task_env(self) -> dict[str, str]:
        """What task subprocesses need on top of the environment: the endpoint of the S3 datastore."""
        assert self.aws is not None
        return {"FLOWDROP_AWS_ENDPOINT": str(self.aws.endpoint_url), "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": self.aws.region,
                "AWS_REGION": self.aws.region, "FLOWDROP_CONFIG": str(self.config_path), "PYTHONUNBUFFERED": "1"}

    def client_env(self) -> dict[str, str]:
        """The environment a user's shell needs to use this stack: the config file's location."""
        return {"FLOWDROP_CONFIG": str(self.config_path)}

    def describe(self) -> dict[str, Any]:
        """Where everything is (printed by `flowdrop up`, written to <state_dir>/stack.json)."""
        resources = self.resources
        return {
            "api_url": self.api.url if self.api else None,
            "aws_endpoint": self.aws.endpoint_url if self.aws else None,
            "bucket": self.names.bucket,
            "deploy_queue": resources.deploy_queue_url if resources else None,
            "dead_letter_queue": resources.dead_letter_queue_url if resources else None,
            "alerts_queue": resources.alerts_queue_url if resources else None,
            "task_queue": resources.task_queue_url if resources else None,
            "deployments_table": self.names.deployments_table,
            "workers": self.options.max_tasks,
            "config": str(self.config_path),
            "logs": str(self.logs_dir),
            "pid": os.getpid(),
        }

    def fire_schedule(self, flow: str) -> list[dict[str, Any]]:
        """Fire `flow`'s schedule now; what each invocation of the scheduled handler answered."""
        if self.clock is None:
            raise FlowdropError("the embedded stack is not running")
        return [{"rule": f.rule, "time": f.time.isoformat(), "result": f.result, "error": f.error}
                for f in self.clock.fire_now(flow)]

    def _control(self, action: str, body: dict[str, Any]) -> Any:
        match action:
            case "schedule/fire":
                flow = body.get("flow")
                if not isinstance(flow, str) or not flow:
                    raise FlowdropError('schedule/fire needs {"flow": "<flow name>"}')
                return {"firings": self.fire_schedule(flow)}
            case "stack":
                return self.describe()
        raise FlowdropError(f"unknown control action {action!r}; known: schedule/fire, stack")

    def _invoke_scheduled(self, event: dict[str, Any]) -> Any:
        assert self.app is not None
        return self.app.scheduled(event, lambda_context("flowdrop-local-scheduled", 30, 256))

    # --- environment and logs -----------------------------------------------------

    def _set_env(self, env: dict[str, str]) -> None:
        for key, value in env.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}

    def _start_logging(self) -> None:
        handler = logging.FileHandler(self.logs_dir / "stack.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        root = logging.getLogger()
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        root.addHandler(handler)
        self._log_handler = handler
