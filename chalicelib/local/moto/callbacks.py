"""Three fixes to moto 5.2.5's Step Functions for long-running callback tasks (the worker backend).

Owns: three patches, applied in the moto server process (by local/moto/main.py).

1. A task with HeartbeatSeconds but no TimeoutSeconds times out after 60 s
   in moto (execute_state.py:125-126, "the default value of TimeoutSeconds
   is 60"); on AWS the default is 99999999 s, so a task (or its wait in the
   worker queue) may take as long as it needs while it heartbeats. Here the
   default is AWS's.

2. A retried callback (or `.sync`) task gets a fresh task token. In moto, a Task state's token is made once per state entry (`_eval_body` of
stepfunctions/parser/asl/component/state/exec/state_task/service/
state_task_service_callback.py:315-325) while Retry re-runs only
`_eval_execution` (execute_state.py:252-275). The retried attempt therefore
reuses the first token and its callback endpoint, whose outcome is still the
first attempt's failure and whose event is already set
(`interrupt_all`, line 222): the retry "fails" again as soon as its worker
heartbeats (or at once without HeartbeatSeconds), and heartbeats for it are
refused. On AWS every attempt gets a new token. Here, each attempt after
the first gets a new token and endpoint before its Parameters (which read
`$$.Task.Token`) are evaluated.
3. StopExecution stops an execution blocked in a callback (or `.sync`) task.
In moto, stopping only marks the environment stopped (execution_worker.py:116-117);
a task waiting for its token waits on its callback endpoint and never sees
it (EMULATOR.md: "StopExecution ... does not stop an execution blocked in
waitForTaskToken"). Here stopping also wakes every endpoint of the
execution, so it ends ABORTED at once, as on AWS; the worker then finds its
heartbeats refused and stops the task. The woken task's error must not turn
the stopped execution into a FAILED one (Environment.set_error overwrites
any state, environment.py:211-217): a stopped execution stays stopped.
Does not own: the other Step Functions fixes (local/moto/compat.py).

Canaries: tests/functional/test_local_moto_callbacks.py fails once stock moto fixes
either, so that patch can be deleted.
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import Timeout, TimeoutSeconds
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)

ORIGINAL_FROM_STATE_PROPS = ExecutionState.from_state_props
ORIGINAL_STOP = ExecutionWorker.stop
ORIGINAL_SET_ERROR = Environment.set_error
_WAITING_CONDITIONS = (ResourceCondition.WaitForTaskToken, ResourceCondition.Sync, ResourceCondition.Sync2)


def from_state_props(self: Any, state_props: Any) -> None:
    """ExecutionState.from_state_props, with AWS's default TimeoutSeconds next to HeartbeatSeconds."""
    ORIGINAL_FROM_STATE_PROPS(self, state_props)
    if state_props.get(Timeout) is None and getattr(self, "heartbeat", None) is not None:
        self.timeout = TimeoutSeconds(timeout_seconds=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS, is_default=True)


def eval_execution(self: Any, env: Any) -> None:
    """StateTaskService._eval_execution, with a fresh token for each retried attempt of a callback task."""
    # `.sync` tasks (the batch backend's submitJob.sync) wait on the same
    # endpoint as callbacks do (state_task_service_callback.py:160-163), so a
    # retried Batch job "times out" at once without a fresh one too.
    if self._is_integration_pattern() and self.resource.condition in _WAITING_CONDITIONS:
        task = env.states.context_object.context_object_data.get("Task") or {}
        endpoint = env.callback_pool_manager.get(task.get("Token")) if task.get("Token") else None
        # A used endpoint: this is a retry (the first attempt's endpoint is fresh).
        if endpoint is not None and (endpoint.get_outcome() is not None or endpoint._notify_event.is_set()):
            env.callback_pool_manager.add(env.states.context_object.update_task_token())
    StateTaskService._eval_execution(self, env)


def stop(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
    """ExecutionWorker.stop, waking every task that waits for a callback of this execution."""
    ORIGINAL_STOP(self, stop_date=stop_date, error=error, cause=cause)
    pool = getattr(getattr(self.env, "callback_pool_manager", None), "_pool", {})
    for endpoint in list(pool.values()):
        endpoint.interrupt_all()


def set_error(self: Any, error: Any) -> None:
    """Environment.set_error, except on a stopped execution (ABORTED is final, as on AWS)."""
    if isinstance(self._program_state, ProgramStopped):
        return
    ORIGINAL_SET_ERROR(self, error)


def apply_patches() -> None:
    """Apply the fixes in this process; calling it again changes nothing."""
    ExecutionState.from_state_props = from_state_props
    StateTaskServiceCallback._eval_execution = eval_execution
    ExecutionWorker.stop = stop
    Environment.set_error = set_error
