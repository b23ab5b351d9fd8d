"""Running flows as a user would: `python flow.py ...` in a subprocess, or the flow file imported in-process."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from flowdrop.graph import parse_flow_file

ROOT = Path(__file__).resolve().parents[2]
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


def load_flow(path: Path) -> tuple[type, Any, Any]:
    """Import a flow file as a user's `python flow.py` would, and parse its graph."""
    module_name = f"flow_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    graph = parse_flow_file(path)
    return getattr(module, graph.flow_name), graph, module
