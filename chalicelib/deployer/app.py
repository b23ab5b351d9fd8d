"""The deployer's Chalice app: every route and event handler, a few lines each.

Every handler parses its event, calls one service of this package and
shapes the answer; an error becomes its HTTP status (errors.http_answer).
The root app.py, which Chalice and Lambda load, only imports this module. Settings are read from the environment and clients made
once per container, on first use (not at import: cold starts stay short).

  GET    /health                          no auth
  POST   /flows/{flow}/runs               202 {"run_id", "execution_arn", "status_url"}; 400; 404
  GET    /flows                           {"flows": [...]}
  GET    /flows/{flow}                    versions, production, parameters, schedule, next fire times, triggers
  GET    /flows/{flow}/deployments/{sha}  the deployment record (404 until written)
  GET    /flows/{flow}/runs[?status=S&limit=N&next_token=T]  {"runs": [...], "next_token"?: T}
  GET    /flows/{flow}/runs/{run_id}      status and per-step states (?steps=false: status only; &marker=true)
  GET    /flows/{flow}/runs/{run_id}/steps/{step}[?limit=N]  the step's tasks: attempts, exception, logs, artifacts
  POST   /flows/{flow}/runs/{run_id}/terminate  [{"reason": "..."}]: 200 ABORTED; 404; 409 already ended
  DELETE /flows/{flow}/runs/{run_id}      the same as terminate
  POST   /flows/{flow}/runs/{run_id}/resume  [{"step": S}]: 202 a new run reusing the origin's tasks; 400; 404; 409
  POST   /flows/{flow}/rollback           {"version": N}
  POST   /flows/{flow}/backfill           {"from": T, "to": T}: a run per schedule tick without one
  POST   /flows/{flow}/plan               {"manifest", "flow_source"}: what deploying it would do (nothing done)
  DELETE /flows/{flow}                    state machine, alias and rule removed; records kept
  POST   /events                          {"name", "payload"}: 202 {"id", ...}; put on the flowdrop bus
  GET    /flows/{flow}/events             what each trigger event did (started, waiting, duplicate, rejected)
  SQS    deploy                           package notifications (partial batch response)
  SQS    events                           trigger rules' events: start triggered runs (partial batch response)
  Lambda scheduled                        a flow's EventBridge Scheduler schedule fires it
  SQS    alerts                           execution status events: run alerts, queued ticks (partial batch response)

  GET    /  and  /static/{name}           the operator page (no auth: it holds no data; it calls the API above)

Auth (FLOWDROP_API_AUTH, read at import because routes are declared then):
"token" (default) is a bearer token checked against FLOWDROP_API_TOKEN_HASHES
(no header: 401; unknown token: 403); "iam" uses IAM SigV4 (prod stage).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from chalice import AuthResponse, Chalice, IAMAuthorizer, Response

from flowdrop.deployer import auth, flows, requests, runs, schedule, trigger
from flowdrop.deployer.clients import Clients
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.errors import FlowdropError, http_answer
from flowdrop.model import names
from flowdrop.model.runs import RUN_STATUSES
from flowdrop.model.version import __version__

# configure_logs=False: Chalice would give the "flowdrop" logger, parent of
# every library logger, level ERROR and no propagation, hiding the deployer's
# INFO lines (what was deployed, skipped, rejected) from CloudWatch.
app = Chalice(app_name="flowdrop", configure_logs=False)
logging.getLogger("flowdrop").setLevel(os.environ.get("FLOWDROP_LOG_LEVEL", "INFO"))
DEPLOY_QUEUE = os.environ.get("FLOWDROP_DEPLOY_QUEUE", names.DEPLOY_QUEUE)
API_AUTH = os.environ.get("FLOWDROP_API_AUTH", "token")
ALERTS_QUEUE = os.environ.get("FLOWDROP_ALERTS_QUEUE", names.ALERTS_QUEUE)
EVENTS_QUEUE = os.environ.get("FLOWDROP_EVENTS_QUEUE", names.EVENTS_QUEUE)


@functools.cache
def settings() -> DeployerSettings:
    """This container's settings, read once."""
    return DeployerSettings.from_env()


@functools.cache
def clients() -> Clients:
    """This container's boto3 clients, made once."""
    return Clients.from_config(settings().aws)


def now() -> datetime:
    return datetime.now(timezone.utc)


