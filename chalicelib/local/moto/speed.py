"""Speed fixes to moto 5.2.5's Step Functions interpreter, applied inside the moto server process.

Owns: (1) making every service call of the interpreter reuse one boto3 client per
(region, service). Stock moto builds a fresh client for every Task state
(`boto_client_for`, stepfunctions/parser/asl/utils/boto_client.py:14; it
ignores the state's credentials), which costs more CPU than the call it makes:
in a 100-way foreach on the worker backend that is 100 SQS clients, on the
Batch backend a SubmitJob client and one DescribeJobs client per poll. boto3
clients are thread-safe, so the Map's iteration threads share them; the pool
is sized for a wide Map's concurrent calls.
(2) Parsing each JSONPath once. The interpreter parses a state's paths
(InputPath, Parameters' `.$` values, ResultPath, ...) on every evaluation
with jsonpath_ng, which builds a new ply parser each time (~10 ms a path on
this machine; json_path.py:48, result_path.py:29), so every Map item paid it
for every path of every state it went through. Parsed expressions are not
changed by `find` or `update`, so one per path string is shared.
(3) Parsing each definition once. Every execution parses its state
machine's whole definition again with ANTLR when its thread starts
(`ExecutionWorker._get_evaluation_entrypoint`, parser/backend/
execution_worker.py:59-62): ~25 ms of CPU for a two-step flow, the largest
single cost of a StartExecution, paid under the GIL while the server answers
other requests. The parsed program is a pure function of the definition
text, and evaluating it keeps every per-run value in the execution's
Environment (env.heap, env.stack, keyed by each component's heap_key), never
on the components: moto's own Map and Parallel states already evaluate one
parsed program from many threads at once. So programs are cached by their
definition text (not by ARN): an updated machine, a new version or a
rollback to an older one runs its own definition from the next execution on,
with no invalidation to get wrong. Each component's lazily made heap_key is
made before the program is shared, so two threads cannot give it two keys.
(4) Finding an execution by name in O(1). moto's idempotency check on
StartExecution (`StateMachine._handle_name_input_idempotency`,
stepfunctions/models.py:186-201) walks all of the machine's executions, so
each trigger cost more than the one before on a long-lived stack. An index
by name, kept up to date from the (append-only) executions list, answers the
same: same name and input of a RUNNING execution -> that execution; same name
otherwise (other input, or the execution ended) -> ExecutionAlreadyExists,
as AWS documents.
Does not own: what the calls do (moto), the per-request path (speed_requests.py,
patches 5-9), or any behaviour fix (compat.py, callbacks.py, batch_jobs.py, lambda_functions.py).

Canary tests (tests/functional/test_moto_speed.py) fail once stock moto
caches clients, parsed paths or parsed programs itself, or indexes its
executions, so that patch can go; the same file checks (against a moto
server over HTTP) that runs of one definition stay independent, that an
updated definition or another version runs at once, and idempotency.
"""

from __future__ import annotations

import functools
import sys
import threading
import weakref
from collections import OrderedDict
from typing import Any

import moto.stepfunctions.parser.asl.component.common.path.result_path as result_path_module
import moto.stepfunctions.parser.asl.utils.boto_client as boto_client_module
import moto.stepfunctions.parser.asl.utils.json_path as json_path_module
# Imports every service integration, so apply_patches finds each module that imported boto_client_for.
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: F401
    state_task_service_factory,
)
from moto.stepfunctions.exceptions import ExecutionAlreadyExists
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.parser.asl.component.component import Component
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

_STOCK_CLIENT_FOR = boto_client_module.boto_client_for
_STOCK_PARSE = {"json_path": json_path_module.parse, "result_path": result_path_module.parse}
_STOCK_ENTRYPOINT = ExecutionWorker._get_evaluation_entrypoint
_STOCK_IDEMPOTENCY = StateMachine._handle_name_input_idempotency
_CLIENTS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()
# The Map's iteration threads call at once; urllib3 discards (and warns about)
# connections beyond the pool's size.
POOL_CONNECTIONS = 64


def stock_client_for() -> Any:
    """moto's own boto_client_for."""
    return _STOCK_CLIENT_FOR


def cached_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """boto_client_for, made once per (region, service) in this process."""
    key = (region, service)
    client = _CLIENTS.get(key)
    if client is not None:
        return client
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _STOCK_CLIENT_FOR(region=region, service=service, state_credentials=state_credentials)
            client = _with_pool(client)
            _CLIENTS[key] = client
    return client


def _with_pool(client: Any) -> Any:
    """The same client with a connection pool big enough for a wide Map (botocore's default is 10)."""
    from botocore.config import Config

    import boto3

    config = client.meta.config.merge(Config(max_pool_connections=POOL_CONNECTIONS))
    return boto3.client(client.meta.service_model.service_name, region_name=client.meta.region_name,
                        endpoint_url=client.meta.endpoint_url, aws_access_key_id="ak", aws_secret_access_key="sk",
                        config=config)


