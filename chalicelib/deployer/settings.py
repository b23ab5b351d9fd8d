"""The deployer's settings: read once from the environment into a frozen object.

Owns: the names of the environment variables the deployer Lambdas read (set
by .chalice/config.json on AWS, by the embedded stack locally) and their
defaults. Does not own: reading them more than once (app.py caches the
object per container) or the clients built from them (clients.py).

Environment:
  FLOWDROP_BUCKET                 bucket where packages are dropped (required)
  FLOWDROP_PACKAGE_PREFIX         key prefix of packages (default "packages/")
  FLOWDROP_DEPLOYMENTS_TABLE      DynamoDB table of deployment records (required)
  FLOWDROP_IDEMPOTENCY_TABLE      DynamoDB table of Powertools idempotency (required)
  FLOWDROP_STATE_MACHINE_ROLE_ARN role Step Functions executions assume (required)
  FLOWDROP_SCHEDULED_FUNCTION_ARN the scheduled Lambda, target of every flow's schedule (required)
  FLOWDROP_SCHEDULER_ROLE_ARN     the role EventBridge Scheduler assumes to invoke it (needed by scheduled flows)
  FLOWDROP_SCHEDULE_GROUP         the Scheduler group of the flows' schedules (default "flowdrop")
  FLOWDROP_BACKEND                default compute backend: batch | lambda | worker (default batch)
  FLOWDROP_ALLOWED_BACKENDS       backends a manifest may ask for (comma-separated; default: FLOWDROP_BACKEND)
  FLOWDROP_BATCH_JOB_QUEUE, FLOWDROP_BATCH_JOB_DEFINITION, FLOWDROP_TASK_FUNCTION,
  FLOWDROP_WORKER_QUEUE_URL, FLOWDROP_HEARTBEAT_SECONDS   the backends' addresses
  FLOWDROP_TASK_FUNCTION_MEMORY   the task function's MemorySize in MB (default 2048)
  FLOWDROP_DATASTORE_ROOT         where tasks keep artifacts (default s3://<bucket>/data)
  FLOWDROP_API_TOKEN_HASHES       sha256 hex digests of accepted API tokens (comma-separated)
  FLOWDROP_MAX_PACKAGE_BYTES      largest package object accepted (default: package limits)
  FLOWDROP_INLINE_FOREACH_LIMIT   most items a foreach runs in an inline Map before a Distributed Map
                                  (default and maximum 1,000; 0: every foreach distributed)
  FLOWDROP_EVENT_BUS              the bus @trigger events are published on (default "flowdrop")
  FLOWDROP_EVENTS_QUEUE_ARN       the queue trigger rules deliver to (needed by @trigger flows)
  FLOWDROP_AWS_ENDPOINT, AWS_REGION   where AWS is (aws.AwsConfig)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from flowdrop.aws import AwsConfig
from flowdrop.codepackage.archive import PackageLimits
from flowdrop.compiler.options import BackendSettings
from flowdrop.deployer.plan import EventTarget, ScheduleTarget
from flowdrop.errors import ConfigError
from flowdrop.model import names
from flowdrop.model.backends import BACKENDS, DEFAULT_BACKEND
from flowdrop.model.task import INLINE_FOREACH_LIMIT

_REQUIRED = {
    "bucket": "FLOWDROP_BUCKET",
    "deployments_table": "FLOWDROP_DEPLOYMENTS_TABLE",
    "idempotency_table": "FLOWDROP_IDEMPOTENCY_TABLE",
    "state_machine_role_arn": "FLOWDROP_STATE_MACHINE_ROLE_ARN",
    "scheduled_function_arn": "FLOWDROP_SCHEDULED_FUNCTION_ARN",
}
_DEFAULT_LIMITS = PackageLimits()


@dataclass(frozen=True)
class DeployerSettings:
    """Everything the deploy, scheduled and API Lambdas need to know about their stack."""

    bucket: str
    deployments_table: str
    idempotency_table: str
    state_machine_role_arn: str
    scheduled_function_arn: str
    backend: BackendSettings = field(default_factory=BackendSettings)
    allowed_backends: tuple[str, ...] = ()
    datastore_root: str = ""
    package_prefix: str = "packages/"
    api_token_hashes: tuple[str, ...] = ()
    package_limits: PackageLimits = _DEFAULT_LIMITS
    max_package_bytes: int = _DEFAULT_LIMITS.max_total_bytes + _DEFAULT_LIMITS.max_manifest_bytes
    inline_foreach_limit: int = INLINE_FOREACH_LIMIT
    scheduler_role_arn: str = ""
    schedule_group: str = names.SCHEDULE_GROUP
    event_bus: str = names.EVENT_BUS
    events_queue_arn: str = ""
    aws: AwsConfig = field(default_factory=AwsConfig)

    def __post_init__(self) -> None:
        if not self.datastore_root:
            object.__setattr__(self, "datastore_root", f"s3://{self.bucket}/data")
        if not self.allowed_backends:
            object.__setattr__(self, "allowed_backends", (self.backend.kind,))
        if not self.package_prefix.endswith("/"):
            object.__setattr__(self, "package_prefix", self.package_prefix + "/")

    def schedule_target(self) -> ScheduleTarget:
        """Where the flows' schedules deliver (the scheduled Lambda, through Scheduler's role)."""
        return ScheduleTarget(self.scheduled_function_arn, self.scheduler_role_arn, self.schedule_group)

    def event_target(self) -> EventTarget:
        """Where trigger rules deliver (the events queue) and which buses they sit on."""
        return EventTarget(self.events_queue_arn, self.event_bus, "default", self.partition, self.aws.region,
                           self.account_id)

    @property
    def account_id(self) -> str:
        """The AWS account, read from the role ARN (arn:aws:iam::<account>:role/...): no STS call."""
        return _arn_part(self.state_machine_role_arn, 4, "FLOWDROP_STATE_MACHINE_ROLE_ARN")

    @property
    def partition(self) -> str:
        """aws, aws-cn or aws-us-gov, from the role ARN."""
        return _arn_part(self.state_machine_role_arn, 1, "FLOWDROP_STATE_MACHINE_ROLE_ARN")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DeployerSettings:
        """Read the settings from the environment; ConfigError names every missing variable."""
        env = os.environ if env is None else env
        missing = [var for var in _REQUIRED.values() if not env.get(var)]
        if missing:
            raise ConfigError(f"the deployer is not configured: set {', '.join(missing)}")
        kind = env.get("FLOWDROP_BACKEND") or DEFAULT_BACKEND
        allowed = tuple(k.strip() for k in (env.get("FLOWDROP_ALLOWED_BACKENDS") or kind).split(",") if k.strip())
        unknown = [k for k in (kind, *allowed) if k not in BACKENDS]
        if unknown:
            raise ConfigError(f"FLOWDROP_BACKEND / FLOWDROP_ALLOWED_BACKENDS: unknown backend(s) {', '.join(unknown)}; "
                              f"use {', '.join(BACKENDS)}")
        defaults = BackendSettings()
        backend = BackendSettings(
            kind=kind,
            job_queue=env.get("FLOWDROP_BATCH_JOB_QUEUE") or defaults.job_queue,
            job_definition=env.get("FLOWDROP_BATCH_JOB_DEFINITION") or defaults.job_definition,
            task_function=env.get("FLOWDROP_TASK_FUNCTION") or defaults.task_function,
            task_function_memory=_int(env, "FLOWDROP_TASK_FUNCTION_MEMORY", defaults.task_function_memory),
            worker_queue_url=env.get("FLOWDROP_WORKER_QUEUE_URL") or None,
            heartbeat_seconds=_int(env, "FLOWDROP_HEARTBEAT_SECONDS", defaults.heartbeat_seconds),
        )
        hashes = tuple(h.strip().lower() for h in (env.get("FLOWDROP_API_TOKEN_HASHES") or "").split(",") if h.strip())
        bad = [h for h in hashes if len(h) != 64 or any(c not in "0123456789abcdef" for c in h)]
        if bad:
            raise ConfigError(f"FLOWDROP_API_TOKEN_HASHES: {len(bad)} entr(y/ies) are not sha256 hex digests")
        values = {name: env[var] for name, var in _REQUIRED.items()}
        return cls(
            **values,
            backend=backend,
            allowed_backends=allowed,
            datastore_root=env.get("FLOWDROP_DATASTORE_ROOT") or "",
            package_prefix=env.get("FLOWDROP_PACKAGE_PREFIX") or "packages/",
            api_token_hashes=hashes,
            max_package_bytes=_int(env, "FLOWDROP_MAX_PACKAGE_BYTES", cls.max_package_bytes),
            inline_foreach_limit=_inline_limit(env),
            scheduler_role_arn=env.get("FLOWDROP_SCHEDULER_ROLE_ARN") or "",
            schedule_group=env.get("FLOWDROP_SCHEDULE_GROUP") or names.SCHEDULE_GROUP,
            event_bus=env.get("FLOWDROP_EVENT_BUS") or names.EVENT_BUS,
            events_queue_arn=env.get("FLOWDROP_EVENTS_QUEUE_ARN") or "",
            aws=AwsConfig.from_env(env),
        )


def _inline_limit(env: Mapping[str, str]) -> int:
    limit = _int(env, "FLOWDROP_INLINE_FOREACH_LIMIT", INLINE_FOREACH_LIMIT)
    if not 0 <= limit <= INLINE_FOREACH_LIMIT:
        raise ConfigError(f"FLOWDROP_INLINE_FOREACH_LIMIT must be 0 to {INLINE_FOREACH_LIMIT}, got {limit}")
    return limit


def _int(env: Mapping[str, str], var: str, default: int) -> int:
    raw = env.get(var)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{var} must be an integer, got {raw!r}") from None


def _arn_part(arn: str, index: int, var: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[index]:
        raise ConfigError(f"{var} must be an ARN like arn:aws:iam::123456789012:role/name, got {arn!r}")
    return parts[index]