def answer(call: Callable[[], Any], status: int = 200) -> Response:
    """Run a service call; its result (or its error) as a JSON response."""
    try:
        return Response(body=call(), status_code=status)
    except FlowdropError as err:
        code, body = http_answer(err)
        return Response(body=body, status_code=code)


@app.authorizer()
def token_authorizer(auth_request: Any) -> AuthResponse:
    allowed = auth.token_allowed(auth_request.token, settings().api_token_hashes)
    return AuthResponse(routes=["*"] if allowed else [], principal_id="api-token" if allowed else "denied")


AUTHORIZER = IAMAuthorizer() if API_AUTH == "iam" else token_authorizer
# Bodies are JSON whatever their Content-Type says (requests.json_body): Chalice would answer 415 to any
# type but application/json, and curl -d declares form data.
ANY_BODY = ["*/*"]


@app.route("/health", methods=["GET"])
def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


@app.route("/flows/{flow}/runs", methods=["POST"], authorizer=AUTHORIZER, content_types=ANY_BODY)
def start_run(flow: str) -> Response:
    request = app.current_request
    return answer(lambda: trigger.trigger_run(
        flow, trigger.TriggerRequest.from_body(requests.json_body(request.raw_body),
                                               request.headers.get("idempotency-key")),
        clients(), settings()).to_dict(), status=202)


@app.route("/flows", methods=["GET"], authorizer=AUTHORIZER)
def list_flows() -> Response:
    return answer(lambda: {"flows": flows.list_flows(clients(), settings())})


@app.route("/flows/{flow}", methods=["GET"], authorizer=AUTHORIZER)
def describe_flow(flow: str) -> Response:
    return answer(lambda: flows.describe_flow(flow, clients(), settings(), now()))


@app.route("/flows/{flow}/deployments/{sha}", methods=["GET"], authorizer=AUTHORIZER)
def get_deployment(flow: str, sha: str) -> Response:
    return answer(lambda: flows.get_deployment(flow, sha, clients(), settings(), now()))


@app.route("/flows/{flow}/runs", methods=["GET"], authorizer=AUTHORIZER)
def list_runs(flow: str) -> Response:
    query = app.current_request.query_params or {}

    def page() -> dict:
        status = requests.choice("status", query.get("status"), RUN_STATUSES)
        limit = requests.bounded_int("limit", query.get("limit"), 1, runs.MAX_RUNS_PAGE, default=100)
        found, token = runs.list_runs(flow, clients(), settings(), status, limit, query.get("next_token") or None)
        return {"runs": found, **({"next_token": token} if token else {})}

    return answer(page)


@app.route("/flows/{flow}/runs/{run_id}", methods=["GET"], authorizer=AUTHORIZER)
def run_status(flow: str, run_id: str) -> Response:
    query = app.current_request.query_params or {}
    return answer(lambda: runs.run_status(flow, run_id, clients(), settings(),
                                          with_steps=requests.flag("steps", query.get("steps"), default=True),
                                          with_marker=requests.flag("marker", query.get("marker"), default=False)))


@app.route("/flows/{flow}/runs/{run_id}/steps/{step}", methods=["GET"], authorizer=AUTHORIZER)
def step_tasks(flow: str, run_id: str, step: str) -> Response:
    from flowdrop.deployer import step_tasks as tasks

    query = app.current_request.query_params or {}
    return answer(lambda: tasks.step_tasks(flow, run_id, step, clients(), settings(), requests.bounded_int(
        "limit", query.get("limit"), 1, tasks.MAX_TASKS, default=tasks.DEFAULT_TASKS)))


def _terminate(flow: str, run_id: str) -> Response:
    def call() -> dict[str, Any]:
        request = app.current_request
        body = requests.json_object(request.raw_body, "terminate")
        # IAM (prod) names the caller; with a token, the client says who it is.
        identity = ((request.context or {}).get("identity") or {}).get("userArn")
        user = identity or (body.get("user") if isinstance(body.get("user"), str) else None)
        return runs.terminate_run(flow, run_id, clients(), settings(), user, body.get("reason"), now())

    return answer(call)


@app.route("/flows/{flow}/runs/{run_id}/terminate", methods=["POST"], authorizer=AUTHORIZER, content_types=ANY_BODY)
def terminate_run(flow: str, run_id: str) -> Response:
    return _terminate(flow, run_id)


@app.route("/flows/{flow}/runs/{run_id}", methods=["DELETE"], authorizer=AUTHORIZER)
def cancel_run(flow: str, run_id: str) -> Response:
    return _terminate(flow, run_id)  # REST's spelling of terminate


