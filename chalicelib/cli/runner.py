"""Local runs from Python, with the names of Metaflow's Runner.

    from flowdrop import Runner

    with Runner("train_flow.py", datastore_root="/tmp/ds") as runner:
        result = runner.run(alpha=0.5, max_workers=4, tags=["nightly"])   # blocks; an ExecutingRun
        result.status, result.returncode        # 'successful', 0
        result.run["end"].task.data.x           # the client API's Run
        again = runner.resume(origin_run_id=result.run.id, step_to_rerun="fit")

    executing = await runner.async_run(alpha=0.5)   # returns once the run has an id
    await executing.wait()

Owns: Runner and ExecutingRun. A run is the user's own command line
(`python flow.py [top-level options] run|resume ...`) in a subprocess, as
Metaflow's Runner does, so nothing of the flow is imported here; its output
goes to files readable while it runs (`.stdout`, `.stderr`), its run id comes
back through `--run-id-file`, and `.run` reads the run from the very
datastore the subprocess wrote (resolved once here and passed down), without
touching the client API's global datastore. Does not own: the commands
(flow.py, flow_run.py) or the client objects (client/).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from flowdrop.errors import FlowdropError


def _flag(key: str) -> str:
    return "--" + {"tags": "tag", "with_": "with", "withs": "with"}.get(key, key).replace("_", "-")


def command_line(options: dict[str, Any], parameters: frozenset[str] = frozenset()) -> list[str]:
    """Keyword options as flags: max_workers=5 -> --max-workers 5; lists repeat; True is a flag.

    Keys naming a flow parameter keep their spelling (`--num_items 3`); dicts and lists given to
    a parameter travel as JSON, booleans as true/false. A dict or (name, value) pairs given to another
    option (config=, config_value=) repeat it once per pair.
    """
    args: list[str] = []
    for key, value in options.items():
        if key in parameters:
            if value is None:
                continue
            text = json.dumps(value) if isinstance(value, (dict, list, bool)) else str(value)
            args += [f"--{key}", text]
            continue
        # config={"cfg": "cfg.json"} or config_value=[("cfg", {...})]: one `--config NAME VALUE` per pair.
        values = list(value.items()) if isinstance(value, dict) else value if isinstance(value, (list, tuple)) \
            else [value]
        for item in values:
            if isinstance(item, tuple):
                args += [_flag(key), *(json.dumps(v) if isinstance(v, (dict, list)) else str(v) for v in item)]
            elif item is True:
                args.append(_flag(key))
            elif item not in (None, False):
                args += [_flag(key), str(item)]
    return args


class ExecutingRun:
    """A local run started by Runner: its process, its output and, once it has an id, its client Run."""

    def __init__(self, runner: Runner, process: subprocess.Popen, run_id: str, logs: dict[str, Path]):
        self.runner, self.process, self.run_id, self._logs = runner, process, run_id, logs

    def __enter__(self) -> ExecutingRun:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.runner.cleanup()

    @property
    def run(self) -> Any:
        """The client API's Run (flowdrop.Run) for this run, read from the datastore the run wrote."""
        from flowdrop.client import Run
        from flowdrop.datastore import FlowDatastore, open_storage

        ds = FlowDatastore(open_storage(self.runner.datastore_url, self.runner.config.aws), self.runner.flow_name)
        meta = ds.read_run(self.run_id)
        if meta is None and not ds.list_steps(self.run_id):
            raise FlowdropError(f"run {self.runner.flow_name}/{self.run_id} is not in {self.runner.datastore_url} "
                                f"(yet):\n{self.stderr[-2000:]}")
        return Run._bind(ds, self.run_id, meta or {})

    @property
    def returncode(self) -> int | None:
        """The process's exit code; None while it runs."""
        return self.process.poll()

    @property
    def status(self) -> str:
        """'running', 'failed' or 'successful' (Metaflow's words), from the process."""
        code = self.process.poll()
        return "running" if code is None else "successful" if code == 0 else "failed"

    @property
    def stdout(self) -> str:
        """What the run printed so far on stdout (all of it once it ended)."""
        return self._logs["stdout"].read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        """What the run printed so far on stderr."""
        return self._logs["stderr"].read_text(encoding="utf-8", errors="replace")

    async def wait(self, timeout: float | None = None, stream: str | None = None) -> ExecutingRun:
        """Wait for the process to end (asyncio.TimeoutError past `timeout`); `stream` is accepted for Metaflow."""
        await asyncio.wait_for(_exited(self.process), timeout)
        return self


async def _exited(process: subprocess.Popen) -> int:
    while (code := process.poll()) is None:
        await asyncio.sleep(0.1)
    return code


