"""Running example flows as a user would: `python flow.py ...` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TEST_FLOWS = ROOT / "tests" / "flows"


def run_flow(flow_file: Path, *args: str, datastore: str | Path, env: dict | None = None,
             config: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python flow_file --datastore D args...` and return the finished process."""
    full_env = dict(os.environ)
    full_env.pop("FLOWDROP_DATASTORE", None)
    # No user config leaks into tests: only what the test passes counts.
    full_env["FLOWDROP_CONFIG"] = str(config or "/nonexistent/flowdrop-config.json")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(flow_file), "--datastore", str(datastore), *args],
        capture_output=True, text=True, env=full_env, timeout=timeout, cwd=str(flow_file.parent),
    )
