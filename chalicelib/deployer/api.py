"""How the HTTP API answers a failure: status code and JSON body.

Owns: the mapping from flowdrop errors to HTTP statuses, so app.py stays a
list of routes. Bodies are `{"error": "...", "problems": [...]}` (problems
only when there is a list of them): 400 for a malformed request or wrong
parameters, 404 for an unknown flow, run, version or deployment, 502 when
an AWS call failed, 500 for anything else we raised on purpose.
"""

from __future__ import annotations

from typing import Any

from ..errors import DeployError, FlowdropError
from .trigger import FlowNotFoundError, RequestError


def error_answer(err: FlowdropError) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for an error raised by a deployer service."""
    body: dict[str, Any] = {"error": str(err)}
    match err:
        case RequestError(problems=problems):
            return 400, {**body, "problems": list(problems)}
        case FlowNotFoundError():
            return 404, body
        case DeployError():
            return 502, body
        case _:  # ConfigError and anything else raised on purpose: our fault, said plainly
            return 500, body