def stock_parsers() -> dict[str, Any]:
    """moto's own JSONPath parse functions (jsonpath_ng's), by the module that calls them."""
    return dict(_STOCK_PARSE)


# Path strings come from state machine definitions: a few per state.
cached_ext_parse = functools.lru_cache(maxsize=4096)(_STOCK_PARSE["json_path"])
cached_plain_parse = functools.lru_cache(maxsize=4096)(_STOCK_PARSE["result_path"])


# --- (3) parsed programs ------------------------------------------------------------------------

# Definitions in use at once: a few per deployed flow (its versions); each cached program is a few MB at most.
PROGRAM_CACHE_SIZE = 64
_PROGRAMS: OrderedDict[str, EvalComponent] = OrderedDict()
_PROGRAMS_LOCK = threading.Lock()


def stock_entrypoint() -> Any:
    """moto's own ExecutionWorker._get_evaluation_entrypoint."""
    return _STOCK_ENTRYPOINT


def cached_program(definition: str) -> EvalComponent:
    """The evaluation program of an ASL definition, parsed once per definition text in this process."""
    with _PROGRAMS_LOCK:
        program = _PROGRAMS.get(definition)
        if program is not None:
            _PROGRAMS.move_to_end(definition)
            return program
    # Parsed outside the lock: a slow parse does not hold up executions of other definitions. Two
    # first executions of one definition may both parse it; the first to finish is kept.
    program = AmazonStateLanguageParser.parse(definition)[0]
    _fix_heap_keys(program)
    with _PROGRAMS_LOCK:
        program = _PROGRAMS.setdefault(definition, program)
        _PROGRAMS.move_to_end(definition)
        while len(_PROGRAMS) > PROGRAM_CACHE_SIZE:
            _PROGRAMS.popitem(last=False)
    return program


def _fix_heap_keys(program: EvalComponent) -> None:
    """Make every component's heap_key now (eval_component.py:18-22 makes it on first use, unlocked)."""
    seen: set[int] = set()
    pending: list[Any] = [program]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, EvalComponent):
            _ = item.heap_key
        if isinstance(item, Component):
            pending.extend(getattr(item, "__dict__", {}).values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())


def cached_entrypoint(self: ExecutionWorker) -> EvalComponent:
    """ExecutionWorker._get_evaluation_entrypoint, from the program cache."""
    return cached_program(self._evaluation_details.state_machine_details.definition)


# --- (4) executions by name ---------------------------------------------------------------------

_INDEX_LOCK = threading.Lock()
# Beside the machine, not on it: parser/models.py:184 deep-copies the machine for each execution, and an index
# on it would copy the executions (their threads and locks cannot be copied).
_INDEXES: weakref.WeakKeyDictionary[StateMachine, list[Any]] = weakref.WeakKeyDictionary()


def execution_named(machine: StateMachine, name: str) -> Any:
    """The first execution of `machine` called `name`, or None (its `executions` list only grows)."""
    with _INDEX_LOCK:
        executions = machine.executions
        index = _INDEXES.get(machine)
        if index is None or index[0] is not executions or index[1] > len(executions):
            index = [executions, 0, {}]
            _INDEXES[machine] = index
        by_name: dict[str, Any] = index[2]
        for execution in executions[index[1]:]:
            by_name.setdefault(execution.name, execution)
        index[1] = len(executions)
        return by_name.get(name)


def indexed_idempotency(self: StateMachine, name: str, execution_input: str) -> Any:
    """StateMachine._handle_name_input_idempotency (models.py:186-201) with the index instead of a scan."""
    execution = execution_named(self, name)
    if execution is None:
        return None
    # Executions with the same name and input are the same run while it runs.
    if execution_input == execution.execution_input and execution.status == "RUNNING":
        return execution
    # The input differs, or the execution already ended.
    raise ExecutionAlreadyExists("Execution Already Exists: '" + execution.execution_arn + "'")


def stock_idempotency() -> Any:
    """moto's own StateMachine._handle_name_input_idempotency."""
    return _STOCK_IDEMPOTENCY


def is_applied() -> bool:
    """True when this process's interpreter reuses its clients, parsed paths and programs."""
    return (boto_client_module.boto_client_for is cached_client_for and json_path_module.parse is cached_ext_parse
            and ExecutionWorker._get_evaluation_entrypoint is cached_entrypoint
            and StateMachine._handle_name_input_idempotency is indexed_idempotency)


def apply_patches() -> None:
    """Point every interpreter module at the cached clients, paths and programs; idempotent."""
    ExecutionWorker._get_evaluation_entrypoint = cached_entrypoint
    StateMachine._handle_name_input_idempotency = indexed_idempotency
    json_path_module.parse = cached_ext_parse
    result_path_module.parse = cached_plain_parse
    boto_client_module.boto_client_for = cached_client_for
    for name, module in list(sys.modules.items()):
        stock = getattr(module, "boto_client_for", None) is _STOCK_CLIENT_FOR
        if name.startswith("moto.stepfunctions.parser.") and stock:
            module.boto_client_for = cached_client_for  # type: ignore[attr-defined]
