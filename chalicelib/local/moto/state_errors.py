"""moto 5.2.5's Map and Parallel states pass a `States.*` error of an iteration or branch on as that error.

Owns: the one place moto loses a failure's real error. When a Map iteration
(state_map/iteration/iteration_worker.py:88-91) or a Parallel branch
(state_parallel/branches_decl.py:99-102) ends failed, moto wraps the error's
name in CustomErrorName, which refuses names that start with `States.`
(custom_error_name.py:20). So a foreach task that fails with
`States.TaskFailed` (a Batch job that exited non-zero), `States.Timeout` or
`States.Runtime` raises a ValueError inside the Map: the execution fails
with `States.Runtime` and the cause "Custom Error Names MUST NOT begin with
the prefix 'States.'", a `Catch` on `States.TaskFailed` does not match, and
the job's own cause is lost. On AWS the state fails with the iteration's
error and cause. Here the two modules get a CustomErrorName that gives
moto's StatesErrorName for the names the language reserves, and the same
CustomErrorName as before for every other name.
Does not own: any other emulator gap (compat.py, batch_jobs.py, callbacks.py).

A canary test (tests/functional/test_moto_state_errors.py) fails once stock
moto accepts the reserved names there itself, so this patch can go.
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl

_PATCHED_MODULES = (iteration_worker, branches_decl)


class _ReservedErrorName(ErrorName):
    """A `States.` name the language does not define (none today), kept as it came."""


def error_name(error_name: Any) -> Any:
    """The ErrorName moto matches Retry and Catch against: StatesErrorName for a reserved name."""
    if isinstance(error_name, str) and error_name.startswith("States."):
        try:
            return StatesErrorName.from_name(error_name)
        except ValueError:
            return _ReservedErrorName(error_name=error_name)
    return CustomErrorName(error_name=error_name)


def is_applied() -> bool:
    """True when a failed iteration or branch keeps its `States.*` error in this process."""
    return all(module.CustomErrorName is error_name for module in _PATCHED_MODULES)


def apply_patches() -> None:
    """Patch the Map iteration and Parallel branch modules; calling it again changes nothing."""
    for module in _PATCHED_MODULES:
        module.CustomErrorName = error_name  # type: ignore[attr-defined,assignment]
