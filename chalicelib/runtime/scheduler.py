"""The local runtime: schedules a run's tasks over the graph on this machine.

Owns: deciding which tasks are ready, launching each through the task
runner (`python flow.py step ...`) in a subprocess, at most `max_workers`
at once, prefixing their live output, retrying per @retry, running the
@catch fallback after a final failure, killing tasks past their @timeout
(the runner enforces it too; this is the backstop), and the run's final
status; a foreach wider than --max-num-splits fails the run. Tasks cloned by `resume` count as finished without running.
Production never uses this: Step Functions is the scheduler there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from flowdrop.datastore import FlowDatastore
from flowdrop.model.decorators import Decorator, effective_decorators, timeout_seconds
from flowdrop.model.graph import Graph
from flowdrop.model.task import TaskPayload, task_id_for
from flowdrop.runtime import task_command
from flowdrop.runtime.forked import fork_task
from flowdrop.runtime.inputs import foreach_step_closed_by
from flowdrop.runtime.task import now_iso

TaskKey = tuple[str, tuple[int, ...]]  # (step, foreach indices)


@dataclass(frozen=True)
class RunOptions:
    """How a local run behaves."""

    max_workers: int = 16
    with_decorators: tuple[Decorator, ...] = ()
    with_specs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    datastore_root: str | None = None
    origin_run_id: str | None = None
    echo: Callable[[str], None] = print
    # How tasks start: "fork" (the scheduler's own process, forked: fast) or
    # "subprocess" (`python flow.py step ...`, as workers and Batch do).
    launcher: str = "fork"
    # As Metaflow's `run --max-num-splits`: a foreach wider than this fails the run.
    max_num_splits: int = 100
    max_log_size: int = 10  # MB of each task's stdout and stderr kept
    namespace: str | None = None  # the client API's namespace inside tasks ("" for every namespace)
    # Top-level flow options task subprocesses get (the run's Config values fixed at its start, --branch).
    top_options: tuple[str, ...] = ()


@dataclass
class RunResult:
    """How a run ended."""

    run_id: str
    succeeded: bool
    failed_step: str | None = None
    failed_task: str | None = None
    error: str | None = None
    tasks_run: int = 0
    tasks_cloned: int = 0
    interrupted: str | None = None  # SIGINT or SIGTERM when a signal stopped the run


@dataclass
class _Running:
    key: TaskKey
    mode: str
    process: Any  # subprocess.Popen or forked.ForkedTask
    output_file: Path
    deadline: float | None
    threads: list[threading.Thread] = field(default_factory=list)
    # What the task printed, kept in case it dies before saving its own logs (a segfault, a kill).
    captured: dict[str, list[bytes]] = field(default_factory=lambda: {"stdout": [], "stderr": []})


def new_run_id() -> str:
    """A local run id: microseconds since the epoch, like Metaflow's."""
    return str(time.time_ns() // 1000)


class LocalScheduler:
    """Runs one flow run's tasks locally, in dependency order."""

    def __init__(
        self,
        flow_file: Path,
        graph: Graph,
        datastore: FlowDatastore,
        run_id: str,
        options: RunOptions,
        parameters_json: str | None = None,
        cloned: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
        run_forked: Callable[[TaskPayload], dict[str, Any]] | None = None,
    ):
        self.flow_file = flow_file
        self.graph = graph
        self.datastore = datastore
        self.run_id = run_id
        self.options = options
        self.parameters_json = parameters_json
        self.cloned = dict(cloned or {})  # by (step, task id), from resume.clone_tasks
        self._clones_used: set[tuple[str, str]] = set()
        self.run_forked = run_forked if options.launcher == "fork" and hasattr(os, "fork") else None
        self._lock = threading.Lock()
        self._tmp = Path(tempfile.mkdtemp(prefix="flowdrop-run-"))
        self._done: dict[TaskKey, dict[str, Any]] = {}
        self._attempts: dict[TaskKey, int] = {}
        self._ready: deque[tuple[TaskKey, str]] = deque()  # (task, "run" or "catch"), first in first out
        self._running: list[_Running] = []
        self._tasks_run = 0
        # Flows with a switch: which parent ran depends on data, so the
        # scheduler tells each task its inputs, and counts recursive runs.
        self._switches = any(node.is_switch for node in graph)
        self._inputs: dict[TaskKey, tuple[str, ...]] = {}
        self._iteration: dict[TaskKey, int] = {}
        self._launching = False  # a signal arriving mid-launch waits until the task is registered (to be stopped)
        self._deferred_signal: str | None = None

    # -- graph walking -------------------------------------------------------------

    def _successors(self, key: TaskKey, output: Mapping[str, Any]) -> list[TaskKey]:
        step, indices = key
        node = self.graph[step]
        here = f"{step}/{output.get('task_id') or task_id_for(step, indices, self._iteration.get(key, 0))}"
        if node.foreach_param is not None:
            count = int(output.get("foreach_count") or 0)
            return [self._inputs_for((node.out_funcs[0], (*indices, k)), (here,)) for k in range(count)]
        targets = node.out_funcs
        if node.is_switch:
            # A switch runs only the case it chose; back to itself, it runs again at the same place.
            chosen = output.get("switch_target")
            targets = (chosen,) if chosen in node.out_funcs else ()
            if chosen == step:
                self._iteration[key] = self._iteration.get(key, 0) + 1
        out: list[TaskKey] = []
        for child_name in targets:
            child = self.graph[child_name]
            if not child.is_join:
                out.append(self._inputs_for((child_name, indices), (here,)))
                continue
            foreach = foreach_step_closed_by(self.graph, child_name)
            if foreach is not None:
                outer = indices[:-1]
                count = self._done[(foreach, outer)]["foreach_count"]
                # With a switch inside the foreach, any of the join's parents may have run at an index.
                ran = [next((p for p in child.in_funcs if (p, (*outer, k)) in self._done), None) for k in range(count)]
                if None in ran:
                    continue
                needed = [(p, (*outer, k)) for k, p in enumerate(ran)]
                join_key = (child_name, outer)
            else:
                ran = [p for p in child.in_funcs if (p, indices) in self._done]
                split = next((n for n in self.graph if n.is_split and n.matching_join == child_name), None)
                wanted = len(split.out_funcs) if split is not None and self._switches else len(child.in_funcs)
                if len(ran) < wanted:
                    continue
                needed = [(p, indices) for p in ran]
                join_key = (child_name, indices)
            out.append(self._inputs_for(join_key, tuple(self._path(k) for k in needed)))
        return out

    def _path(self, key: TaskKey) -> str:
        done = self._done[key]
        return f"{key[0]}/{done.get('task_id') or task_id_for(*key)}"

    def _inputs_for(self, key: TaskKey, paths: tuple[str, ...]) -> TaskKey:
        """Remember the input tasks of `key` (passed on to the runner in flows with a switch)."""
        self._inputs[key] = paths
        return key

    # -- launching -----------------------------------------------------------------

    def _push(self, key: TaskKey, mode: str = "run") -> None:
        self._ready.append((key, mode))

    def _launch(self, key: TaskKey, mode: str) -> None:
        step, indices = key
        payload = TaskPayload(self.graph.flow_name, step, self.run_id, indices,
                              parameters=self.parameters_json if step == "start" else None, mode=mode,
                              input_paths=self._inputs.get(key) if self._switches and step != "start" else None,
                              iteration=self._iteration.get(key, 0))
        self._tasks_run += 1
        output_file = self._tmp / f"{payload.task_id}.{self._tasks_run}.json"
        process: Any
        if self.run_forked is not None:
            process = fork_task(self.run_forked, payload, output_file)
        else:
            args = task_command(self.flow_file, payload, output_file, self.options.datastore_root,
                                with_specs=self.options.with_specs, tags=self.options.tags,
                                origin_run_id=self.options.origin_run_id, namespace=self.options.namespace,
                                max_log_size=self.options.max_log_size, top_options=self.options.top_options)
            env = dict(os.environ, PYTHONUNBUFFERED="1")
            process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        decorators = effective_decorators(self.graph[step], self.options.with_decorators)
        limit = timeout_seconds(decorators["timeout"]) if "timeout" in decorators else 0
        deadline = time.monotonic() + limit + 10 if limit else None
        running = _Running(key, mode, process, output_file, deadline)
        prefix = f"[{step}/{payload.task_id} (pid {process.pid})]"
        for name, stream, sink in (("stdout", process.stdout, sys.stdout), ("stderr", process.stderr, sys.stderr)):
            thread = threading.Thread(target=self._pump, args=(stream, sink, prefix, running.captured[name]),
                                      daemon=True)
            thread.start()
            running.threads.append(thread)
        self._running.append(running)

    def _pump(self, stream: IO[bytes], sink: IO[str], prefix: str, kept: list[bytes]) -> None:
        room = self.options.max_log_size * 1024 * 1024
        for raw in iter(stream.readline, b""):
            if room > 0:
                kept.append(raw[:room])
                room -= len(raw)
            line = raw.decode(errors="replace").rstrip("\n")
            with self._lock:
                sink.write(f"{prefix} {line}\n")
                sink.flush()
        stream.close()

    # -- the loop ------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run every task; return how the run ended."""
        self._push(("start", ()))
        failure: tuple[TaskKey, str] | None = None
        interrupted: str | None = None
        previous = _stop_on_sigterm(self._on_signal)
        try:
            # After a failure nothing new starts, but running tasks finish:
            # whatever succeeds can be reused by `resume`.
            while self._running or (self._ready and failure is None):
                if failure is None:
                    self._start_ready()
                finished = self._reap()
                for running, code in finished:
                    outcome = self._finish(running, code)
                    failure = failure or outcome
                if not finished:
                    time.sleep(0.005)
        except _Interrupted as stop:
            interrupted = stop.signal_name
        finally:
            _restore_sigterm(previous)
            for running in self._running:
                if running.process.poll() is None:
                    running.process.kill()
                code = running.process.wait()
                for thread in running.threads:
                    thread.join(timeout=2)
                if interrupted:
                    self._record_crash(running, code)  # its attempt says it was stopped, not "running"
        if interrupted:
            return self._interrupted(interrupted)
        if failure is None and ("end", ()) not in self._done:
            # Nothing failed, yet the run never reached `end`: never call that a success.
            failure = (("end", ()), "the run stopped before reaching step 'end'")
        result = RunResult(self.run_id, failure is None, tasks_run=self._tasks_run,
                           tasks_cloned=len(self._clones_used))
        if failure is not None:
            (step, indices), error = failure
            result.failed_step, result.failed_task, result.error = step, task_id_for(step, indices), error
        status = {"status": "succeeded" if result.succeeded else "failed", "finished": now_iso()}
        if not result.succeeded:
            status.update(failed_step=result.failed_step, failed_task=result.failed_task, error=result.error)
        self.datastore.write_run_status(self.run_id, status)
        return result

    def _interrupted(self, signal_name: str) -> RunResult:
        """Record a run stopped by a signal as interrupted (resume starts from what succeeded)."""
        error = f"the run was interrupted by {signal_name}; its running tasks were stopped"
        self.datastore.write_run_status(self.run_id, {"status": "interrupted", "finished": now_iso(),
                                                      "signal": signal_name, "error": error})
        return RunResult(self.run_id, False, error=error, tasks_run=self._tasks_run,
                         tasks_cloned=len(self._clones_used), interrupted=signal_name)

    def _start_ready(self) -> None:
        while self._ready and len(self._running) < self.options.max_workers:
            key, mode = self._ready.popleft()
            # A recursive switch's step runs again at the same key: its task id (with the iteration) says which clone.
            clone_key = (key[0], task_id_for(key[0], key[1], self._iteration.get(key, 0)))
            if clone_key in self.cloned and mode == "run":
                self._clones_used.add(clone_key)
                self._done[key] = dict(self.cloned[clone_key])
                for successor in self._successors(key, self.cloned[clone_key]):
                    self._push(successor)
                continue
            self._launching = True
            try:
                self._launch(key, mode)
            finally:
                self._launching = False
            if self._deferred_signal:
                raise _Interrupted(self._deferred_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        """SIGINT/SIGTERM: stop the run, unless a task is being launched; then once it is in `_running`,
        so the task is stopped with the others (else it would outlive the run)."""
        name = signal.Signals(signum).name
        if self._launching:
            self._deferred_signal = name
            return
        raise _Interrupted(name)

    def _reap(self) -> list[tuple[_Running, int]]:
        finished = []
        now = time.monotonic()
        for running in list(self._running):
            code = running.process.poll()
            if code is None and running.deadline is not None and now > running.deadline:
                running.process.kill()
                code = running.process.wait()
            if code is not None:
                for thread in running.threads:
                    thread.join(timeout=5)
                self._running.remove(running)
                finished.append((running, code))
        return finished

    def _finish(self, running: _Running, code: int) -> tuple[TaskKey, str] | None:
        key, mode = running.key, running.mode
        step, indices = key
        if code == 0 and running.output_file.is_file():
            output = json.loads(running.output_file.read_text())
            too_wide = self._too_wide(step, output)
            if too_wide:
                return key, too_wide
            self._done[key] = output
            for successor in self._successors(key, output):
                self._push(successor)
            return None
        if code != 0:
            self._record_crash(running, code)
        if mode == "catch":
            return key, self._error_text(key) or f"the @catch fallback exited with code {code}"
        attempts = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempts
        decorators = effective_decorators(self.graph[step], self.options.with_decorators)
        retry = decorators.get("retry", {"times": 0})
        if attempts <= int(retry.get("times") or 0):
            # As in Metaflow, local retries start at once; minutes_between_retries
            # spaces them in production (the state machine's IntervalSeconds).
            self.options.echo(f"Task {step}/{task_id_for(step, indices, self._iteration.get(key, 0))} failed; retrying "
                              f"(attempt {attempts + 1} of {int(retry['times']) + 1})")
            self._push(key, "run")
            return None
        if "catch" in decorators:
            self.options.echo(f"Task {step}/{task_id_for(step, indices, self._iteration.get(key, 0))} failed; @catch records the failure "
                              "and the run goes on")
            self._push(key, "catch")
            return None
        return key, self._error_text(key) or f"the task exited with code {code}"

    def _record_crash(self, running: _Running, code: int) -> None:
        """A task that died without recording its end (killed, a segfault): save what it printed, say how it died."""
        step, indices = running.key
        task_id = task_id_for(step, indices)
        attempts = self.datastore.list_attempts(self.run_id, step, task_id)
        meta = self.datastore.read_attempt(self.run_id, step, task_id, attempts[-1]) if attempts else None
        if not meta or meta.get("status") != "running":
            return
        how = f"exited with code {code}"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
            how = f"was killed by {name}" + (" (segmentation fault)" if -code == signal.SIGSEGV else "")
        note = f"flowdrop: task {step}/{task_id} {how} before it ended\n".encode()
        out, err = b"".join(running.captured["stdout"]), b"".join(running.captured["stderr"]) + note
        self.datastore.save_logs(self.run_id, step, task_id, attempts[-1], out, err)
        self.datastore.write_attempt(self.run_id, step, task_id, attempts[-1],
                                     {**meta, "status": "failed", "finished": now_iso(), "crash": note.decode().strip()})

    def _too_wide(self, step: str, output: Mapping[str, Any]) -> str | None:
        count = int(output.get("foreach_count") or 0)
        if self.graph[step].foreach_param is None or count <= self.options.max_num_splits:
            return None
        return (f"the foreach in step '{step}' made {count} splits, more than the maximum of "
                f"{self.options.max_num_splits}; raise it with --max-num-splits")

    def _error_text(self, key: TaskKey) -> str | None:
        step, indices = key
        task_id = task_id_for(step, indices, self._iteration.get(key, 0))
        attempts = self.datastore.list_attempts(self.run_id, step, task_id)
        if not attempts:
            return None
        meta = self.datastore.read_attempt(self.run_id, step, task_id, attempts[-1]) or {}
        if meta.get("exception_type"):
            return f"{meta['exception_type']}: {meta.get('exception_message', '')}"
        return meta.get("crash")


class _Interrupted(BaseException):
    """Ctrl-C or SIGTERM in the scheduler's loop: stop the tasks, record the run as interrupted."""

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name


def _stop_on_sigterm(handler: Callable[[int, Any], None]) -> dict[int, Any] | None:
    """SIGINT and SIGTERM go to `handler`, which raises _Interrupted in the loop (main thread only);
    the handlers they replace."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_sigterm(previous: dict[int, Any] | None) -> None:
    for sig, handler in (previous or {}).items():
        signal.signal(sig, handler)
