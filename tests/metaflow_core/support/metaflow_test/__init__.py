"""flowdrop's own stand-in for the `metaflow_test` package Metaflow's core suite imports.

Owns: the names the vendored cases (../../tests/*.py) and the flows generated
from them import: `steps` and `tag` (marking a test's step bodies and the
decorators they carry), `MetaflowTest`, the assertion helpers, the exceptions
a case raises on purpose (`ResumeFromHere`, `TestRetry`), and `new_checker`,
which picks the checker named on the command line. Written for flowdrop from
what the cases use; Metaflow's own file is not copied.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from flowdrop.exception import MetaflowException

_SHOWN = 500  # characters of a value an assertion message shows


def steps(prio: int, quals: list[str], required: bool = False) -> Callable:
    """Mark a test method as the body of every graph step whose qualifiers meet `quals`; lower prio wins."""

    def mark(func: Callable) -> Callable:
        func.is_step = True
        func.prio = prio
        func.quals = set(quals)
        func.required = required
        func.tags = []
        return func

    return mark


def tag(spec: str, **_: Any) -> Callable:
    """Put the decorator `@spec` on the steps a test body becomes (apply it above @steps)."""

    def mark(func: Callable) -> Callable:
        func.tags.append(spec)
        return func

    return mark


def truncate(value: Any) -> str:
    """`str(value)`, cut for messages."""
    text = str(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


class ExpectationFailed(Exception):
    """A test's expectation did not hold."""

    def __init__(self, expected: Any, got: Any):
        super().__init__(f"Expected result: {truncate(expected)}, got {truncate(got)}")


class AssertArtifactFailed(Exception):
    """An artifact read back after the run is not what the test expects."""


class AssertLogFailed(Exception):
    """A task's log read back after the run is not what the test expects."""


class AssertCardFailed(Exception):
    """Cards are not part of flowdrop; a case that reads one fails with this."""


class ResumeFromHere(MetaflowException):
    """Raised by a case to fail its first run where it wants `resume` to pick up."""

    headline = "Resume requested"

    def __init__(self) -> None:
        super().__init__("This is not an error. Testing resume...")


class TestRetry(MetaflowException):
    """Raised by a case to make @retry try again."""

    headline = "Testing retry"

    def __init__(self) -> None:
        super().__init__("This is not an error. Testing retry...")


def is_resumed() -> bool:
    """True inside a task of a resumed run."""
    from flowdrop import current

    return current.origin_run_id is not None


def origin_run_id_for_resume() -> str | None:
    """The run a resumed run was resumed from."""
    from flowdrop import current

    return current.origin_run_id


def try_to_get_card(id: str | None = None, timeout: int = 60) -> Any:  # noqa: A002 - the suite's keyword
    """Cards are not implemented in flowdrop."""
    raise AssertCardFailed("flowdrop has no cards")


def assert_equals(expected: Any, got: Any) -> None:
    """Raise ExpectationFailed unless expected == got."""
    if expected != got:
        raise ExpectationFailed(expected, got)


def assert_equals_metadata(expected: dict, got: dict, exclude_keys: Any = None) -> None:
    """The two dicts have the same keys (but `exclude_keys`) and equal values under them."""
    skip = set(exclude_keys or ())
    want, have = set(expected) - skip, set(got) - skip
    if want != have:
        raise ExpectationFailed(f"keys: {sorted(want)}", f"keys: {sorted(have)}")
    for key in sorted(want):
        if expected[key] != got[key]:
            raise ExpectationFailed(f"[{key}]: {expected[key]}", f"[{key}]: {got[key]}")


def assert_exception(func: Callable[[], Any], exception: type[BaseException]) -> None:
    """Calling func raises `exception`."""
    try:
        func()
    except exception:
        return
    except Exception as err:  # noqa: BLE001 - any other exception is the failure being reported
        raise ExpectationFailed(exception, err) from err
    raise ExpectationFailed(exception, "no exception")


class MetaflowTest:
    """Base of every case: its parameters, files, configs, class variables and header, and its checks."""

    PRIORITY = 999999999
    PARAMETERS: dict = {}
    INCLUDE_FILES: dict = {}
    CONFIGS: dict = {}
    CLASS_VARS: dict = {}
    HEADER = ""

    def check_results(self, flow: Any, checker: Any) -> Any:
        return False


def new_checker(flow: Any) -> Any:
    """The checker named by argv[1] (CliCheck or MetadataCheck), for run argv[2]."""
    from metaflow_test.checks import CliCheck, MetadataCheck

    kinds = {"CliCheck": CliCheck, "MetadataCheck": MetadataCheck}
    return kinds[sys.argv[1]](flow)