class Runner:
    """Metaflow's Runner: `Runner(flow_file, **top_level).run(**params)` / `.resume(...)` run the flow locally.

    `top_level` are the options before the command (datastore_root="/tmp/ds", with_=["retry"], quiet=True).
    """

    def __init__(self, flow_file: str | Path, show_output: bool = True, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None, **top_level: Any):
        from flowdrop.config import load_config
        from flowdrop.graph import parse_flow_file

        self.flow_file = Path(flow_file).resolve()
        if not self.flow_file.is_file():
            raise FlowdropError(f"Runner: no flow file {self.flow_file}")
        graph = parse_flow_file(self.flow_file)  # read, not imported: the flow runs in the subprocess only
        self.flow_name = graph.flow_name
        self._parameters = frozenset(p.name for p in graph.parameters)
        self.show_output = show_output
        self.cwd = Path(cwd).resolve() if cwd else Path.cwd()
        self.env = {**os.environ, **(env or {})}
        self.config = load_config()
        self.datastore_url = self._datastore(top_level)
        top_level.pop("datastore", None)
        top_level["datastore_root"] = self.datastore_url
        self.top_level = command_line(top_level)
        self._scratch = Path(tempfile.mkdtemp(prefix="flowdrop-runner-"))
        self._started = 0

    def _datastore(self, top_level: dict[str, Any]) -> str:
        # What flow_context.py would pick for the subprocess, resolved once so both sides read the same place.
        kind = top_level.get("datastore")
        root = top_level.get("datastore_root") or (kind if kind not in (None, "local", "s3") else None)
        root = str(root or self.env.get("FLOWDROP_DATASTORE") or self.config.datastore)
        if "://" in root:
            return root
        path = Path(root).expanduser()
        return str((path if path.is_absolute() else self.cwd / path).resolve())

    def __enter__(self) -> Runner:
        return self

    async def __aenter__(self) -> Runner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()

    async def __aexit__(self, *exc: Any) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        """Remove the run-id and log files (the runs themselves stay in the datastore)."""
        shutil.rmtree(self._scratch, ignore_errors=True)

    def run(self, **kwargs: Any) -> ExecutingRun:
        """Run the flow with these parameters and run options (max_workers=, tags=[...]); blocks until it ends."""
        return self._finish(self._start("run", kwargs))

    def resume(self, **kwargs: Any) -> ExecutingRun:
        """Resume a run (origin_run_id=..., step_to_rerun=...: Metaflow's names); blocks until it ends."""
        return self._finish(self._start("resume", kwargs))

    async def async_run(self, **kwargs: Any) -> ExecutingRun:
        """Start a run and return as soon as it has an id; `await result.wait()` for its end."""
        return await self._started_async(self._start("run", kwargs))

    async def async_resume(self, **kwargs: Any) -> ExecutingRun:
        """Start a resume and return as soon as it has an id."""
        return await self._started_async(self._start("resume", kwargs))

    def _start(self, command: str, kwargs: dict[str, Any]) -> tuple[subprocess.Popen, Path, dict[str, Path]]:
        self._started += 1
        folder = self._scratch / str(self._started)
        folder.mkdir(parents=True)
        run_id_file = folder / "run-id"
        step = kwargs.pop("step_to_rerun", None) or kwargs.pop("step", None)
        args = [sys.executable, str(self.flow_file), *self.top_level, command, *([step] if step else []),
                *command_line(kwargs, self._parameters if command == "run" else frozenset()),
                "--run-id-file", str(run_id_file)]
        logs = {"stdout": folder / "stdout.log", "stderr": folder / "stderr.log"}
        with open(logs["stdout"], "wb") as out, open(logs["stderr"], "wb") as err:
            process = subprocess.Popen(args, cwd=self.cwd, env=self.env, stdout=out, stderr=err,
                                       stdin=subprocess.DEVNULL)
        return process, run_id_file, logs

    def _finish(self, started: tuple[subprocess.Popen, Path, dict[str, Path]]) -> ExecutingRun:
        process, run_id_file, logs = started
        process.wait()
        result = ExecutingRun(self, process, self._run_id(run_id_file, logs, process), logs)
        if self.show_output:
            _echo(result.stdout, sys.stdout)
            _echo(result.stderr, sys.stderr)
        return result

    async def _started_async(self, started: tuple[subprocess.Popen, Path, dict[str, Path]]) -> ExecutingRun:
        process, run_id_file, logs = started
        while not (run_id_file.is_file() and run_id_file.read_text().strip()) and process.poll() is None:
            await asyncio.sleep(0.05)
        return ExecutingRun(self, process, self._run_id(run_id_file, logs, process), logs)

    def _run_id(self, run_id_file: Path, logs: dict[str, Path], process: subprocess.Popen) -> str:
        if run_id_file.is_file() and (run_id := run_id_file.read_text().strip()):
            return run_id
        stderr = logs["stderr"].read_text(encoding="utf-8", errors="replace")
        raise FlowdropError(f"{self.flow_file.name}: the run never started (exit {process.poll()}):\n{stderr[-3000:]}")


def _echo(text: str, stream: IO[str]) -> None:
    if text:
        stream.write(text)
        stream.flush()
