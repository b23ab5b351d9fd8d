"""What a compilation needs besides the graph: deployment and backend settings.

Owns: the two frozen settings objects the deployer and the CLI build from
their configuration and hand to compile_flow. Does not own: reading that
configuration (entry points do, once) or any AWS call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flowdrop.model.backends import BACKENDS, DEFAULT_BACKEND
from flowdrop.model.decorators import Decorator
from flowdrop.model.task import INLINE_FOREACH_LIMIT


@dataclass(frozen=True)
class BackendSettings:
    """The compute backend that runs tasks, and its addresses (all from deploy settings)."""

    kind: str = DEFAULT_BACKEND  # one of model.backends.BACKENDS
    # batch: the job definition holds the image and the command (the task runner)
    job_queue: str = "flowdrop-default"
    job_definition: str = "flowdrop-task"
    # lambda: the task-runner function, by name or ARN
    task_function: str = "flowdrop-task-runner"
    task_function_memory: int = 2048  # MB, the function's MemorySize: the most a step's @resources may ask
    # worker: the queue the embedded stack's workers long-poll
    worker_queue_url: str | None = None
    heartbeat_seconds: int = 60


@dataclass(frozen=True)
class CompileOptions:
    """Deployment-wide options of one compilation (`step-functions create` flags and settings)."""

    state_machine_name: str
    max_workers: int = 100
    workflow_timeout: int | None = None
    with_decorators: tuple[Decorator, ...] = ()
    backend: BackendSettings = field(default_factory=BackendSettings)
    code_package: str | None = None  # s3://... of the code package, passed to every task
    datastore_root: str | None = None  # s3://bucket/prefix where tasks keep artifacts
    # The most items any foreach runs in an INLINE Map; each step's own
    # threshold (history.py) may be lower. 0 sends every foreach to a
    # Distributed Map. It cannot be raised: the runner returns inline
    # indices only up to model.INLINE_FOREACH_LIMIT.
    inline_foreach_limit: int = INLINE_FOREACH_LIMIT


def option_problems(options: CompileOptions) -> list[str]:
    """Every reason these options cannot compile, as messages naming the option."""
    problems = []
    if options.backend.kind not in BACKENDS:
        problems.append(f"backend {options.backend.kind!r} is unknown; use one of {', '.join(BACKENDS)}")
    if options.max_workers < 1:
        # moto reads MaxConcurrency 0 as one thread per item and AWS as "no
        # limit": neither is what --max-workers means.
        problems.append(f"--max-workers must be 1 or more, got {options.max_workers}")
    if options.workflow_timeout is not None and options.workflow_timeout < 1:
        problems.append(f"workflow timeout must be 1 second or more, got {options.workflow_timeout}")
    if not 0 <= options.inline_foreach_limit <= INLINE_FOREACH_LIMIT:
        problems.append(f"inline_foreach_limit must be 0 to {INLINE_FOREACH_LIMIT}, got {options.inline_foreach_limit}")
    if options.backend.kind == "worker" and not options.backend.worker_queue_url:
        problems.append("the worker backend needs worker_queue_url (the SQS queue its workers poll)")
    if options.backend.heartbeat_seconds < 1:
        problems.append(f"heartbeat_seconds must be 1 or more, got {options.backend.heartbeat_seconds}")
    return problems
