"""Prints how many of Metaflow's core-suite cases passed in this session."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    reports = [r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, [])
               if getattr(r, "when", "call") == "call" and "test_metaflow_core_case" in r.nodeid]
    if reports:
        passed = sum(1 for r in reports if r.passed)
        terminalreporter.write_line(f"metaflow test/core (make test subset): {passed} of {len(reports)} cases pass; "
                                    "the whole suite: python tests/metaflow_core/harness.py")
