"""A Python API for deploying and running flows, with the names of Metaflow's Deployer.

    from flowdrop import Deployer

    deployed = Deployer("train_flow.py").step_functions().create(max_workers=50)
    deployed.name, deployed.production_token    # namespace(f"production:{token}") sees its runs
    run = deployed.trigger(alpha=0.5)           # a TriggeredRun
    run.wait_for_run()                          # the client API's Run, once its start task wrote it
    run.wait_for_completion(); run.status       # 'SUCCEEDED'
    run.run['end'].task.data.x
    deployed.list_runs(states=["RUNNING"]); run.terminate(); deployed.delete()
    DeployedFlow.from_deployment("TrainFlow")   # Metaflow raises NotImplementedError here on Step Functions
    Deployer.list_deployed_flows()              # this one too

Owns: those objects. `create` runs the user's own command line (`python
flow.py [--with ...] step-functions create ...`) as a subprocess, so
deploy-time parameters are evaluated exactly as from a shell and nothing of
the flow is imported here; everything after deploy talks to the deployer's
HTTP API with the client config. Does not own: the commands themselves
(step_functions.py, uploader.py) or the API (api_client.py).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowdrop.config import ClientConfig, load_config
from flowdrop.cli.runner import command_line as _options
from flowdrop.errors import DeployError, FlowdropError, MissingObjectError
from flowdrop.model.runs import RUN_STATUSES, TERMINAL_STATUSES


def _api(config: ClientConfig | None) -> Any:
    from flowdrop.cli.api_client import ApiClient

    return ApiClient.from_config(config or load_config())


@dataclass
class TriggeredRun:
    """A production run started through the API."""

    flow: str  # the state machine's name (the flow's, or its @project branch's)
    run_id: str
    config: ClientConfig | None = None
    flow_name: str | None = None  # the FlowSpec class's name, under which the datastore keeps the run

    @property
    def name(self) -> str:
        """The run's name on Step Functions: its execution name (the run id without `sfn-`)."""
        return self.run_id.removeprefix("sfn-")

    @property
    def pathspec(self) -> str:
        """FlowName/sfn-..., as the client API names the run."""
        if self.flow_name is None:
            self.flow_name = str(_api(self.config).get_flow(self.flow).get("flow_name") or self.flow)
        return f"{self.flow_name}/{self.run_id}"

    @property
    def status(self) -> str:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED, from the deployer."""
        return str(_api(self.config).get_run(self.flow, self.run_id, steps=False).get("status"))

    @property
    def steps(self) -> dict[str, str]:
        """Each step's state."""
        return dict(_api(self.config).get_run(self.flow, self.run_id).get("steps") or {})

    def wait_for_completion(self, timeout: float | None = None, poll: float = 1.0) -> str:
        """Block until the run ends; its status (FlowdropError past `timeout` seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (status := self.status) not in TERMINAL_STATUSES:
            if deadline is not None and time.monotonic() > deadline:
                raise FlowdropError(f"run {self.flow}/{self.run_id} still {status} after {timeout:.0f}s")
            time.sleep(poll)
        return status

    @property
    def run(self) -> Any:
        """The client API's Run, read from the production datastore; None until its start task has written it."""
        from flowdrop.cli.operations import production_client
        from flowdrop.client import Run

        production_client(self.config or load_config())
        try:
            return Run(self.pathspec, _namespace_check=False)
        except MissingObjectError:
            return None

    def wait_for_run(self, check_interval: float = 5, timeout: float | None = None) -> Any:
        """Block until `.run` is available (the start task began writing it) and return it; TimeoutError past
        `timeout` seconds, as Metaflow's."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (run := self.run) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {self.pathspec} not in the datastore after {timeout:.0f}s "
                                   f"(status {self.status})")
            time.sleep(check_interval)
        return run

    def terminate(self, reason: str | None = None, **kwargs: Any) -> bool:
        """Stop the run (it ends ABORTED); True when the deployer stopped it. `authorize=` is accepted for
        Metaflow (the API token authorizes here)."""
        from flowdrop.config import user_name

        return bool(_api(self.config).terminate(self.flow, self.run_id, reason, user_name()))


@dataclass
class DeployedFlow:
    """A flow in production on Step Functions, by its state machine name."""

    name: str
    config: ClientConfig | None = None
    output: str = field(default="", repr=False)  # what `create` printed

    @classmethod
    def from_deployment(cls, identifier: str, config: ClientConfig | None = None) -> DeployedFlow:
        """The deployed flow named `identifier` (its state machine name); FlowNotFoundError when not deployed."""
        _api(config).get_flow(identifier)  # raises when the deployer does not know it
        return cls(identifier, config)

    @property
    def production_token(self) -> str | None:
        """The token of the deployment's namespace: its production runs carry the tag `production:<token>`
        (the state machine's name, stable across versions); None when the flow is not deployed."""
        from flowdrop.errors import ApiError, FlowNotFoundError

        try:
            return str(_api(self.config).get_flow(self.name)["flow"])
        except (ApiError, FlowNotFoundError):
            return None

    @property
    def production_version(self) -> int | None:
        return _api(self.config).get_flow(self.name).get("production_version")

    @property
    def flow_name(self) -> str:
        """The FlowSpec class's name (the state machine's may carry a @project branch)."""
        return str(_api(self.config).get_flow(self.name).get("flow_name") or self.name)

    def trigger(self, idempotency_key: str | None = None, **parameters: Any) -> TriggeredRun:
        """Start a run of the production version with these parameters (checked by the API: 400 names each problem)."""
        answer = _api(self.config).trigger(self.name, parameters, idempotency_key)
        return TriggeredRun(self.name, str(answer["run_id"]), self.config, self.flow_name)

    def list_runs(self, states: Sequence[str] | None = None) -> list[TriggeredRun]:
        """Production runs, newest first; `states` keeps those in any of RUNNING, SUCCEEDED, FAILED, TIMED_OUT,
        ABORTED (ValueError naming an unknown or repeated one, as Metaflow's)."""
        wanted = [str(s).upper() for s in states or ()]
        if unknown := sorted(set(wanted) - set(RUN_STATUSES)):
            raise ValueError(f"list_runs: unknown state(s) {', '.join(unknown)}; known: {', '.join(RUN_STATUSES)}")
        if len(set(wanted)) != len(wanted):
            raise ValueError(f"list_runs: repeated state(s) in {wanted}")
        api, name = _api(self.config), self.flow_name
        found = [run for state in (wanted or [None]) for run in api.iter_runs(self.name, state)]
        found.sort(key=lambda run: str(run.get("start_date") or ""), reverse=True)
        return [TriggeredRun(self.name, str(run["run_id"]), self.config, name) for run in found]

    def delete(self, **kwargs: Any) -> bool:
        """Remove the flow from production (state machine, alias, schedule); records and artifacts stay.
        True when something was removed; `authorize=` is accepted for Metaflow."""
        return bool(_api(self.config).delete_flow(self.name).get("deleted"))


@dataclass
class StepFunctionsDeployer:
    """What `Deployer(flow_file).step_functions(...)` returns."""

    flow_file: Path
    top_level: tuple[str, ...]
    name: str | None = None
    config: ClientConfig | None = None
    env: dict[str, str] | None = None

    def create(self, **options: Any) -> DeployedFlow:
        """`step-functions create` with these options (max_workers=50, backend="batch", tags=[...], branch=...)."""
        args = [sys.executable, str(self.flow_file), *self.top_level, "step-functions", "create"]
        if self.name:
            args += ["--name", self.name]
        args += _options(options)
        done = subprocess.run(args, cwd=self.flow_file.parent, env=self.env, capture_output=True, text=True)
        output = done.stdout + done.stderr
        if done.returncode != 0:
            raise DeployError(f"{self.flow_file.name}: step-functions create failed (exit {done.returncode}):\n"
                              + output[-3000:])
        machine = _pushed_name(output) or self.name
        if not machine:
            raise DeployError(f"{self.flow_file.name}: deployed, but its state machine name is not in the output:\n"
                              + output[-1000:])
        return DeployedFlow(machine, self.config, output)


class Deployer:
    """Metaflow's Deployer, for Step Functions: `Deployer(flow_file, **top_level).step_functions().create()`."""

    def __init__(self, flow_file: str | Path, config: ClientConfig | None = None, env: dict[str, str] | None = None,
                 **top_level: Any):
        self.flow_file = Path(flow_file).resolve()
        if not self.flow_file.is_file():
            raise FlowdropError(f"Deployer: no flow file {self.flow_file}")
        self.config, self.env = config, env
        self.top_level = tuple(_options(top_level))

    def step_functions(self, name: str | None = None) -> StepFunctionsDeployer:
        return StepFunctionsDeployer(self.flow_file, self.top_level, name, self.config, self.env)

    @staticmethod
    def list_deployed_flows(config: ClientConfig | None = None) -> list[DeployedFlow]:
        """Every flow in production on this deployer."""
        flows = _api(config).list_flows().get("flows") or []
        return [DeployedFlow(str(flow.get("flow") or flow.get("name")), config) for flow in flows]


def _pushed_name(output: str) -> str | None:
    # "State machine <name> for flow <Flow> pushed ..." (uploader.py)
    for line in output.splitlines():
        if line.startswith("State machine ") and " for flow " in line:
            return line[len("State machine "):].split(" for flow ", 1)[0].strip()
    return None
