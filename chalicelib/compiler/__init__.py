"""Compile a flow graph into an Amazon States Language state machine.

Owns: the pure function (graph, options) -> ASL dict, its canonical JSON and
the Step Functions limits check. No boto3, no clock, no environment: the
same input gives byte-identical output. Does not own: parsing (graph.py),
publishing (deployer/), or running tasks (runtime/, local/worker.py).

How a flow maps to states (state data and payload: payload.py):

- Start: `parameters-check` (Choice) normalizes the execution input
  {"Parameters": "{\\"alpha\\": 0.5}"}: a missing or null key becomes "{}"
  (every default), an object is encoded to its JSON string; `run-start`
  (Pass) then sets the run-wide state data once: flow name, run id
  `sfn-<execution name>`, parameters, code package, datastore root.
- Every step is a Task named after it whose backend receives model.TaskPayload
  (flow_name, step, run_id, indices, parameters, mode, retry_count from
  $$.State.RetryCount, code_package, datastore_root). A Task carries only its
  step name, resources, retry and transport; about 0.5 KB of ASL per step.
- linear: a chain of Tasks. The end step ends the machine on an object.
- branch: the split's Task, then `<step>-branches` (Parallel), one branch per
  out_func running until the matching join, then the join's Task.
- foreach: the split's Task, then `<step>-foreach` (Choice on the task's
  foreach_count against the step's inline threshold): up to it `<step>-map`,
  an INLINE Map over the task output's `foreach_indices`; past it
  `<step>-map-wide`, a DISTRIBUTED Map whose S3 ItemReader reads the items
  file the task wrote (`foreach_items`), each item a child execution with
  its own 25,000-event history, so 10,000+ items fit. Each iteration's
  indices are the enclosing indices plus its position (ItemSelector with
  States.Array and $$.Map.Item.Index). MaxConcurrency = max_workers.
  Nested foreach nests Maps; the distributed copy of a body has its state
  names suffixed '@<foreach step>' to keep names unique.
- Inline thresholds (history.py). An inline Map's iterations all land in
  the history of the execution running it, and AWS fails an execution at
  25,000 events. An item count alone says nothing about that: each Task
  attempt writes 4 events plus 2 for its state, an iteration 2 more, so
  1,000 items of a 4-step body are ~26,000 events, and a 100 x 100 nested
  inline foreach ~80,000. So each foreach's threshold is computed here, at
  compile time, from the worst case of one iteration: every Task of the
  body with all its @retry attempts and its `-catch` Task (a retry storm is
  exactly when a run must not die of its history), every Parallel branch,
  and each nested foreach at its own threshold. The foreach steps that run
  in one execution share 20,000 events (history.HISTORY_BUDGET; the other
  5,000 are margin) minus that execution's other states, so the sum of
  threshold x events per iteration stays within it. Thresholds are capped
  at options.inline_foreach_limit, itself at most model.INLINE_FOREACH_LIMIT
  (1,000): past that the runner returns no inline indices. Nesting gives
  the outer foreach a small threshold (the 4 x 3 example: 2 rows, with
  1,000 cells for the inner one), so wide outer fan-outs go distributed,
  where each child execution has a full history for its inner Map. When an
  execution's other states alone use the budget, its thresholds are 0:
  every item goes distributed (the compiler does not reject the flow, as
  the worst case needs every attempt of every task to fail). The
  distributed path reads the runner's `foreach_items`, which it writes
  whenever the datastore is S3; on a folder datastore it has none.
- switch: the step's Task, then `<step>-switch` (Choice on the case its
  condition matched, the task output's `switch_value`) to each case's step;
  the cases' steps run in the same scope up to where they meet again (a
  later step, the enclosing join, or the end). A case back to the step
  itself is a loop: each pass is a new task (`loop`, `loop.1`, ...; the
  runner counts from the task that ran before, which the payload's
  `input_paths` names from the state data), bounded by the history budget
  (history.py); past the bound, or on a value no case matches, the run
  fails in a Fail state naming step and value (switch.py). On Batch, whose
  jobs return no result, the result is read from the task's done.json
  where a Choice or the next step needs it (batch.task_done_states).
- Task results go to $.task (overwritten by each Task); Map and Parallel
  results are dropped (ResultPath null): joins read inputs from the datastore.
- @retry(times, minutes_between_retries): Retry States.ALL, MaxAttempts
  times, IntervalSeconds max(1, minutes*60), BackoffRate 1.0; times=0: none.
  `--with retry` (options.with_decorators) adds it where a step has none.
- @catch: Catch States.ALL to `<step>-catch`, a Task running the same step
  in mode "catch" (the runner records the failure in the `var` artifact),
  which continues where the step would have. It has its own small Retry
  (2 more attempts, 5 s then 10 s), as Metaflow retries its fallback: it
  fails only for reasons outside the step (a lost worker or host).
- @timeout: TimeoutSeconds on the Task; options.workflow_timeout: the
  machine's TimeoutSeconds. Worker tasks also get HeartbeatSeconds.
- @resources/@batch: Batch ResourceRequirements (VCPU, MEMORY, GPU > 0); a
  step with @batch runs on Batch whatever the deployment's backend.
- @exit_hook: a hook task at the end of the success path and, through a
  Catch on every top-level state, of the failure path, which then still
  ends in a Fail state with the step's error (exit_hooks.py).
- Backends (same payload, different transport): batch = submitJob.sync with
  the payload in environment variables (batch.py); lambda = lambda:invoke
  with the payload as Payload; worker = sqs:sendMessage.waitForTaskToken
  with {"task_token", "payload"} as the message body.
"""

from __future__ import annotations

from typing import Any

from flowdrop.compiler.exit_hooks import with_exit_hooks
from flowdrop.compiler.lambda_ import resource_problems
from flowdrop.compiler.limits import MAX_DEFINITION_BYTES, MAX_STATE_NAME, check_limits, definition_json
from flowdrop.compiler.options import BackendSettings, CompileOptions, option_problems
from flowdrop.compiler.payload import start_states
from flowdrop.compiler.shapes import Compilation, Scope, chain
from flowdrop.errors import CompileError
from flowdrop.model.exit_hooks import has_exit_hooks
from flowdrop.model.graph import Graph
from flowdrop.model.state_names import CHECK_PARAMETERS


def compile_flow(graph: Graph, options: CompileOptions) -> dict[str, Any]:
    """The ASL state machine of `graph`; raises CompileError naming every problem."""
    problems = option_problems(options)
    if "start" not in graph:
        problems.append(f"{graph.file}: flow {graph.flow_name!r} has no 'start' step")
    if problems:
        raise CompileError(problems)
    compilation = Compilation.of(graph, options)
    problems = [problem for node in graph.nodes if compilation.backend_kind(node) == "lambda"
                for problem in resource_problems(node.name, compilation.decorators[node.name], options.backend)]
    if problems:
        raise CompileError(problems)
    states = start_states(graph, options, "start")
    states.update(chain(compilation, "start", None, Scope()))
    if has_exit_hooks(graph):
        states = with_exit_hooks(states, graph, options)
    asl: dict[str, Any] = {
        "Comment": f"{graph.flow_name}, compiled by flowdrop",
        "StartAt": CHECK_PARAMETERS,
        "States": states,
    }
    if options.workflow_timeout:
        asl["TimeoutSeconds"] = int(options.workflow_timeout)
    check_limits(asl)
    return asl


__all__ = [
    "BackendSettings",
    "CompileError",
    "CompileOptions",
    "MAX_DEFINITION_BYTES",
    "MAX_STATE_NAME",
    "check_limits",
    "compile_flow",
    "definition_json",
]
