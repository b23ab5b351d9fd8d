"""Calling a flow's @exit_hook functions once its run has ended, locally and in production.

Owns: finding each hook by name (a dotted import path, else a name in the
flow file's module, as Metaflow's exit_hook script does), calling it (with
`run=`, the run's client Run, when it takes `run` or **kwargs), keeping what it
prints, reporting a hook that raises without letting it change anything, and
recording every hook's result in the run's `exit-hooks.json`. The local
runtime calls run_exit_hooks after its last task; in production the compiled
state machine's final hook task (compiler/exit_hooks.py) reaches
run_exit_hook_task through the task runner. Does not own: which hooks a flow
has (model/exit_hooks.py).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import sys
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from flowdrop.current import current
from flowdrop.datastore import FlowDatastore
from flowdrop.model.exit_hooks import ERROR_MODE, HOOK_STEP, SUCCESS_MODE, exit_hooks_record, hook_names, hook_result
from flowdrop.model.graph import Graph
from flowdrop.model.task import TaskPayload, task_output


def find_hook(name: str, namespace: Mapping[str, Any]) -> Callable[..., Any]:
    """The function `name` names: 'module.fn' imported, else `name` in the flow module's namespace."""
    if "." in name:
        module_name, _, attribute = name.rpartition(".")
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError):
            pass  # `helpers.notify` may also be an attribute path inside the flow file
    target: Any = namespace
    for position, part in enumerate(name.split(".")):
        target = target.get(part) if position == 0 and isinstance(target, Mapping) else getattr(target, part, None)
        if target is None:
            raise LookupError(f"no function {name!r} in the flow file, and no module provides it; define or "
                              "import it in the flow file, or name it as 'module.function'")
    if not callable(target):
        raise LookupError(f"{name!r} is a {type(target).__name__}, not a function")
    return target


def _wants_run(hook: Callable[..., Any]) -> bool:
    try:
        spec = inspect.getfullargspec(hook)
    except TypeError:  # a builtin without a signature
        return False
    return "run" in spec.args or "run" in spec.kwonlyargs or spec.varkw is not None


def call_hook(name: str, namespace: Mapping[str, Any], make_run: Callable[[], Any]) -> dict[str, Any]:
    """Call one hook, keeping what it prints; a hook that raises (or exits) is reported in its result."""
    kept = io.StringIO()
    ok, error = True, None
    with contextlib.redirect_stdout(kept), contextlib.redirect_stderr(kept):
        try:
            hook = find_hook(name, namespace)
            if _wants_run(hook):
                hook(run=make_run())
            else:
                hook()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a hook may raise anything; it changes nothing
            ok = False
            error = f"{type(exc).__name__}: {exc}"
            # The hook's own frames: the first one is this function's call.
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None,
                                      file=kept)
    return hook_result(name, ok, kept.getvalue(), error)


def run_exit_hooks(graph: Graph, datastore: FlowDatastore, run_id: str, successful: bool,
                   namespace: Mapping[str, Any], echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Call the run's on_success (or on_error) hooks once each, print their output, record them; their results.

    Nothing a hook does changes the run: a failure is printed as Metaflow's
    runtime prints it ("[exit_hook] Hook 'fn' failed with error: ...") and kept
    in exit-hooks.json. A run whose hooks were already recorded (a retried
    production hook task) calls none again.
    """
    names = hook_names(graph, successful)
    if not names:
        return []
    recorded = datastore.read_exit_hooks(run_id)
    if recorded is not None:
        return list(recorded.get("hooks") or [])

    def make_run() -> Any:
        return current._run_in(datastore.storage, f"{datastore.flow_name}/{run_id}")

    results = []
    for name in names:
        result = call_hook(name, namespace, make_run)
        if result["output"]:
            echo(result["output"].rstrip("\n"))
        if not result["ok"]:
            echo(f"[exit_hook] Hook '{name}' failed with error: {result['error']}")
        results.append(result)
    finished = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    datastore.write_exit_hooks(run_id, exit_hooks_record(successful, results, finished))
    return results


def flow_namespace(flow_cls: type) -> Mapping[str, Any]:
    """The globals of the module that defines the flow class: where its hooks are named."""
    module = sys.modules.get(flow_cls.__module__)
    return vars(module) if module is not None else {}


def run_exit_hook_task(graph: Graph, datastore: FlowDatastore, flow_cls: type, payload: TaskPayload) -> dict[str, Any]:
    """The hook task of a production run (mode exit_hook_success / exit_hook_error): call the hooks; its output.

    It succeeds whatever the hooks do, so a hook's failure never fails the
    run; on the failure path the state machine still ends FAILED after it.
    """
    successful = payload.mode == SUCCESS_MODE
    if payload.mode not in (SUCCESS_MODE, ERROR_MODE):
        raise ValueError(f"not an exit hook mode: {payload.mode!r}")
    results = run_exit_hooks(graph, datastore, payload.run_id, successful, flow_namespace(flow_cls))
    out = task_output(HOOK_STEP)
    out["exit_hooks"] = [{"name": r["name"], "ok": r["ok"]} for r in results]
    return out
