"""What @catch records when the step left no exception to record, under Metaflow's dotted name.

Owns: FailureHandledByCatch. As in Metaflow, @catch records a step's own
exception in the task that raised it (on its last attempt); only when a
task died without one (killed, its host lost) does the fallback task run,
and it records this error: `flowdrop.plugins.catch_decorator.FailureHandledByCatch`.
"""

from __future__ import annotations

from flowdrop.exception import MetaflowException


class FailureHandledByCatch(MetaflowException):
    """Every attempt of a step died without an exception; @catch let the run go on."""

    headline = "Task execution failed but @catch handled it"

    def __init__(self, retry_count: int):
        super().__init__(f"Task execution kept failing over {retry_count} attempts. Your code did not raise an "
                         "exception. Something in the execution environment caused the failure.")
