"""Every error flowdrop raises on purpose, in one module, each with the HTTP status the API answers.

Each is also a Metaflow exception (exception.py): FlowdropError is a
MetaflowException, and the client's and merge_artifacts' errors are the
Metaflow classes code written for Metaflow catches.

Every error a user can see derives from FlowdropError and carries a message
that names what is wrong, where, and what to do. Entry points print the
message and exit non-zero; they never show a traceback for these. The HTTP
API answers each with its `http_status` (http_answer), so mapping an error
to an answer needs no service module: 400 for a malformed request or wrong
parameters (with every problem), 404 for an unknown flow, run, version or
deployment, 502 when an AWS call failed, 500 for anything else.
"""

from __future__ import annotations

from collections.abc import Iterable

from flowdrop.exception import (
    MetaflowException,
    MetaflowNamespaceMismatch,
    MetaflowNotFound,
    MetaflowTaggingError,
    MissingInMergeArtifactsException,
    UnhandledInMergeArtifactsException,
)

TYPE_CHECKING = False  # typing's own, without importing typing (milliseconds of every flow's start)
if TYPE_CHECKING:
    from typing import Any


class FlowdropError(MetaflowException):
    """Root of every error flowdrop raises on purpose; a MetaflowException, so Metaflow code catches it."""

    http_status = 500  # our fault, said plainly

    def __init__(self, message: str = ""):
        # Not super(): a child that is also a Metaflow class (NamespaceMismatchError)
        # would get the message as that class's own first argument.
        MetaflowException.__init__(self, message)


class FlowError(FlowdropError):
    """A flow's source is invalid: every problem found, each naming file, line and step."""

    def __init__(self, problems: Iterable[str]):
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class ParameterError(FlowdropError):
    """A parameter value is missing, unknown or of the wrong type."""

    def __init__(self, problems: Iterable[str]):
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class DecoratorError(FlowdropError):
    """A decorator has arguments that cannot work (a bad cron expression, say)."""


class FlowConfigError(FlowdropError):
    """A flow's Config (Metaflow's user configs) has no value, a bad one, or an expression that cannot be evaluated."""

    http_status = 400

    def __init__(self, problems: Iterable[str]):
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class DatastoreError(FlowdropError):
    """Artifacts or metadata could not be read or written."""


class TaskError(FlowdropError):
    """A task failed; the message names the step and the exception."""


class CompileError(FlowdropError):
    """A graph cannot become a valid state machine (a Step Functions limit, say)."""

    def __init__(self, problems: Iterable[str]):
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class PackageError(FlowdropError):
    """A code package or its manifest is malformed or unsafe."""


class DeployError(FlowdropError):
    """A deployment could not be carried out; names the AWS operation and resource."""

    http_status = 502


class AlertError(FlowdropError):
    """An alert could not be delivered; names the run, the target and why (SQS delivers the event again)."""

    http_status = 502


class TriggerError(FlowdropError):
    """A run could not be started; names the flow and the reason."""


class ConfigError(FlowdropError):
    """The client configuration (bucket, endpoint, API URL) is missing or wrong."""


class MissingKey(DatastoreError):
    """A key that was read does not exist; the message names the datastore URL and the key."""

    def __init__(self, url: str, key: str):
        self.url = url
        self.key = key
        super().__init__(f"{url}: no such key '{key}'")


class MissingObjectError(FlowdropError, MetaflowNotFound):
    """A flow, run, step or task does not exist; the message names its pathspec."""

    def __init__(self, kind: str, pathspec: str, where: str, problem: str = "does not exist in"):
        self.pathspec = pathspec
        super().__init__(f"{kind}('{pathspec}') {problem} {where}")


class MissingChildError(MissingObjectError, KeyError):
    """run['step'], step['task'] or flow['run'] of one that does not exist: a KeyError too, as in Metaflow."""

    def __str__(self) -> str:
        return MissingObjectError.__str__(self)


class NamespaceMismatchError(FlowdropError, MetaflowNamespaceMismatch):
    """A run exists but is outside the current namespace."""

    def __init__(self, pathspec: str, current: str, tags: frozenset[str]):
        self.pathspec = pathspec
        shown = ", ".join(sorted(t for t in tags if ":" in t)) or "none"
        super().__init__(
            f"Run('{pathspec}') is not in the current namespace '{current}' (its namespace tags: {shown}). "
            "Call namespace(None) to see runs of every namespace, or namespace('<tag>') to switch."
        )


class ApiError(FlowdropError):
    """A request to the flowdrop API failed; `status` is None when no answer came back."""

    def __init__(self, message: str, *, status: int | None = None, problems: tuple[str, ...] = (),
                 method: str = "", url: str = ""):
        self.status = status
        self.problems = tuple(problems)
        self.method = method
        self.url = url
        lines = [message, *(f"  - {p}" for p in self.problems)]
        super().__init__("\n".join(lines))


class FlowNotFoundError(TriggerError):
    """The flow (or run, or version) asked for does not exist: HTTP 404."""

    http_status = 404


class RunEndedError(TriggerError):
    """The run asked to change has already ended: HTTP 409."""

    http_status = 409


class RunStillRunningError(TriggerError):
    """The run asked for must have ended first (a resume of a running run): HTTP 409."""

    http_status = 409


class RequestError(TriggerError):
    """A request is malformed or its values are wrong: HTTP 400, with every problem."""

    http_status = 400

    def __init__(self, message: str, problems: tuple[str, ...] = ()):
        self.problems = tuple(problems)
        super().__init__(message)


class RequestTooLargeError(RequestError):
    """A request body is larger than the API takes: HTTP 413."""

    http_status = 413


class DefinitionRejectedError(CompileError):
    """Step Functions refused the definition itself: the package is at fault, so retrying cannot help."""


class MergeArtifactsError(FlowdropError):
    """merge_artifacts was called wrongly, or found values it cannot merge."""


class MissingInMergeArtifactsError(MergeArtifactsError, MissingInMergeArtifactsException):
    """merge_artifacts(include=...) named artifacts that no input has; `artifact_names` lists them."""

    def __init__(self, message: str, names: Iterable[str]):
        super().__init__(message)
        self.artifact_names = list(names)


class UnhandledInMergeArtifactsError(MergeArtifactsError, UnhandledInMergeArtifactsException):
    """merge_artifacts found artifacts whose values differ across inputs; `artifact_names` lists them."""

    def __init__(self, message: str, names: Iterable[str]):
        super().__init__(message)
        self.artifact_names = list(names)


class TaggingError(FlowdropError, MetaflowTaggingError):
    """A tag is invalid, or a change of a run's tags is not allowed (removing a system tag)."""


class ScheduleNotFoundError(FlowdropError, LookupError):
    """The flow has no enabled schedule rule."""


class DemoError(FlowdropError):
    """One part of the demo did not do what it should."""


def http_answer(err: FlowdropError) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for an error a service raised: `{"error", "problems"?}`."""
    body: dict[str, Any] = {"error": str(err)}
    if isinstance(err, RequestError):
        # A hostile body can hold thousands of bad fields: the answer lists the first ones and counts the rest.
        shown = list(err.problems[:MAX_PROBLEMS_SHOWN])
        if len(err.problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"... and {len(err.problems) - MAX_PROBLEMS_SHOWN} more problems")
        body["problems"] = shown
    return err.http_status, body


MAX_PROBLEMS_SHOWN = 20
