"""A fix to moto 5.2.5's Step Functions: a retried callback task gets a fresh task token.

Owns: one patch, applied in the moto server process (by local/moto_main.py).
In moto, a Task state's token is made once per state entry (`_eval_body` of
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
Does not own: the other Step Functions fixes (local/moto_compat.py).

Canary: tests/test_local_moto_callbacks.py fails once stock moto gives each
attempt its own token, so this file can be deleted.
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)


def _eval_execution(self: Any, env: Any) -> None:
    if self._is_integration_pattern() and self.resource.condition == ResourceCondition.WaitForTaskToken:
        task = env.states.context_object.context_object_data.get("Task") or {}
        endpoint = env.callback_pool_manager.get(task.get("Token")) if task.get("Token") else None
        # A used endpoint: this is a retry (the first attempt's endpoint is fresh).
        if endpoint is not None and (endpoint.get_outcome() is not None or endpoint._notify_event.is_set()):
            env.callback_pool_manager.add(env.states.context_object.update_task_token())
    StateTaskService._eval_execution(self, env)


def apply_patch() -> None:
    """Give each retried attempt of a callback task its own token; calling it again changes nothing."""
    StateTaskServiceCallback._eval_execution = _eval_execution
