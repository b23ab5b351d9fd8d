"""The error @timeout raises inside a step, under Metaflow's dotted name.

Owns: TimeoutException. A step that outlives its @timeout gets it raised
where it runs, and @catch records its type as
`flowdrop.plugins.timeout_decorator.TimeoutException`, the name Metaflow
gives it with only the module's root changed.
"""

from __future__ import annotations

from flowdrop.exception import MetaflowException


class TimeoutException(MetaflowException):
    """A step ran past its @timeout."""

    headline = "@timeout"