@app.route("/flows/{flow}/runs/{run_id}/resume", methods=["POST"], authorizer=AUTHORIZER, content_types=ANY_BODY)
def resume_run(flow: str, run_id: str) -> Response:
    def call() -> dict[str, Any]:
        from flowdrop.deployer import resume

        request = app.current_request
        parsed = resume.ResumeRequest.from_body(requests.json_object(request.raw_body, "resume"))
        identity = ((request.context or {}).get("identity") or {}).get("userArn")
        if identity:  # IAM (prod) names the caller; with a token, the client says who it is
            parsed = resume.ResumeRequest(parsed.step, identity)
        return resume.resume_run(flow, run_id, parsed, clients(), settings(), now())

    return answer(call, status=202)


@app.route("/flows/{flow}/rollback", methods=["POST"], authorizer=AUTHORIZER, content_types=ANY_BODY)
def rollback(flow: str) -> Response:
    def call() -> dict[str, Any]:
        version = requests.json_object(app.current_request.raw_body, "rollback").get("version")
        return flows.rollback(flow, version, clients(), settings(), now()).to_dict()

    return answer(call)


@app.route("/flows/{flow}/backfill", methods=["POST"], authorizer=AUTHORIZER, content_types=ANY_BODY)
def backfill(flow: str) -> Response:
    def call() -> dict[str, Any]:
        body = requests.json_object(app.current_request.raw_body, "backfill")
        return schedule.backfill(flow, body.get("from"), body.get("to"), clients(), settings(), now())

    return answer(call)


@app.route("/flows/{flow}/plan", methods=["POST"], authorizer=AUTHORIZER, content_types=ANY_BODY)
def plan_deployment(flow: str) -> Response:
    from flowdrop.deployer import preview  # the compiler and parser: only a plan request loads them here

    return answer(lambda: preview.preview_deployment(flow, requests.json_body(app.current_request.raw_body),
                                                     clients(), settings(), now()))


@app.route("/flows/{flow}", methods=["DELETE"], authorizer=AUTHORIZER)
def delete_flow(flow: str) -> Response:
    return answer(lambda: flows.delete_flow(flow, clients(), settings()))


@app.on_sqs_message(queue=DEPLOY_QUEUE, batch_size=10, name="deploy")
def deploy(event: Any) -> dict[str, Any]:
    from flowdrop.deployer import sqs_events  # the compiler and parser: only this Lambda loads them

    return sqs_events.handle_package_batch(event.to_dict(), clients(), settings(), now, event.context)


@app.lambda_function(name="scheduled")
def scheduled(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return schedule.start_scheduled_run(event, clients(), settings(), now()).to_dict()


@app.on_sqs_message(queue=ALERTS_QUEUE, batch_size=10, name="alerts")
def alerts(event: Any) -> dict[str, Any]:
    from flowdrop.deployer import alerts as run_alerts

    return run_alerts.handle_status_batch(event.to_dict(), clients(), settings(), event.context)


# -- event triggers ------------------------------------------------------------------------------


@app.route("/events", methods=["POST"], authorizer=AUTHORIZER, content_types=ANY_BODY)
def publish_event() -> Response:
    from flowdrop.deployer import events

    def call() -> dict[str, Any]:
        body = requests.json_body(app.current_request.raw_body)
        body = body if isinstance(body, dict) else {}
        return events.publish_event(body.get("name"), body.get("payload"), clients(), settings(), now())

    return answer(call, status=202)


@app.route("/flows/{flow}/events", methods=["GET"], authorizer=AUTHORIZER)
def flow_events(flow: str) -> Response:
    from flowdrop.deployer import events

    return answer(lambda: events.event_outcomes(flow, clients(), settings()))


@app.on_sqs_message(queue=EVENTS_QUEUE, batch_size=10, name="events")
def trigger_events(event: Any) -> dict[str, Any]:
    from flowdrop.deployer import events

    return events.handle_event_batch(event.to_dict(), clients(), settings(), now())


# -- the operator page: its shell only; every datum comes from the routes above, with the user's token ---------


@app.route("/", methods=["GET"])
def operator_page() -> Response:
    from flowdrop import page

    return Response(**page.asset_response("index.html"))


@app.route("/static/{name}", methods=["GET"])
def operator_page_asset(name: str) -> Response:
    from flowdrop import page

    return Response(**page.asset_response(name))
