"""`profile`, as Metaflow's: time a block of a step, print it, and keep it in a dict.

Owns: the context manager. Does not own: anything a task records (a
profile is the step's own output, in its stdout like any print).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def profile(label: str, stats_dict: dict[str, int] | None = None) -> Iterator[None]:
    """`with profile('fit'):` prints when the block starts and how long it took (ms); with a `stats_dict`,
    it prints nothing and adds the milliseconds to `stats_dict[label]` instead."""
    if stats_dict is None:
        print(f"PROFILE: {label} starting")
    start = time.monotonic()
    try:
        yield
    finally:
        took = int((time.monotonic() - start) * 1000)
        if stats_dict is None:
            print(f"PROFILE: {label} completed in {took}ms")
        else:
            stats_dict[label] = stats_dict.get(label, 0) + took
