"""Metaflow's public exceptions, under Metaflow's names: `from flowdrop.exception import MetaflowNotFound`.

Owns: MetaflowException and its children as Metaflow defines them (same
names, `headline`, constructor arguments and `str()`), and
MetaflowExceptionWrapper, what @catch stores. flowdrop's own errors
(errors.py) derive from these, so code written for Metaflow catches them:
every FlowdropError is a MetaflowException, MissingObjectError a
MetaflowNotFound, NamespaceMismatchError a MetaflowNamespaceMismatch, and a
merge_artifacts failure a Missing- or UnhandledInMergeArtifactsException.
Does not own HTTP statuses or flowdrop's own error kinds (errors.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

TYPE_CHECKING = False  # typing's own, without importing typing (milliseconds of every flow's start)
if TYPE_CHECKING:
    from typing import Any

# As Metaflow: a task process exiting with this code is not retried.
METAFLOW_EXIT_DISALLOW_RETRY = 202
METAFLOW_EXIT_ALLOW_RETRY = 203


def dotted_type(exc: BaseException | type) -> str:
    """`module.ClassName` of an exception (or its class), the name @catch records as `.type`."""
    cls = exc if isinstance(exc, type) else type(exc)
    return f"{cls.__module__}.{cls.__name__}"


class MetaflowException(Exception):
    """The root of Metaflow's errors: a message, optionally the file and line at fault."""

    headline = "Flow failed"

    def __init__(self, msg: str = "", lineno: int | None = None, source_file: str | None = None):
        self.message = msg
        self.line_no = lineno
        self.source_file = source_file
        super().__init__(msg)

    def __str__(self) -> str:
        prefix = f"{self.source_file}:" if self.source_file else ""
        if self.line_no:
            prefix = f"line {self.line_no}:"
        return f"{prefix} {self.message}" if prefix else str(self.message)


class ExternalCommandFailed(MetaflowException):
    headline = "External command failed"

    def __init__(self, msg: str):
        super().__init__(msg)


class MetaflowNotFound(MetaflowException):
    headline = "Object not found"


class MetaflowNamespaceMismatch(MetaflowException):
    headline = "Object not in the current namespace"

    def __init__(self, namespace: str | None):
        super().__init__(f"Object not in namespace '{namespace}'")


class MetaflowInvalidPathspec(MetaflowException):
    headline = "Invalid pathspec"

    def __init__(self, msg: str):
        super().__init__(msg)


class MetaflowInternalError(MetaflowException):
    headline = "Internal error"


class MetaflowTaggingError(MetaflowException):
    headline = "Tagging error"


class CommandException(MetaflowException):
    headline = "Invalid command"


class MetaflowDataMissing(MetaflowException):
    headline = "Data missing"


class UnhandledInMergeArtifactsException(MetaflowException):
    """merge_artifacts met artifacts whose values differ across inputs; `artifact_names` lists them."""

    headline = "Unhandled artifacts in merge"

    def __init__(self, msg: str, unhandled: Iterable[str]):
        super().__init__(msg)
        self.artifact_names = list(unhandled)


class MissingInMergeArtifactsException(MetaflowException):
    """merge_artifacts(include=...) named artifacts no input has; `artifact_names` lists them."""

    headline = "Missing artifacts in merge"

    def __init__(self, msg: str, unhandled: Iterable[str]):
        super().__init__(msg)
        self.artifact_names = list(unhandled)


class MetaflowExceptionWrapper(Exception):
    """A step's exception as @catch stores it: `type` (dotted), `exception` (its text), `stacktrace`.

    Only strings are kept, so any exception, however hard to pickle, is
    recorded; `str()` is the stack trace, as in Metaflow. flowdrop adds the
    step and how many attempts failed.
    """

    def __init__(self, exc: BaseException | None = None, *, type: str | None = None,  # noqa: A002 - Metaflow's name
                 exception: str | None = None, stacktrace: str | None = None, step: str | None = None,
                 attempts: int = 0):
        super().__init__()
        self.type = type if type is not None else (dotted_type(exc) if exc is not None else "builtins.Exception")
        self.exception = exception if exception is not None else (str(exc) if exc is not None else "")
        if stacktrace is None and exc is not None and sys.exc_info()[0] is not None:
            import traceback  # only when a step failed: not on every flow's import

            stacktrace = traceback.format_exc()
        self.stacktrace = stacktrace or None
        self.step = step
        self.attempts = attempts

    # Exception's own pickling passes args to __init__; keep the attributes instead.
    def __reduce__(self) -> tuple:
        return MetaflowExceptionWrapper, (), self.__dict__

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def exception_type(self) -> str:
        """The exception's class name without its module (flowdrop's earlier spelling)."""
        return self.type.rsplit(".", 1)[-1]

    @property
    def message(self) -> str:
        """Same as `exception`."""
        return self.exception

    @property
    def traceback(self) -> str:
        """Same as `stacktrace` ('' when none was recorded)."""
        return self.stacktrace or ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MetaflowExceptionWrapper) and (other.type, other.exception, other.stacktrace) == (
            self.type, self.exception, self.stacktrace)

    def __hash__(self) -> int:
        return hash((self.type, self.exception, self.stacktrace))

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        if self.stacktrace:
            return self.stacktrace
        return f"[no stacktrace]\n{self.type}: {self.exception}"
