"""The flowdrop exception hierarchy.

Every error a user can see derives from FlowdropError and carries a message
that names what is wrong, where, and what to do. Entry points print the
message and exit non-zero; they never show a traceback for these.
"""

from __future__ import annotations

from collections.abc import Iterable


class FlowdropError(Exception):
    """Root of every error flowdrop raises on purpose."""


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


class TriggerError(FlowdropError):
    """A run could not be started; names the flow and the reason."""


class ConfigError(FlowdropError):
    """The client configuration (bucket, endpoint, API URL) is missing or wrong."""
