"""moto 5.2.5's Lambda functions run their handler as a local process instead of in Docker.

Owns: two patches in the moto server process. moto runs a zip function's
code only in a Docker container (`LambdaFunction._invoke_lambda`,
moto/awslambda/models.py:981); with `use_docker: false`, which the embedded
stack sets, `LambdaSimpleBackend.invoke` (moto/awslambda_simple/models.py:17)
echoes the request instead of running anything. Here every invoke (the API's
and Step Functions' `lambda:invoke` alike) runs the function's handler in a
fresh process with this machine's Python: the function's zip extracted on
PYTHONPATH (packages it lacks come from this environment, as a layer would
give them), its environment variables and Lambda's own, the event on stdin,
a Lambda-shaped result (`errorMessage`, `errorType`, `stackTrace` on a
function error), the function's Timeout enforced, and its output written to
CloudWatch Logs as Lambda does (group `/aws/lambda/<name>`).
Does not own: creating functions (local/resources.py) or the handlers.

A canary test (tests/functional/test_moto_lambda_functions.py) fails once
stock moto runs functions without Docker, so this patch can go.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from moto import settings
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda_simple.models import LambdaSimpleBackend

_STOCK_INVOKE = LambdaSimpleBackend.invoke
_STOCK_INVOKE_LAMBDA = LambdaFunction._invoke_lambda
_CODE_ROOT = Path(tempfile.gettempdir()) / "flowdrop-moto-lambda"

# The process a function runs in: import the handler, call it with the event
# and a small context, write {"result": ...} or {"error": {...}} to argv[2].
_RUNNER = "\n".join([
    "import importlib, json, os, sys, time, traceback",
    "module, _, name = sys.argv[1].rpartition('.')",
    "event = json.load(sys.stdin)",
    "deadline = time.monotonic() + float(os.environ['AWS_LAMBDA_FUNCTION_TIMEOUT'])",
    "class Context:",
    "    function_name = os.environ['AWS_LAMBDA_FUNCTION_NAME']",
    "    memory_limit_in_mb = os.environ['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']",
    "    aws_request_id = os.environ['FLOWDROP_LAMBDA_REQUEST_ID']",
    "    def get_remaining_time_in_millis(self):",
    "        return max(0, int((deadline - time.monotonic()) * 1000))",
    "try:",
    "    out = {'result': getattr(importlib.import_module(module), name)(event, Context())}",
    "except Exception as err:",
    "    traceback.print_exc()",
    "    out = {'error': {'errorMessage': str(err), 'errorType': type(err).__name__,",
    "                     'stackTrace': traceback.format_tb(err.__traceback__)}}",
    "with open(sys.argv[2], 'w') as handle:",
    "    json.dump(out, handle, default=str)",
])


def stock_invokes() -> tuple[Any, Any]:
    """moto's own LambdaSimpleBackend.invoke and LambdaFunction._invoke_lambda."""
    return _STOCK_INVOKE, _STOCK_INVOKE_LAMBDA


def apply_patches() -> None:
    """Patch moto's Lambda in this process; calling it again changes nothing."""
    LambdaSimpleBackend.invoke = LambdaBackend.invoke  # type: ignore[method-assign]
    LambdaFunction._invoke_lambda = _run_locally  # type: ignore[method-assign]


def _code_dir(fn: LambdaFunction) -> Path | None:
    code = getattr(fn, "code_bytes", b"") or b""
    if not code:
        return None
    folder = _CODE_ROOT / hashlib.sha256(code).hexdigest()
    if not folder.is_dir():
        staging = Path(tempfile.mkdtemp(dir=_CODE_ROOT.parent, prefix=".lambda-"))
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            archive.extractall(staging)
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(folder)
        except OSError:  # another invoke extracted it first
            pass
    return folder


def _environment(fn: LambdaFunction, request_id: str, code_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
        "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
        "AWS_REGION": fn.region,
        "_HANDLER": fn.handler or "",
        "FLOWDROP_LAMBDA_REQUEST_ID": request_id,
    })
    env.setdefault("MOTO_PORT", str(settings.moto_server_port()))
    if code_dir is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code_dir), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _put_logs(fn: LambdaFunction, request_id: str, output: bytes, started_ms: int) -> None:
    stream = f"{datetime.now(timezone.utc):%Y/%m/%d}/[{fn.version}]{request_id.replace('-', '')}"
    fn.logs_backend.ensure_log_group(fn.logs_group_name)
    fn.logs_backend.ensure_log_stream(fn.logs_group_name, stream)
    lines = [f"START RequestId: {request_id}",
             *(line for line in output.decode(errors="replace").splitlines() if line.strip()),
             f"END RequestId: {request_id}"]
    events = [{"timestamp": started_ms + i, "message": line} for i, line in enumerate(lines)]
    fn.logs_backend.put_log_events(fn.logs_group_name, stream, events)


def _run_locally(fn: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    request_id = str(uuid.uuid4())
    started_ms = int(time.time() * 1000)
    with tempfile.TemporaryDirectory(prefix="flowdrop-invoke-") as tmp:
        result_file = Path(tmp) / "result.json"
        try:
            env = _environment(fn, request_id, _code_dir(fn))
            done = subprocess.run([sys.executable, "-c", _RUNNER, fn.handler or "", str(result_file)],
                                  input=json.dumps(event if event is not None else {}).encode(), env=env,
                                  cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=float(fn.timeout), check=False)
            output = done.stdout
            answer = json.loads(result_file.read_text()) if result_file.exists() else {"error": {
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status "
                                f"{done.returncode}", "errorType": "Runtime.ExitError"}}
        except subprocess.TimeoutExpired as err:
            output = err.stdout or b""
            answer = {"error": {"errorMessage": f"Task timed out after {float(fn.timeout):.2f} seconds",
                                "errorType": "Sandbox.Timedout"}}
        except Exception as err:  # noqa: BLE001 - the invoke fails, the server lives on
            output = b""
            answer = {"error": {"errorMessage": f"flowdrop local Lambda run failed: {err}",
                                "errorType": "Runtime.Unknown"}}
    _put_logs(fn, request_id, output, started_ms)
    logs = output.decode(errors="replace")[-4096:]
    if "error" in answer:
        return json.dumps(answer["error"]), True, logs
    return json.dumps(answer["result"]), False, logs
