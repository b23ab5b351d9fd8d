"""The deployer's app hosted in this process: its HTTP routes on loopback, its handlers callable directly.

Owns: loading flowdrop.deployer.app (the very module Lambda runs, through
the root app.py) as a fresh module once the deployer's environment is set, serving its routes with Chalice's local
server (the custom authorizer runs as API Gateway would run it) in a
thread, Lambda contexts for the handlers, and the stack's own control
routes under `/_local/` (not part of the deployed API; same bearer token):
`POST /_local/schedule/fire {"flow": ...}` fires a flow's rule now (404 when
it has none), `GET /_local/stack` says where everything is.
Does not own: what the handlers do (deployer/) or the control actions
(stack.py passes them in).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from flowdrop.deployer import auth
from flowdrop.errors import ConfigError, FlowdropError

log = logging.getLogger(__name__)
_counter = itertools.count(1)

CONTROL_PREFIX = "/_local/"
Control = Callable[[str, dict[str, Any]], Any]  # (action, body) -> JSON-able answer


def app_file() -> Path:
    """The deployer's Chalice app module (flowdrop/deployer/app.py), found without importing it."""
    spec = importlib.util.find_spec("flowdrop.deployer.app")
    if spec is None or spec.origin is None:
        raise ConfigError("the embedded stack needs flowdrop's deployer: install flowdrop with its service "
                          "extras (pip install 'flowdrop[local]')")
    return Path(spec.origin)


def load_app(path: Path | None = None) -> ModuleType:
    """The deployer's app as a new module object (its settings and client caches are this stack's alone)."""
    path = path or app_file()
    name = f"flowdrop_local_app_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _unmute_library_logs(module)
    return module


def _unmute_library_logs(module: ModuleType) -> None:
    # Chalice configures a logger named after the app, "flowdrop": the parent
    # of every library logger. It gets a stderr handler, level ERROR and no
    # propagation, which would hide the library's warnings from the stack's
    # log. Here they go to the root logger (the stack's log file) instead.
    app_log = getattr(getattr(module, "app", None), "log", None)
    if isinstance(app_log, logging.Logger):
        for handler in list(app_log.handlers):
            app_log.removeHandler(handler)
        app_log.setLevel(logging.NOTSET)
        app_log.propagate = True


def lambda_context(function_name: str, timeout_seconds: int = 120, memory_mb: int = 512) -> Any:
    """A Lambda context object as the handlers (and Powertools) expect one."""
    from chalice.local import LambdaContext

    return LambdaContext(function_name=function_name, memory_size=memory_mb, max_runtime_ms=timeout_seconds * 1000)


class LocalApi:
    """The app's routes served on 127.0.0.1:`port` in a background thread."""

    def __init__(self, app_module: ModuleType, port: int, token_hashes: tuple[str, ...], control: Control):
        from chalice.config import Config
        from chalice.local import ChaliceRequestHandler, LocalChalice, LocalDevServer

        self.port = port
        config = Config(chalice_stage="local", user_provided_params={
            "app_name": "flowdrop", "lambda_timeout": 60, "lambda_memory_size": 256})

        class Handler(ChaliceRequestHandler):
            """Chalice's local handler, plus the stack's control routes; requests logged, not printed."""

            def _generic_handle(self) -> None:
                if self.path.startswith(CONTROL_PREFIX):
                    self._control()
                else:
                    super()._generic_handle()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

            def _control(self) -> None:
                headers, body = self._parse_payload()
                if not auth.token_allowed(self.headers.get("authorization"), token_hashes):
                    return self._json(403, {"Message": "not authorized"})
                try:
                    data = json.loads(body or b"{}")
                    answer = control(self.path[len(CONTROL_PREFIX):].strip("/"), data if isinstance(data, dict) else {})
                    self._json(200, answer)
                except LookupError as err:  # what was named does not exist
                    self._json(404, {"error": str(err)})
                except FlowdropError as err:
                    self._json(400, {"error": str(err)})
                except Exception as err:  # noqa: BLE001 - the entry point: an answer, never a dropped connection
                    log.exception("control request %s failed", self.path)
                    self._json(500, {"error": f"{type(err).__name__}: {err}"})

            def _json(self, code: int, value: Any) -> None:
                self._send_http_response(code, {"Content-Type": "application/json"}, json.dumps(value, default=str))

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
                log.info("api %s %s", self.address_string(), format % args)

        # What chalice.local.create_local_server does: the server is threaded,
        # so the app's current_request must be per thread.
        if not isinstance(app_module.app, LocalChalice):
            app_module.app.__class__ = type("LocalFlowdropApp", (LocalChalice, type(app_module.app)), {})
        self._server = LocalDevServer(app_module.app, config, "127.0.0.1", port, handler_cls=Handler)
        self._thread = threading.Thread(target=self._server.server.serve_forever, name="flowdrop-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalApi:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(10)
        self._server.server.server_close()
