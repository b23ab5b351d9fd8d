"""How every command line of flowdrop reports failure: a red message and an exit code.

Owns: `fail` and `messages_not_tracebacks`, shared by the flow CLI
(`python flow.py ...`), its step-functions group and the `flowdrop` command,
so that a user error never shows a traceback and exit codes mean the same
everywhere (1: it failed, 2: the input was wrong).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click

from flowdrop.errors import FlowdropError, ParameterError


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `message` in red on stderr and exit with `code`."""
    click.secho(message, fg="red", err=True)
    raise SystemExit(code)


@contextmanager
def messages_not_tracebacks() -> Iterator[None]:
    """flowdrop errors become a red message and a non-zero exit, also under CliRunner."""
    from flowdrop.errors import ApiError

    try:
        yield
    except ParameterError as err:
        fail("Invalid parameters:\n  " + "\n  ".join(err.problems), 2)
    except ApiError as err:
        fail(str(err), 2 if err.status == 400 else 1)
    except FlowdropError as err:
        fail(str(err))
