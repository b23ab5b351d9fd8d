"""The static check `--pylint` runs over a flow file before `run`, `resume` and `check`.

Owns: running pyflakes over the flow's source and sorting what it says into
errors (code that cannot work: an undefined name, `return` outside a
function) and warnings (an unused import). As in Metaflow, whose --pylint
runs pylint with --errors-only: only errors stop a run, every one of them
listed, and `--no-pylint` skips the check. `check --warnings` lists the
warnings too. Does not own the graph checks (graph/lint.py), which always run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowdrop.errors import FlowdropError

# pyflakes message classes that mean the code is broken, not just untidy.
# The rest (UnusedImport, RedefinedWhileUnused, ...) are warnings.
ERROR_MESSAGES = frozenset({
    "UndefinedName", "UndefinedExport", "UndefinedLocal", "DuplicateArgument", "ReturnOutsideFunction",
    "YieldOutsideFunction", "ContinueOutsideLoop", "BreakOutsideLoop", "DefaultExceptNotLast",
    "TwoStarredExpressions", "TooManyExpressionsInStarredAssignment", "ForwardAnnotationSyntaxError",
    "StringDotFormatExtraPositionalArguments", "StringDotFormatMissingArgument", "PercentFormatMissingArgument",
    "PercentFormatPositionalCountMismatch", "SyntaxError", "UnexpectedError",
})


class PyLintError(FlowdropError):
    """The static check found errors in the flow file (Metaflow: "Pylint is not happy")."""


@dataclass(frozen=True)
class LintMessage:
    """One pyflakes finding, with its place in the file."""

    path: str
    line: int
    column: int
    kind: str
    text: str

    @property
    def is_error(self) -> bool:
        """True when the code cannot work as written."""
        return self.kind in ERROR_MESSAGES

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column + 1}: {self.text}"


class _Collector:
    """A pyflakes reporter that keeps messages instead of printing them."""

    def __init__(self) -> None:
        self.messages: list[LintMessage] = []

    def flake(self, message) -> None:  # noqa: ANN001 - pyflakes' Message
        text = message.message % message.message_args
        self.messages.append(LintMessage(message.filename, message.lineno, message.col, type(message).__name__, text))

    def syntaxError(self, filename: str, msg: str, lineno: int, offset: int | None, text: str | None) -> None:  # noqa: N802
        self.messages.append(LintMessage(filename, lineno or 0, (offset or 1) - 1, "SyntaxError", msg))

    def unexpectedError(self, filename: str, msg: str) -> None:  # noqa: N802
        self.messages.append(LintMessage(filename, 0, 0, "UnexpectedError", msg))


def lint_flow_file(path: Path) -> list[LintMessage] | None:
    """pyflakes' findings over `path`, in file order; None when pyflakes is not installed."""
    try:
        from pyflakes import api
    except ImportError:
        return None
    collector = _Collector()
    api.check(path.read_text(encoding="utf-8", errors="replace"), str(path), collector)
    return sorted(collector.messages, key=lambda m: (m.line, m.column))


def check_flow_file(path: Path, echo, warnings: bool = False) -> None:
    """Report pyflakes' findings through `echo`; raise PyLintError listing every error found."""
    messages = lint_flow_file(path)
    if messages is None:
        echo("    pyflakes not found, so extra checks are disabled.")
        return
    shown = [m for m in messages if warnings or m.is_error]
    errors = [m for m in messages if m.is_error]
    for message in shown:
        echo(f"    {message}")
    if errors:
        raise PyLintError(f"{path.name}: the static check found {len(errors)} error(s):\n"
                          + "\n".join(f"  {m}" for m in errors)
                          + "\nFix them, or say --no-pylint to run anyway.")
    echo("    Pyflakes is happy!")


def say_ignored(obj: Any) -> None:
    """The Metaflow decorators the flow carries that flowdrop accepts and ignores, each with why (stderr)."""
    from flowdrop.model.ignored import ignored_notes

    notes = ignored_notes(obj.graph)
    if notes:
        obj.echo("Not carried out by flowdrop:", fg="yellow")
        for note in notes:
            obj.echo(f"    {note}", fg="yellow")


def check_flow(obj: Any, warnings: bool = False) -> None:
    """Metaflow's pre-run check of a FlowContext: the graph (valid once parsed), then pyflakes unless --no-pylint."""
    obj.echo("Validating your flow...", fg="magenta")
    obj.echo("    The graph looks good!", fg="green")
    say_ignored(obj)
    if obj.pylint:
        obj.echo("Running pyflakes...", fg="magenta")
        check_flow_file(obj.flow_file, obj.echo, warnings=warnings)
