"""flowdrop's deployer on AWS Lambda: what Chalice and Lambda load.

The app, its routes and its handlers live in flowdrop.deployer.app; this file
makes the library importable under its one name and exposes the names
Chalice's handlers are looked up by (`app.app`, `app.deploy`, ...).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any


def _import_flowdrop() -> Any:
    """The library under its one name: installed (dev, tests), else chalicelib/ of the Lambda bundle."""
    try:
        import flowdrop
    except ModuleNotFoundError as err:
        if err.name != "flowdrop":
            raise
        folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chalicelib")
        spec = importlib.util.spec_from_file_location(
            "flowdrop", os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])
        assert spec is not None and spec.loader is not None
        flowdrop = importlib.util.module_from_spec(spec)
        sys.modules["flowdrop"] = flowdrop
        spec.loader.exec_module(flowdrop)
    return flowdrop


flowdrop = _import_flowdrop()

from flowdrop.deployer.app import app, clients, deploy, scheduled, settings, token_authorizer  # noqa: E402
from flowdrop.runtime.lambda_task import handler as run_task  # noqa: E402


@app.lambda_function(name="task")
def task(event: dict, context: Any) -> dict:
    """The lambda backend's task runner (its own role, without the deployer's rights: the template's TaskFunctionRole)."""
    return run_task(event, context)


__all__ = ["app", "clients", "deploy", "flowdrop", "scheduled", "settings", "task", "token_authorizer"]
