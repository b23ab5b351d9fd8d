"""The canonical JSON of a definition and the Step Functions limits it must respect.

Owns: definition_json (what gets uploaded, byte-identical for the same ASL),
readable_json (the same, indented for people: `--only-json`) and check_limits (every limit problem at once, each naming the state and
step at fault). Does not own: building the ASL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from flowdrop.errors import CompileError
from flowdrop.model.state_names import step_of

MAX_DEFINITION_BYTES = 1_048_576  # Step Functions: 1 MiB of UTF-8
MAX_STATE_NAME = 80  # Step Functions: state names are 1-80 characters
# AWS documents no depth limit for Parallel and Map; every foreach level
# doubles the compiled body (inline + distributed copy), so past this the
# definition grows 2^depth and nobody can read the graph in the console.
MAX_NESTING_DEPTH = 8
# Characters Step Functions rejects in names: whitespace, brackets,
# wildcards, these specials and control characters.
_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


def definition_json(asl: dict[str, Any]) -> str:
    """The definition as uploaded: sorted keys, compact separators, UTF-8 text."""
    return json.dumps(asl, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def readable_json(value: Any, indent: str = "  ") -> str:
    """Exactly json.dumps(value, indent=2, sort_keys=True) for string-keyed JSON, faster on a large definition.

    json.dumps drops to its pure-Python encoder whenever it indents; this
    walks the containers itself and hands strings to the C escaper.
    """
    from json.encoder import encode_basestring_ascii as quote

    other = json.JSONEncoder().encode
    keys: dict[str, str] = {}
    out: list[str] = []
    append = out.append

    def write(item: Any, pad: str) -> None:
        kind = type(item)
        if kind is str:
            append(quote(item))
        elif kind is dict and item:
            inner = ",\n" + pad + indent
            append("{\n" + pad + indent)
            first = True
            for key in sorted(item):
                if not first:
                    append(inner)
                first = False
                text = keys.get(key)
                if text is None:
                    text = keys[key] = quote(key) + ": "
                append(text)
                write(item[key], pad + indent)
            append("\n" + pad + "}")
        elif kind in (list, tuple) and item:
            inner = ",\n" + pad + indent
            append("[\n" + pad + indent)
            for n, element in enumerate(item):
                if n:
                    append(inner)
                write(element, pad + indent)
            append("\n" + pad + "]")
        else:
            append(other(item))

    write(value, "")
    return "".join(out)


def _states(machine: dict[str, Any], depth: int = 0) -> Iterator[tuple[str, dict[str, Any], int]]:
    """Every (name, state, nesting depth) of a state machine, including Parallel and Map bodies."""
    for name, state in machine.get("States", {}).items():
        yield name, state, depth
        for branch in state.get("Branches", ()):
            yield from _states(branch, depth + 1)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _states(state[key], depth + 1)


def check_limits(asl: dict[str, Any]) -> None:
    """Raise CompileError listing every Step Functions limit the definition breaks."""
    problems: list[str] = []
    seen: set[str] = set()
    deepest = 0
    for name, _state, depth in _states(asl):
        where = f"state '{name}' (step '{step_of(name)}')"
        if not name or len(name) > MAX_STATE_NAME:
            problems.append(f"{where}: the name is {len(name)} characters; Step Functions allows 1 to "
                            f"{MAX_STATE_NAME}. Give the step a shorter name.")
        bad = sorted(set(_FORBIDDEN.findall(name)))
        if bad:
            problems.append(f"{where}: Step Functions rejects the characters {' '.join(map(repr, bad))} "
                            f"in state names. Rename the step.")
        if name in seen:
            problems.append(f"{where}: the name is used twice; state names must be unique in a state machine.")
        seen.add(name)
        if depth > MAX_NESTING_DEPTH and depth > deepest:
            problems.append(f"{where}: nested {depth} Parallel/Map levels deep; the most flowdrop compiles is "
                            f"{MAX_NESTING_DEPTH}. Flatten the branches or foreach steps around it.")
        deepest = max(deepest, depth)
    # Key order does not change the length; skipping the sort saves a quarter of the time.
    size = len(json.dumps(asl, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > MAX_DEFINITION_BYTES:
        problems.append(f"the definition is {size:,} bytes; Step Functions accepts at most "
                        f"{MAX_DEFINITION_BYTES:,} (1 MiB). Split the flow, or reduce foreach nesting "
                        f"(each foreach body is compiled twice).")
    if problems:
        raise CompileError(problems)
