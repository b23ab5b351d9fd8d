"""The grammar of state names in a compiled state machine, written and read in one place.

A step's Task state is named after the step. Every other state flowdrop adds
is `<step>-<part>` (`fit-catch`, `fit-foreach`, `start-branches`) or a
run-wide `<part>-<part>` (`parameters-check`); a step name is a Python
identifier and never holds '-', so the two cannot collide. A distributed
Map's copy of a foreach body adds `@<foreach step>` to each state's name
(`train@fit`). The compiler writes these names; the run status reads step
names back out of execution histories. Pure.
"""

from __future__ import annotations

import re

# The parts a step's own states add to its name.
CATCH, OUTPUT, FOREACH, MAP, MAP_WIDE, INDICES, BRANCHES = (
    "catch", "output", "foreach", "map", "map-wide", "indices", "branches")

# The parts a switch step adds: its Choice, and the Fail states of a value no case
# matches and of a recursive switch past its bound (compiler/switch.py).
SWITCH, NO_CASE, TOO_MANY_REPEATS = "switch", "no-case", "too-many-repeats"
# On Batch, a recursive switch's read of its result: which pass ran, and the read of a later pass.
PASS, OUTPUT_AGAIN = "pass", "output-again"

# Run-wide states, before the first step.
CHECK_PARAMETERS = "parameters-check"
DEFAULT_PARAMETERS = "parameters-default"
ENCODE_PARAMETERS = "parameters-encode"
START_RUN = "run-start"

# Run-wide states at the end of a flow with @exit_hook (compiler/exit_hooks.py).
EXIT_HOOK_SUCCESS = "exit-hook-success"
EXIT_HOOK_ERROR = "exit-hook-error"
RUN_SUCCEEDED = "run-succeeded"
RUN_FAILED_CHECK = "run-failed-check"
RUN_FAILED = "run-failed"
RUN_FAILED_NO_CAUSE = "run-failed-without-cause"

_COPY_MARK = "@"
_PART_MARK = "-"
_MARKS = re.compile(f"[{re.escape(_PART_MARK)}{re.escape(_COPY_MARK)}]")


def state_name(step: str, part: str | None = None) -> str:
    """`step` (its Task) or `step-part` (one of the states flowdrop adds for it)."""
    return step if part is None else f"{step}{_PART_MARK}{part}"


def copy_suffix(suffix: str, foreach_step: str) -> str:
    """The suffix of a distributed Map's copy of `foreach_step`'s body, inside a scope with `suffix`."""
    return f"{suffix}{_COPY_MARK}{foreach_step}"


def step_of(name: str) -> str:
    """The step a state belongs to: its name up to the first '-' or '@'."""
    return _MARKS.split(name, maxsplit=1)[0]


def task_step(name: str) -> str | None:
    """The step whose Task state `name` is (copies included); None for the states flowdrop adds."""
    step = name.split(_COPY_MARK, 1)[0]
    return step if step.isidentifier() else None
