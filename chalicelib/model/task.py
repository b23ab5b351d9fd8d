"""One task as data: its deterministic id, the payload every backend hands the runner, its output.

Owns: task ids (step plus foreach indices), TaskPayload, how it travels in a
Batch job's environment, and what a task returns to Step Functions. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowdrop.errors import TaskError
from flowdrop.model.exit_hooks import MODES as EXIT_HOOK_MODES


def task_id_for(step: str, indices: tuple[int, ...] | list[int] = (), iteration: int = 0) -> str:
    """The deterministic task id of `step` at the given foreach indices.

    `start` -> "start"; the third item of foreach step `fit` -> "fit-2";
    nested foreach -> "inner-3-1". Locally and in Step Functions alike, so a
    join can name its inputs without a side table.
    """
    # A recursive switch runs its step again at the same place: each run
    # after the first carries its iteration after a dot ("loop.2", "loop-1.3").
    return step + "".join(f"-{int(i)}" for i in indices) + (f".{int(iteration)}" if iteration else "")


def indices_of(task_id: str) -> tuple[int, ...]:
    """The foreach indices encoded in a task id made by task_id_for."""
    # Step names are Python identifiers, so every '-' separates an index.
    return tuple(int(part) for part in task_id.split(".")[0].split("-")[1:])


def step_of_task(task_id: str) -> str:
    """The step a task id made by task_id_for belongs to ("loop-1.2" -> "loop")."""
    return task_id.split(".")[0].split("-")[0]


def input_task(path: str) -> tuple[str, str]:
    """(step, task_id) of an input path: `run/step/task_id`, `step/task_id`, or a bare task id.

    Step Functions passes the bare id of the task that ran before (its
    output's task_id), as the state data holds no step name.
    """
    parts = path.split("/")
    return (parts[-2], parts[-1]) if len(parts) > 1 else (step_of_task(path), path)


def iteration_of(task_id: str) -> int:
    """The recursive-switch iteration encoded in a task id made by task_id_for (0 for the first run)."""
    _, dot, tail = task_id.partition(".")
    return int(tail) if dot else 0


# Task modes: "run" executes the step; "catch" runs after a step's final
# failure under @catch and records that failure so the flow goes on; the
# exit hook modes (model/exit_hooks.py) call a production run's @exit_hook functions.
TASK_MODES = ("run", "catch", *EXIT_HOOK_MODES)


@dataclass(frozen=True)
class TaskPayload:
    """What every compute backend hands the task runner: one task to run.

    The same shape travels in a Batch job's environment, a task Lambda's
    event and a worker queue's message. Everything that is the same for
    every task of a deployment (package, datastore) comes from the
    deployment, and run identity from the execution (`sfn-<name>`).
    `parameters` is the JSON string of the execution input's `Parameters`
    key exactly as the seed shows it ("{}" or None: every default).
    """

    flow_name: str
    step: str
    run_id: str
    indices: tuple[int, ...] = ()
    parameters: str | None = None
    mode: str = "run"
    retry_count: int = 0
    code_package: str | None = None
    datastore_root: str | None = None
    # Set by the local scheduler for flows with a switch, where which
    # parent ran depends on data: the input tasks as `step/task_id`.
    input_paths: tuple[str, ...] | None = None
    iteration: int = 0  # a recursive switch's run of the same step at the same place

    @property
    def task_id(self) -> str:
        """The deterministic task id of this task."""
        return task_id_for(self.step, self.indices, self.iteration)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "flow_name": self.flow_name,
            "step": self.step,
            "run_id": self.run_id,
            "indices": list(self.indices),
            "parameters": self.parameters,
            "mode": self.mode,
            "retry_count": self.retry_count,
            "code_package": self.code_package,
            "datastore_root": self.datastore_root,
            **({"input_paths": list(self.input_paths)} if self.input_paths is not None else {}),
            **({"iteration": self.iteration} if self.iteration else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskPayload:
        """Inverse of to_dict."""
        return cls(
            flow_name=str(data["flow_name"]),
            step=str(data["step"]),
            run_id=str(data["run_id"]),
            indices=tuple(int(i) for i in data.get("indices") or ()),
            parameters=data.get("parameters"),
            mode=str(data.get("mode", "run")),
            retry_count=int(data.get("retry_count") or 0),
            code_package=data.get("code_package"),
            datastore_root=data.get("datastore_root"),
            input_paths=tuple(data["input_paths"]) if data.get("input_paths") is not None else None,
            iteration=int(data.get("iteration") or 0),
        )


# In a Batch job the payload travels as five variables rather than one JSON document: ASL
# can only serialize state data (States.JsonToString takes a path), and the
# run-wide part already is state data ($.run, see payload.py). States.Format
# could build one document, but needs escaped braces, which moto's
# interpreter does not understand (it would make the definition untestable).
ENV_RUN, ENV_INDICES, ENV_STEP, ENV_MODE, ENV_RETRY_COUNT = (
    "FLOWDROP_RUN", "FLOWDROP_INDICES", "FLOWDROP_STEP", "FLOWDROP_MODE", "FLOWDROP_RETRY_COUNT")
# After a switch: the id of the task that ran before (a bare task id), where that depends on data.
ENV_INPUT_TASK = "FLOWDROP_INPUT_TASK"



def payload_from_batch_environment(env: Mapping[str, str]) -> TaskPayload:
    """Rebuild the TaskPayload inside a Batch job from the variables compiler/batch.py sets."""
    missing = [name for name in (ENV_RUN, ENV_INDICES, ENV_STEP) if not env.get(name)]
    if missing:
        raise TaskError(f"not a flowdrop Batch task: {', '.join(missing)} not set")
    run = json.loads(env[ENV_RUN])
    return TaskPayload.from_dict({
        **run,
        "indices": json.loads(env[ENV_INDICES]),
        "step": env[ENV_STEP],
        "mode": env.get(ENV_MODE) or "run",
        "retry_count": int(env.get(ENV_RETRY_COUNT) or 0),
        **({"input_paths": [env[ENV_INPUT_TASK]]} if env.get(ENV_INPUT_TASK) else {}),
    })


# A foreach task's output tells Step Functions how many items to fan out to.
# Up to this many indices travel inline in the state output (an INLINE Map
# over them); past it only the count and an S3 location of the items do,
# for a DISTRIBUTED Map (keeping well under the 256 KB payload limit).
INLINE_FOREACH_LIMIT = 1000


def task_output(task_id: str, foreach_count: int | None = None, items_location: Mapping[str, str] | None = None,
                switch_target: str | None = None, switch_value: Any = None,
                iteration: int | None = None) -> dict[str, Any]:
    """The JSON a task returns to Step Functions (SendTaskSuccess output, Lambda result).

    A switch adds the step it chose and the case its condition matched
    (`switch_value`, what the compiled Choice state tests); a recursive
    switch adds its `iteration` (0 on its first run), which the Choice
    compares with the most repeats one execution's history holds.
    """
    out: dict[str, Any] = {"task_id": task_id}
    if switch_target is not None:
        out["switch_target"] = switch_target  # the step a switch chose
        out["switch_value"] = switch_value
    if iteration is not None:
        out["iteration"] = iteration
    if foreach_count is not None:
        out["foreach_count"] = foreach_count
        out["foreach_indices"] = list(range(foreach_count)) if foreach_count <= INLINE_FOREACH_LIMIT else []
        if items_location is not None:
            out["foreach_items"] = dict(items_location)
    return out
