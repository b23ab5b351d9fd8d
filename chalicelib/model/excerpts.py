"""How a value from untrusted input is quoted in an error: short, whatever its size.

Owns: the one rule every message follows (decorator arguments, parameter
values, request bodies): the repr or the text, cut to a limit with "...", so
an error never echoes a huge input. Pure.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's own, without importing typing (milliseconds of every flow's start)
if TYPE_CHECKING:
    from typing import Any



def short_text(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters (the last three "...")."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_repr(value: Any, limit: int) -> str:
    """repr(value), cut to `limit` characters; an int too long for str() is named by its type."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        text = f"<{type(value).__name__}>"
    return short_text(text, limit)
