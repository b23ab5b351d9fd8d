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
Does not own: what the calls do (moto), or any behaviour fix (compat.py,
callbacks.py, batch_jobs.py, lambda_functions.py).

Canary tests (tests/functional/test_moto_speed.py) fail once stock moto
caches clients or parsed paths itself, so that patch can go.
"""

from __future__ import annotations

import functools
import sys
import threading
from typing import Any

import moto.stepfunctions.parser.asl.component.common.path.result_path as result_path_module
import moto.stepfunctions.parser.asl.utils.boto_client as boto_client_module
import moto.stepfunctions.parser.asl.utils.json_path as json_path_module
# Imports every service integration, so apply_patches finds each module that imported boto_client_for.
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: F401
    state_task_service_factory,
)

_STOCK_CLIENT_FOR = boto_client_module.boto_client_for
_STOCK_PARSE = {"json_path": json_path_module.parse, "result_path": result_path_module.parse}
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


def is_applied() -> bool:
    """True when this process's interpreter reuses its clients and parsed paths."""
    return boto_client_module.boto_client_for is cached_client_for and json_path_module.parse is cached_ext_parse


def apply_patches() -> None:
    """Point every interpreter module at the cached clients and paths; idempotent."""
    json_path_module.parse = cached_ext_parse
    result_path_module.parse = cached_plain_parse
    boto_client_module.boto_client_for = cached_client_for
    for name, module in list(sys.modules.items()):
        stock = getattr(module, "boto_client_for", None) is _STOCK_CLIENT_FOR
        if name.startswith("moto.stepfunctions.parser.") and stock:
            module.boto_client_for = cached_client_for  # type: ignore[attr-defined]
