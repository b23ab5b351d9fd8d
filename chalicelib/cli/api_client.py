"""A tiny JSON client for the deployer's HTTPS API.

Owns: sending one JSON request with the bearer token, and turning every way
it can go wrong (unreachable, timed out, 4xx/5xx, not JSON) into an ApiError
that carries the HTTP status and the server's list of problems. Used by
`python flow.py step-functions ...` and the `flowdrop` operator CLI. Does not
own: what the answers mean (the callers), or where the URL and token come
from (config.py). Standard library only, so the SDK stays light.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

from flowdrop.config import ClientConfig
from flowdrop.errors import ApiError

DEFAULT_TIMEOUT = 10.0  # seconds per request; the API answers from DynamoDB and Step Functions
_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


def _quote(segment: str) -> str:
    # Flow names hold dots (`proj.user.alice.Flow`): keep them, escape the rest.
    return urllib.parse.quote(segment, safe=".-_~")


class ApiClient:
    """Calls the flowdrop API at `base_url` with `Authorization: Bearer <token>`, or signed with
    SigV4 (`iam_region` set) for a stage whose routes use IAM auth."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 iam_region: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.iam_region = iam_region

    @classmethod
    def from_config(cls, config: ClientConfig, timeout: float = DEFAULT_TIMEOUT) -> ApiClient:
        """A client for the configured api_url: with api_token a bearer token, else (an API Gateway URL) SigV4."""
        config.require("api_url")
        url = str(config.api_url)
        match = _EXECUTE_API_HOST.match(urllib.parse.urlsplit(url).hostname or "")
        iam_region = match.group(1) if match and not config.api_token else None
        return cls(url, config.api_token, timeout, iam_region)

    # -- the API, one method per route ------------------------------------------------

    def health(self) -> dict[str, Any]:
        """GET /health."""
        return self.request("GET", "/health")

    def list_flows(self) -> dict[str, Any]:
        """GET /flows."""
        return self.request("GET", "/flows")

    def get_flow(self, flow: str) -> dict[str, Any]:
        """GET /flows/{flow}: versions, production version, parameters, schedule."""
        return self.request("GET", f"/flows/{_quote(flow)}")

    def get_deployment(self, flow: str, code_sha256: str) -> dict[str, Any] | None:
        """GET /flows/{flow}/deployments/{sha}; None while the deployer has not written it (404)."""
        try:
            return self.request("GET", f"/flows/{_quote(flow)}/deployments/{_quote(code_sha256)}")
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def trigger(self, flow: str, parameters: Mapping[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        """POST /flows/{flow}/runs: start a run of the production version; returns run_id and status_url."""
        body: dict[str, Any] = {"parameters": dict(parameters)}
        if idempotency_key:
            body["idempotency_key"] = idempotency_key
        return self.request("POST", f"/flows/{_quote(flow)}/runs", body)

    def list_runs(self, flow: str, status: str | None = None, limit: int | None = None,
                  next_token: str | None = None) -> dict[str, Any]:
        """GET /flows/{flow}/runs: one page, newest first, optionally only runs in `status`
        (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED); `next_token` in the answer when there are more."""
        query = {k: str(v) for k, v in (("status", status), ("limit", limit), ("next_token", next_token)) if v}
        return self.request("GET", f"/flows/{_quote(flow)}/runs", query=query or None)

    def iter_runs(self, flow: str, status: str | None = None) -> Iterator[dict[str, Any]]:
        """Every run of `flow` (in `status`), newest first, page after page."""
        token: str | None = None
        while True:
            page = self.list_runs(flow, status, next_token=token)
            yield from page.get("runs") or []
            token = page.get("next_token")
            if not token:
                return

    def get_run(self, flow: str, run_id: str, steps: bool = True) -> dict[str, Any]:
        """GET /flows/{flow}/runs/{run_id}: status and per-step states (steps=False: status only, cheap)."""
        query = "" if steps else "?steps=false"
        return self.request("GET", f"/flows/{_quote(flow)}/runs/{_quote(run_id)}{query}")

    def terminate(self, flow: str, run_id: str, reason: str | None = None, user: str | None = None) -> dict[str, Any]:
        """POST /flows/{flow}/runs/{run_id}/terminate: stop a running run (it ends ABORTED)."""
        body = {k: v for k, v in (("reason", reason), ("user", user)) if v}
        return self.request("POST", f"/flows/{_quote(flow)}/runs/{_quote(run_id)}/terminate", body)

    def cancel(self, flow: str, run_id: str, reason: str | None = None, user: str | None = None) -> dict[str, Any]:
        """DELETE /flows/{flow}/runs/{run_id}: the same as terminate."""
        body = {k: v for k, v in (("reason", reason), ("user", user)) if v}
        return self.request("DELETE", f"/flows/{_quote(flow)}/runs/{_quote(run_id)}", body or None)

    def resume(self, flow: str, run_id: str, step: str | None = None, user: str | None = None) -> dict[str, Any]:
        """POST /flows/{flow}/runs/{run_id}/resume: a new production run reusing the origin's successful tasks."""
        body = {k: v for k, v in (("step", step), ("user", user)) if v}
        return self.request("POST", f"/flows/{_quote(flow)}/runs/{_quote(run_id)}/resume", body)

    def rollback(self, flow: str, version: int) -> dict[str, Any]:
        """POST /flows/{flow}/rollback: point `production` at an earlier version."""
        return self.request("POST", f"/flows/{_quote(flow)}/rollback", {"version": int(version)})

    def backfill(self, flow: str, start: str, end: str) -> dict[str, Any]:
        """POST /flows/{flow}/backfill: one run per schedule tick from `start` to `end` (inclusive) without a run."""
        return self.request("POST", f"/flows/{_quote(flow)}/backfill", {"from": start, "to": end})

    def plan(self, flow: str, manifest: Mapping[str, Any], flow_source: str) -> dict[str, Any]:
        """POST /flows/{flow}/plan: what deploying this manifest and source would do; nothing is deployed."""
        return self.request("POST", f"/flows/{_quote(flow)}/plan", {"manifest": dict(manifest),
                                                                   "flow_source": flow_source})

    def delete_flow(self, flow: str) -> dict[str, Any]:
        """DELETE /flows/{flow}: state machine, alias and schedule removed; records kept."""
        return self.request("DELETE", f"/flows/{_quote(flow)}")

    # -- transport ---------------------------------------------------------------------

    def publish_event(self, name: str, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST /events: put event `name` with `payload` on the flowdrop bus; {"name", "id", ...}."""
        return self.request("POST", "/events", {"name": name, "payload": dict(payload or {})})

    def flow_events(self, flow: str) -> list[dict[str, Any]]:
        """GET /flows/{flow}/events: what each trigger event of `flow` did, oldest first."""
        return list(self.request("GET", f"/flows/{_quote(flow)}/events").get("events", []))

    def url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        """The absolute URL of `path` (which starts with '/')."""
        return self.base_url + path + (("?" + urllib.parse.urlencode(dict(query))) if query else "")

    def request(self, method: str, path: str, body: Any = None, query: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Send one request; the decoded JSON object answered, or ApiError."""
        url = self.url(path, query)
        headers = {"Accept": "application/json", "User-Agent": "flowdrop"}
        data = None
        if body is not None:
            data = json.dumps(body, sort_keys=True).encode("utf-8")
            headers["Content-Type"] = "application/json"
        where = f"{method} {url}"
        if self.iam_region:
            headers = _signed(method, url, headers, data, self.iam_region, where)
        elif self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:  # noqa: S310 - URL from config
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as err:
            reason = getattr(err, "reason", err)
            raise ApiError(
                f"{where}: cannot reach the flowdrop API ({reason}). Check api_url (or $FLOWDROP_API_URL) "
                "and that the deployer is up (`flowdrop up` for the embedded stack).",
                method=method, url=url,
            ) from err
        payload = _decode(raw)
        if 200 <= status < 300:
            if not isinstance(payload, dict):
                raise ApiError(f"{where}: expected a JSON object, got {raw[:200]!r}", status=status, method=method, url=url)
            return payload
        raise _error(method, url, status, payload, raw)


def _signed(method: str, url: str, headers: dict[str, str], data: bytes | None, region: str,
            where: str) -> dict[str, str]:
    """`headers` plus a SigV4 signature for execute-api, from the usual AWS credential chain."""
    import botocore.session  # imported here: only IAM-auth stages pay for botocore
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        raise ApiError(f"{where}: this API uses IAM auth and no AWS credentials were found to sign the request; "
                       "configure AWS credentials (or set api_token for a token-auth stage).", method=method, url=url)
    request = AWSRequest(method=method, url=url, data=data, headers=headers)
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def _decode(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


_HINTS = {
    401: "The API needs a token: set api_token (or $FLOWDROP_API_TOKEN).",
    403: "The token was refused: check api_token (or $FLOWDROP_API_TOKEN) and the stage's allowed tokens.",
}


def _error(method: str, url: str, status: int, payload: Any, raw: bytes) -> ApiError:
    problems: tuple[str, ...] = ()
    if isinstance(payload, dict):
        # Chalice's own errors say {"Code": ..., "Message": ...}; ours say {"error", "problems"}.
        text = payload.get("error") or payload.get("message") or payload.get("Message") or ""
        found = payload.get("problems")
        if isinstance(found, list):
            problems = tuple(str(p) for p in found)
    else:
        text = raw[:200].decode("utf-8", "replace").strip()
    message = f"{method} {url}: HTTP {status}" + (f": {text}" if text else "")
    if status in _HINTS:
        message += f". {_HINTS[status]}"
    return ApiError(message, status=status, problems=problems, method=method, url=url)
