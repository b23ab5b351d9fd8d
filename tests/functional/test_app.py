"""app.py end to end on a moto server: package drop -> SQS -> deploy handler -> production; the API.

Handlers run through Chalice's test client (routes with the real custom
authorizer, `lambda_.invoke` for the SQS and scheduled handlers); the SQS
events are the messages the bucket notification really put in the queue.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from chalice.test import Client

import app as deployer_app
from tests.helpers.deployer import (
    API_TOKEN,
    EXAMPLES,
    T0,
    DeployerStack,
    created_at,
    make_stack,
    sqs_event,
)

AUTH = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
PARAMETER_FLOW = (EXAMPLES / "parameter_flow.py").read_text()


@pytest.fixture
def stack(aws, unique_name) -> DeployerStack:
    return make_stack(aws, unique_name)


@pytest.fixture
def client(stack: DeployerStack, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Client:
    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    deployer_app.settings.cache_clear()
    deployer_app.clients.cache_clear()
    # An empty project dir: no .chalice/config.json environment overrides the stack's.
    with Client(deployer_app.app, project_dir=str(tmp_path)) as test_client:
        yield test_client
    deployer_app.settings.cache_clear()
    deployer_app.clients.cache_clear()


def deliver(client: Client, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Invoke the deploy handler with these SQS records; its partial batch response."""
    return client.lambda_.invoke("deploy", sqs_event(records)).payload


def upload_and_deploy(stack: DeployerStack, client: Client, package) -> list[dict[str, Any]]:
    """Drop the package, read what the notification put in the queue, hand it to the handler."""
    stack.upload(package.key, package.data)
    records = stack.receive()
    assert any(package.key.replace("/", "%2F") in r["body"] for r in records), records
    assert deliver(client, records) == {"batchItemFailures": []}
    stack.delete(records)
    return records


def get(client: Client, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    response = client.http.get(path, headers=AUTH if headers is None else headers)
    return response.status_code, response.json_body


def post(client: Client, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    response = client.http.post(path, headers=AUTH if headers is None else headers, body=json.dumps(body).encode())
    return response.status_code, response.json_body


def alias_version(stack: DeployerStack, flow: str) -> int:
    arn = stack.machine_arn(flow) + ":production"
    routing = stack.clients.sfn.describe_state_machine_alias(stateMachineAliasArn=arn)["routingConfiguration"]
    assert len(routing) == 1 and routing[0]["weight"] == 100
    return int(routing[0]["stateMachineVersionArn"].rsplit(":", 1)[1])


def rule(stack: DeployerStack, flow: str) -> dict[str, Any] | None:
    rules = stack.clients.events.list_rules(NamePrefix=f"flowdrop-{stack.machine(flow)}")["Rules"]
    return rules[0] if rules else None


def schedule_of(stack: DeployerStack, flow: str) -> dict[str, Any] | None:
    try:
        return stack.clients.scheduler.get_schedule(Name=f"flowdrop-{stack.machine(flow)}",
                                                    GroupName=stack.settings.schedule_group)
    except stack.clients.scheduler.exceptions.ResourceNotFoundException:
        return None


# -- the seed's story -----------------------------------------------------------------------------


def test_parameter_flow_versions_alias_redelivery_late_package_and_trigger(stack, client):
    pf = stack.machine("ParameterFlow")
    first = stack.package(EXAMPLES / "parameter_flow.py")
    first_records = upload_and_deploy(stack, client, first)
    status, record = get(client, f"/flows/{pf}/deployments/{first.sha}")
    assert status == 200 and record["status"] == "ACCEPTED" and record["version"] == 1, record
    assert record["created"] == first.manifest["created"]
    assert alias_version(stack, "ParameterFlow") == 1

    # A package uploaded before version 2 whose notification is delivered late (below).
    late_source = PARAMETER_FLOW.replace("Learning rate", "Step size")
    late = stack.package(late_source, file_name="parameter_flow.py", created=T0 + timedelta(minutes=30))
    stack.upload(late.key, late.data)
    late_records = stack.receive()
    time.sleep(1.05 - time.time() % 1)  # S3's LastModified, which orders uploads, has one-second resolution

    changed = PARAMETER_FLOW.replace("alpha is still", "alpha remains")
    second = stack.package(changed, file_name="parameter_flow.py", created=T0 + timedelta(hours=1))
    upload_and_deploy(stack, client, second)
    assert get(client, f"/flows/{pf}/deployments/{second.sha}")[1]["version"] == 2
    assert alias_version(stack, "ParameterFlow") == 2

    # The first notification delivered again: one deployment, nothing moves.
    assert deliver(client, first_records) == {"batchItemFailures": []}
    assert get(client, f"/flows/{pf}/deployments/{first.sha}")[1] == record
    assert alias_version(stack, "ParameterFlow") == 2

    # The same upload notified again under another ETag (a multipart upload's second event): nothing changes.
    again = [dict(r, messageId=r["messageId"] + "-again", body=r["body"].replace('"eTag": "', '"eTag": "x'))
             for r in first_records]
    assert deliver(client, again) == {"batchItemFailures": []}
    assert get(client, f"/flows/{pf}/deployments/{first.sha}")[1] == record

    # The package uploaded before version 2 arrives late: recorded, alias untouched.
    assert deliver(client, late_records) == {"batchItemFailures": []}
    late_record = get(client, f"/flows/{pf}/deployments/{late.sha}")[1]
    assert late_record["status"] == "SUPERSEDED", late_record
    assert "production stays on version 2" in late_record["message"]
    assert alias_version(stack, "ParameterFlow") == 2

    status, started = post(client, f"/flows/{pf}/runs", {"parameters": {"alpha": 0.5}})
    assert status == 202, started
    assert started["run_id"].startswith("sfn-")
    assert started["status_url"] == f"/flows/{pf}/runs/{started['run_id']}"
    execution = stack.clients.sfn.describe_execution(executionArn=started["execution_arn"])
    assert json.loads(execution["input"]) == {"Parameters": "{\"alpha\": 0.5}"}
    assert execution["input"] == json.dumps({"Parameters": "{\"alpha\": 0.5}"})


def test_same_code_uploaded_again_is_duplicate_without_a_new_version(stack, client):
    pf = stack.machine("ParameterFlow")
    first = stack.package(EXAMPLES / "parameter_flow.py")
    upload_and_deploy(stack, client, first)
    again = stack.package(EXAMPLES / "parameter_flow.py", created=T0 + timedelta(hours=1))
    assert again.key == first.key and again.data != first.data  # same code, new manifest time
    upload_and_deploy(stack, client, again)
    record = get(client, f"/flows/{pf}/deployments/{first.sha}")[1]
    assert record["status"] == "DUPLICATE" and record["version"] == 1
    assert record["created"] == created_at(T0 + timedelta(hours=1))
    assert [v["version"] for v in get(client, f"/flows/{pf}")[1]["versions"]] == [1]


# -- the trigger API ------------------------------------------------------------------------------


@pytest.fixture
def deployed(stack, client):
    upload_and_deploy(stack, client, stack.package(EXAMPLES / "parameter_flow.py"))
    return client


def test_trigger_needs_a_valid_token(deployed, stack):
    pf = stack.machine("ParameterFlow")
    body = {"parameters": {"alpha": 0.5}}
    status, answer = post(deployed, f"/flows/{pf}/runs", body, headers={})
    assert status == 401, answer
    status, answer = post(deployed, f"/flows/{pf}/runs", body, headers={"Authorization": "Bearer wrong"})
    assert status == 403, answer
    status, _ = post(deployed, f"/flows/{pf}/runs", body, headers={"Authorization": API_TOKEN})
    assert status == 403  # not a bearer token
    arn = stack.machine_arn("ParameterFlow")
    assert stack.clients.sfn.list_executions(stateMachineArn=arn)["executions"] == []
    assert deployed.http.get("/health").status_code == 200


def test_publishing_an_event_needs_a_valid_token(stack, client, monkeypatch):
    # A bus of this test's own, its events copied to a queue: what reached the bus can be read back.
    bus = f"{stack.name}-bus"
    stack.clients.events.create_event_bus(Name=bus)
    queue_url = stack.sqs.create_queue(QueueName=f"{stack.name}-seen")["QueueUrl"]
    queue_arn = stack.sqs.get_queue_attributes(QueueUrl=queue_url,
                                               AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.clients.events.put_rule(Name=f"{stack.name}-all", EventBusName=bus,
                                  EventPattern=json.dumps({"source": ["flowdrop.events"]}))
    stack.clients.events.put_targets(Rule=f"{stack.name}-all", EventBusName=bus,
                                     Targets=[{"Id": "q", "Arn": queue_arn}])
    monkeypatch.setenv("FLOWDROP_EVENT_BUS", bus)
    deployer_app.settings.cache_clear()
    body = {"name": "data.ready", "payload": {"id": "evt-refused"}}
    status, answer = post(client, "/events", body, headers={})
    assert status == 401, answer
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": API_TOKEN}):  # unknown, not a bearer token
        status, answer = post(client, "/events", body, headers=headers)
        assert status == 403, (headers, answer)
    status, answer = post(client, "/events", {"name": "data.ready", "payload": {"id": "evt-allowed"}})
    assert (status, answer["id"], answer["bus"]) == (202, "evt-allowed", bus), answer
    # `curl -d` declares form data: the JSON body is read as on every POST route.
    headers = {"Authorization": AUTH["Authorization"], "Content-Type": "application/x-www-form-urlencoded"}
    body = json.dumps({"name": "data.ready", "payload": {"id": "evt-curl"}}).encode()
    status, answer = raw_post(client, "/events", body, headers)
    assert (status, answer.get("id")) == (202, "evt-curl"), answer
    seen = stack.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    ids = sorted(json.loads(m["Body"])["detail"]["id"] for m in seen)
    assert ids == ["evt-allowed", "evt-curl"]  # the refused ones never got there


def test_trigger_lists_every_parameter_problem(deployed, stack):
    pf = stack.machine("ParameterFlow")
    status, answer = post(deployed, f"/flows/{pf}/runs", {"parameters": {"alpha": "fast", "beta": 1}})
    assert status == 400
    problems = answer["problems"]
    assert len(problems) == 2, problems
    assert any("unknown parameter 'beta'" in p and "alpha" in p for p in problems)
    assert any("'alpha' expects a number" in p and "fast" in p for p in problems)
    status, answer = post(deployed, f"/flows/{pf}/runs", {"parameters": [1]})
    assert status == 400 and "parameters must be an object" in answer["problems"][0]
    # A JSON null is not a number (leave alpha out for its default): said in JSON's words.
    status, answer = post(deployed, f"/flows/{pf}/runs", {"parameters": {"alpha": None}})
    assert status == 400 and answer["problems"] == ["parameter 'alpha' expects a number: null is not a number"]


def test_trigger_unknown_flow_is_404(deployed, stack):
    status, answer = post(deployed, "/flows/NoSuchFlow/runs", {"parameters": {}})
    assert status == 404 and "NoSuchFlow" in answer["error"]


def test_idempotency_key_gives_the_same_run(deployed, stack):
    pf = stack.machine("ParameterFlow")
    body = {"parameters": {"alpha": 0.2}, "idempotency_key": "nightly-2026-11-25"}
    first = post(deployed, f"/flows/{pf}/runs", body)
    second = post(deployed, f"/flows/{pf}/runs", body)
    header = post(deployed, f"/flows/{pf}/runs", {"parameters": {"alpha": 0.2}},
                  headers={**AUTH, "Idempotency-Key": "nightly-2026-11-25"})
    assert first[0] == second[0] == header[0] == 202
    assert first[1]["run_id"] == second[1]["run_id"] == header[1]["run_id"]
    other = post(deployed, f"/flows/{pf}/runs", {"parameters": {}})[1]
    assert other["run_id"] != first[1]["run_id"]
    runs = get(deployed, f"/flows/{pf}/runs")[1]["runs"]
    assert sorted(r["run_id"] for r in runs) == sorted([first[1]["run_id"], other["run_id"]])


def test_run_status_and_flow_views(deployed, stack):
    pf = stack.machine("ParameterFlow")
    started = post(deployed, f"/flows/{pf}/runs", {"parameters": {}})[1]
    status, run = get(deployed, started["status_url"])
    assert status == 200 and run["run_id"] == started["run_id"]
    assert run["status"] in ("RUNNING", "SUCCEEDED", "FAILED")
    assert set(run["steps"]) <= {"start", "end"}
    status, brief = get(deployed, started["status_url"] + "?steps=false")
    assert status == 200 and brief["run_id"] == started["run_id"] and "steps" not in brief
    assert brief["status"] in ("RUNNING", "SUCCEEDED", "FAILED")
    assert get(deployed, f"/flows/{pf}/runs/sfn-nope")[0] == 404
    assert get(deployed, f"/flows/{pf}/runs/sfn-nope?steps=false")[0] == 404

    flows = get(deployed, "/flows")[1]["flows"]
    assert [(f["flow"], f["version"]) for f in flows] == [(pf, 1)]
    flow = get(deployed, f"/flows/{pf}")[1]
    assert flow["production_version"] == 1 and flow["schedule"] is None
    assert [p["name"] for p in flow["parameters"]] == ["alpha"]
    assert get(deployed, "/flows/Nope")[0] == 404


def worker_message(stack: DeployerStack) -> dict[str, Any]:
    """The next task a run's callback state put in the worker queue (received and deleted): token and payload."""
    url = stack.settings.backend.worker_queue_url
    got = stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=10).get("Messages", [])
    assert got, "no task reached the worker queue"
    stack.sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    return json.loads(got[0]["Body"])


def test_the_cheap_status_carries_a_marker_that_moves_only_when_the_run_does(deployed, stack):
    pf = stack.machine("ParameterFlow")
    url = post(deployed, f"/flows/{pf}/runs", {"parameters": {}})[1]["status_url"]
    task = worker_message(stack)  # the start task is waiting for a worker: nothing happens until it answers
    first = get(deployed, url + "?steps=false&marker=true")[1]
    again = get(deployed, url + "?steps=false&marker=true")[1]
    full = get(deployed, url)[1]
    assert "last_event_id" not in get(deployed, url + "?steps=false")[1]  # only pollers that ask pay for it
    assert first["status"] == "RUNNING" and first["last_event_id"] > 1
    assert again["last_event_id"] == first["last_event_id"] == full["last_event_id"]
    assert full["steps"] == {"start": "RUNNING"}  # the full answer keeps its fields

    stack.clients.sfn.send_task_failure(taskToken=task["task_token"], error="Boom", cause="the worker failed")
    deadline, ended = time.monotonic() + 20, first
    while ended["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)  # moto's interpreter fails the run in its own thread
        ended = get(deployed, url + "?steps=false&marker=true")[1]
    assert ended["status"] == "FAILED" and ended["last_event_id"] > first["last_event_id"]
    assert get(deployed, url)[1]["last_event_id"] == ended["last_event_id"]
    history = stack.clients.sfn.get_execution_history(executionArn=ended["execution_arn"])["events"]
    assert ended["last_event_id"] == max(e["id"] for e in history)


def test_rollback_and_delete(deployed, stack):
    pf = stack.machine("ParameterFlow")
    changed = PARAMETER_FLOW.replace("alpha is still", "alpha remains")
    upload_and_deploy(stack, deployed, stack.package(changed, file_name="parameter_flow.py",
                                                    created=T0 + timedelta(hours=1)))
    assert alias_version(stack, "ParameterFlow") == 2
    status, record = post(deployed, f"/flows/{pf}/rollback", {"version": 1})
    assert status == 200 and record["status"] == "ROLLBACK", record
    assert alias_version(stack, "ParameterFlow") == 1
    assert get(deployed, f"/flows/{pf}")[1]["production_version"] == 1
    assert post(deployed, f"/flows/{pf}/rollback", {"version": 9})[0] == 404
    assert post(deployed, f"/flows/{pf}/rollback", {"version": "one"})[0] == 400

    response = deployed.http.delete(f"/flows/{pf}", headers=AUTH)
    assert response.status_code == 200, response.json_body
    arn = stack.machine_arn("ParameterFlow")
    assert all(m["name"] != pf for m in stack.clients.sfn.list_state_machines()["stateMachines"])
    assert post(deployed, f"/flows/{pf}/runs", {"parameters": {}})[0] == 404
    assert get(deployed, "/flows")[1]["flows"] == []
    assert arn  # records are kept:
    assert [r.status for r in stack.store.history(pf)] == ["ACCEPTED", "ACCEPTED", "ROLLBACK"]


# -- schedules ------------------------------------------------------------------------------------


def test_schedules_follow_the_decorator_with_their_time_zone(stack, client):
    hf = stack.machine("HourlyFlow")
    mf = stack.machine("MorningReportFlow")
    upload_and_deploy(stack, client, stack.package(EXAMPLES / "hourly_flow.py"))
    upload_and_deploy(stack, client, stack.package(EXAMPLES / "cron_flow.py"))
    hourly, morning = schedule_of(stack, "HourlyFlow"), schedule_of(stack, "MorningReportFlow")
    assert hourly["ScheduleExpression"] == "cron(0 * * * ? *)"
    assert hourly.get("ScheduleExpressionTimezone") in (None, "UTC")
    assert morning["ScheduleExpression"] == "cron(0 10 * * ? *)" and morning["State"] == "ENABLED"
    target = morning["Target"]
    assert (target["Arn"], target["RoleArn"]) == (stack.settings.scheduled_function_arn,
                                                  stack.settings.scheduler_role_arn)
    assert json.loads(target["Input"]) == {"flow": mf, "scheduled_time": "<aws.scheduler.scheduled-time>",
                                           "attempt": "<aws.scheduler.attempt-number>"}
    assert rule(stack, "HourlyFlow") is None and rule(stack, "MorningReportFlow") is None  # no EventBridge rules
    flow = get(client, f"/flows/{mf}")[1]
    assert (flow["schedule"], flow["timezone"], flow["overlap"]) == ("cron(0 10 * * ? *)", None, "skip")
    assert len(flow["next_fire_times"]) == 3 and all("T10:00:00" in t for t in flow["next_fire_times"])

    # The same flow at 09:00 Berlin time: the schedule carries the zone, fire times are in UTC.
    berlin = (EXAMPLES / "cron_flow.py").read_text().replace(
        "@schedule(cron='0 10 * * ? *')", "@schedule(cron='0 9 * * ? *', timezone='Europe/Berlin')")
    upload_and_deploy(stack, client, stack.package(berlin, file_name="cron_flow.py", created=T0 + timedelta(hours=1)))
    morning = schedule_of(stack, "MorningReportFlow")
    assert (morning["ScheduleExpression"], morning["ScheduleExpressionTimezone"]) == ("cron(0 9 * * ? *)",
                                                                                       "Europe/Berlin")
    flow = get(client, f"/flows/{mf}")[1]
    assert flow["timezone"] == "Europe/Berlin"
    hours = {t[11:16] for t in flow["next_fire_times"]}
    assert hours <= {"07:00", "08:00"} and hours, flow["next_fire_times"]  # CEST or CET

    source = (EXAMPLES / "hourly_flow.py").read_text().replace("@schedule(hourly=True)\n", "")
    upload_and_deploy(stack, client, stack.package(source, file_name="hourly_flow.py", created=T0 + timedelta(hours=1)))
    assert schedule_of(stack, "HourlyFlow") is None
    assert get(client, f"/flows/{hf}")[1]["production_version"] == 2
    assert schedule_of(stack, "MorningReportFlow") is not None


def test_a_flow_deployed_on_a_rule_moves_to_a_schedule_with_one_trigger(stack, client):
    hf = stack.machine("HourlyFlow")
    upload_and_deploy(stack, client, stack.package(EXAMPLES / "hourly_flow.py"))
    # As an earlier flowdrop left it: an EventBridge rule, and no schedule.
    stack.clients.scheduler.delete_schedule(Name=f"flowdrop-{hf}", GroupName=stack.settings.schedule_group)
    stack.clients.events.put_rule(Name=f"flowdrop-{hf}", ScheduleExpression="cron(0 * * * ? *)", State="ENABLED")
    stack.clients.events.put_targets(Rule=f"flowdrop-{hf}", Targets=[{
        "Id": "scheduled", "Arn": stack.settings.scheduled_function_arn, "Input": json.dumps({"flow": hf})}])
    changed = (EXAMPLES / "hourly_flow.py").read_text().replace("@schedule(hourly=True)", "@schedule(cron='30 * * * ? *')")
    upload_and_deploy(stack, client, stack.package(changed, file_name="hourly_flow.py",
                                                   created=T0 + timedelta(hours=1)))
    assert rule(stack, "HourlyFlow") is None
    assert schedule_of(stack, "HourlyFlow")["ScheduleExpression"] == "cron(30 * * * ? *)"
    # Deleting the flow removes the schedule too.
    assert client.http.delete(f"/flows/{hf}", headers=AUTH).status_code == 200
    assert schedule_of(stack, "HourlyFlow") is None and rule(stack, "HourlyFlow") is None


def test_a_tick_delivered_twice_starts_one_run(stack, client):
    hf = stack.machine("HourlyFlow")
    upload_and_deploy(stack, client, stack.package(EXAMPLES / "hourly_flow.py"))
    # As Scheduler delivers it: the tick's own time, whatever the attempt.
    event = {"flow": hf, "scheduled_time": "2026-11-25T11:00:00Z", "attempt": "1"}
    first = client.lambda_.invoke("scheduled", event).payload
    second = client.lambda_.invoke("scheduled", {**event, "attempt": "2"}).payload
    assert first["run_id"] == second["run_id"] == "sfn-sched-20261125T1100Z"
    assert (first["outcome"], second["outcome"]) == ("started", "existing")
    assert first["execution_arn"] == second["execution_arn"]
    # A legacy rule's Input alone: the tick is the latest fire time. The 11:00
    # run is still going (no worker takes its tasks here), so the default
    # overlap policy skips this tick and says which run blocked it.
    third = client.lambda_.invoke("scheduled", {"flow": hf}).payload
    assert third["run_id"].endswith("00Z") and third["run_id"] != first["run_id"]
    assert (third["outcome"], third["started"], third["blocked_by"]) == ("skipped", False, first["run_id"])
    arn = stack.machine_arn("HourlyFlow")
    executions = stack.clients.sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in executions] == [first["run_id"][4:]]
    execution = stack.clients.sfn.describe_execution(executionArn=first["execution_arn"])
    assert json.loads(execution["input"]) == {"Parameters": "{}"}


# -- the module itself ----------------------------------------------------------------------------

ROOT = EXAMPLES.parent


def run_python(code: str, cwd, **env: str) -> str:
    import os
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_in_the_lambda_bundle_the_library_loads_from_chalicelib_under_one_name(tmp_path):
    import shutil

    shutil.copytree(ROOT / "chalicelib", tmp_path / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "app.py", tmp_path / "app.py")
    code = (
        "import sys; sys.modules['flowdrop'] = None  # as if not installed\n"
        "import app, flowdrop\n"
        "assert app.flowdrop is flowdrop, 'one module object'\n"
        "assert 'chalicelib' not in sys.modules\n"
        "assert not [m for m in sys.modules if m.startswith('chalicelib.')]\n"
        "print(flowdrop.__file__); print(sys.modules['flowdrop.deployer.trigger'].__file__)\n"
    )
    lines = run_python(code, tmp_path).splitlines()
    assert lines == [str(tmp_path / "chalicelib" / "__init__.py"),
                     str(tmp_path / "chalicelib" / "deployer" / "trigger.py")]


def test_iam_auth_for_the_prod_stage(tmp_path):
    code = ("import app\n"
            "routes = app.app.routes\n"
            "print(type(routes['/flows/{flow}/runs']['POST'].authorizer).__name__, routes['/health']['GET'].authorizer)")
    assert run_python(code, ROOT, FLOWDROP_API_AUTH="iam") == "IAMAuthorizer None"
    assert run_python(code, ROOT) == "ChaliceAuthorizer None"


def test_import_makes_no_clients_and_reads_no_settings():
    code = ("import sys, app\n"
            "print(app.settings.cache_info().currsize, app.clients.cache_info().currsize, "
            "'flowdrop.deployer.sqs_events' in sys.modules, 'aws_lambda_powertools' in sys.modules)")
    assert run_python(code, ROOT, FLOWDROP_BUCKET="") == "0 0 False False"


def raw_post(client: Client, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    response = client.http.post(path, headers=headers, body=body)
    return response.status_code, response.json_body


def executions(stack: DeployerStack, flow: str) -> list[dict[str, Any]]:
    """Every execution of `flow`'s state machine, all pages."""
    pages = stack.clients.sfn.get_paginator("list_executions").paginate(stateMachineArn=stack.machine_arn(flow))
    return [e for page in pages for e in page["executions"]]


def test_a_body_without_content_type_is_read_as_json_and_bad_json_is_400(deployed, stack):
    pf = stack.machine("ParameterFlow")
    bare = {"Authorization": AUTH["Authorization"]}
    status, answer = raw_post(deployed, f"/flows/{pf}/runs", b'{"parameters": {"alpha": 0.5}}', bare)
    assert status == 202, answer
    execution = stack.clients.sfn.describe_execution(executionArn=answer["execution_arn"])
    assert json.loads(execution["input"]) == {"Parameters": "{\"alpha\": 0.5}"}
    status, answer = raw_post(deployed, f"/flows/{pf}/runs", b"this is not json", bare)
    assert status == 400 and answer["error"] == "the body is not JSON", answer
    assert "this is not json" in answer["problems"][0]


def test_the_seeds_execution_input_is_a_trigger_body_too(deployed, stack):
    # What the seed types into the console's Start Execution dialog, posted to the endpoint as it is.
    pf = stack.machine("ParameterFlow")
    status, answer = post(deployed, f"/flows/{pf}/runs", {"Parameters": "{\"alpha\": 0.5}"})
    assert status == 202, answer
    execution = stack.clients.sfn.describe_execution(executionArn=answer["execution_arn"])
    assert json.loads(execution["input"]) == {"Parameters": "{\"alpha\": 0.5}"}
    status, answer = post(deployed, f"/flows/{pf}/runs", {"Parameters": "{\"alpha\": \"high\"}"})
    assert status == 400 and "'high' is not a number" in answer["problems"][0], answer


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream",
                                          "application/json; charset=utf-8", "image/png"])
def test_a_body_is_json_whatever_its_content_type_says(deployed, stack, content_type):
    # curl -d declares form data; a JSON body under any declared type starts the run it describes.
    pf = stack.machine("ParameterFlow")
    headers = {"Authorization": AUTH["Authorization"], "Content-Type": content_type}
    status, answer = raw_post(deployed, f"/flows/{pf}/runs", b'{"parameters": {"alpha": 0.25}}', headers)
    assert status == 202, answer
    execution = stack.clients.sfn.describe_execution(executionArn=answer["execution_arn"])
    assert json.loads(execution["input"]) == {"Parameters": "{\"alpha\": 0.25}"}
    status, answer = raw_post(deployed, f"/flows/{pf}/runs", b"alpha=0.25", headers)
    assert status == 400 and answer["error"] == "the body is not JSON", answer
    assert len(executions(stack, "ParameterFlow")) == 1


def test_bodies_of_the_wrong_kind_are_400_on_every_post_route(deployed, stack):
    pf = stack.machine("ParameterFlow")
    started = post(deployed, f"/flows/{pf}/runs", {"parameters": {}})[1]
    run_id = started["run_id"]
    for path in (f"/flows/{pf}/runs", f"/flows/{pf}/rollback", f"/flows/{pf}/backfill",
                 f"/flows/{pf}/runs/{run_id}/terminate"):
        for body, kind in ((b"[1, 2]", "an array"), (b'"stop"', "a string"), (b"7", "a number")):
            status, answer = raw_post(deployed, path, body, AUTH)
            assert status == 400, (path, body, answer)
            assert kind in answer["problems"][0] or "must be a JSON object" in answer["error"], (path, answer)
        status, answer = raw_post(deployed, path, b'{"a": NaN}', AUTH)
        assert status == 400 and "NaN is not a JSON number" in answer["problems"][0], (path, answer)
    # Nothing of that stopped the run it named.
    assert stack.clients.sfn.describe_execution(executionArn=started["execution_arn"])["status"] == "RUNNING"


@pytest.mark.parametrize("number", ["1e309", "NaN", "Infinity", "-Infinity"])
def test_numbers_json_cannot_carry_are_refused_and_start_nothing(deployed, stack, number):
    pf = stack.machine("ParameterFlow")
    body = ('{"parameters": {"alpha": %s}}' % number).encode()
    status, answer = raw_post(deployed, f"/flows/{pf}/runs", body, AUTH)
    assert status == 400 and "number" in answer["error"], answer
    status, answer = post(deployed, f"/flows/{pf}/runs", {"parameters": {"alpha": number}})
    assert status == 400 and "not a finite number" in answer["problems"][0], answer
    arn = stack.machine_arn("ParameterFlow")
    assert stack.clients.sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_integers_too_long_and_parameters_that_are_not_an_object_start_nothing(deployed, stack):
    pf = stack.machine("ParameterFlow")
    status, answer = raw_post(deployed, f"/flows/{pf}/runs", b'{"parameters": {"alpha": 1' + b"0" * 5000 + b"}}", AUTH)
    assert status == 400 and "an integer of 5,001 digits is too long" in answer["problems"][0], answer
    for empty in (0, False, "", []):  # once read as "no parameters"
        status, answer = post(deployed, f"/flows/{pf}/runs", {"parameters": empty})
        assert status == 400 and "parameters must be an object" in answer["problems"][0], (empty, answer)
    assert executions(stack, "ParameterFlow") == []
    assert post(deployed, f"/flows/{pf}/runs", {"parameters": None})[0] == 202


def test_deeply_nested_bodies_are_400_on_trigger_and_rollback(deployed, stack):
    pf = stack.machine("ParameterFlow")
    nested = b"[" * 100_000 + b"]" * 100_000
    for path in (f"/flows/{pf}/runs", f"/flows/{pf}/rollback"):
        status, answer = raw_post(deployed, path, nested, AUTH)
        assert status == 400 and "nested too deeply" in answer["error"], (path, answer)


def test_an_error_never_echoes_a_huge_value(deployed, stack):
    pf = stack.machine("ParameterFlow")
    status, answer = post(deployed, f"/flows/{pf}/runs", {"parameters": {"alpha": "x" * 200_000}})
    assert status == 400
    assert len(json.dumps(answer)) < 1000, len(json.dumps(answer))
    status, answer = raw_post(deployed, f"/flows/{pf}/runs", b"x" * (300 * 1024), AUTH)
    assert status == 413 and "too large" in answer["error"] and len(json.dumps(answer)) < 1000
    assert "307,200 bytes; the most is 262,144" in answer["problems"][0]
    # Names are input too: an unknown field or parameter named by a huge string is quoted short.
    for body in ({"x" * 100_000: 1}, {"parameters": {"y" * 100_000: 1}}):
        status, answer = post(deployed, f"/flows/{pf}/runs", body)
        assert status == 400 and len(json.dumps(answer)) < 1000, len(json.dumps(answer))
    status, answer = post(deployed, f"/flows/{pf}/rollback", {"version": "v" * 100_000})
    assert status == 400 and "version must be an integer" in answer["problems"][0] and len(json.dumps(answer)) < 1000
    # Thousands of problems: the first ones, and how many more.
    status, answer = post(deployed, f"/flows/{pf}/runs", {"parameters": {f"p{i}": i for i in range(5000)}})
    assert status == 400 and len(answer["problems"]) == 21 and answer["problems"][-1] == "... and 4980 more problems"
    assert len(json.dumps(answer)) < 5000
    assert executions(stack, "ParameterFlow") == []


def test_the_runs_status_filter_is_validated(deployed, stack):
    pf = stack.machine("ParameterFlow")
    status, answer = get(deployed, f"/flows/{pf}/runs?status=BOGUS")
    assert status == 400 and "RUNNING" in answer["problems"][0] and "BOGUS" in answer["problems"][0], answer
    status, answer = get(deployed, f"/flows/{pf}/runs?status=succeeded")
    assert status == 200 and answer == {"runs": []}
    started = post(deployed, f"/flows/{pf}/runs", {"parameters": {}})[1]
    status, answer = get(deployed, started["status_url"] + "?steps=maybe")
    assert status == 400 and "steps='maybe': use true or false" in answer["problems"][0], answer
    status, answer = get(deployed, started["status_url"] + "?steps=" + "z" * 5000)
    assert status == 400 and len(json.dumps(answer)) < 1000
    assert get(deployed, started["status_url"] + "?steps=FALSE")[1].get("steps") is None
    status, answer = get(deployed, f"/flows/{pf}/runs?limit=1001")
    assert status == 400 and "from 1 to 1000" in answer["problems"][0]


def test_the_runs_listing_pages_with_next_token(deployed, stack):
    pf = stack.machine("ParameterFlow")
    started = {post(deployed, f"/flows/{pf}/runs", {"parameters": {"alpha": i / 10}})[1]["run_id"] for i in range(5)}
    assert len(started) == 5
    seen, token, pages = [], None, 0
    while True:
        status, answer = get(deployed, f"/flows/{pf}/runs?limit=2" + (f"&next_token={token}" if token else ""))
        assert status == 200, answer
        assert len(answer["runs"]) <= 2
        seen += [run["run_id"] for run in answer["runs"]]
        pages += 1
        token = answer.get("next_token")
        if not token:
            break
    assert pages == 3 and len(seen) == 5 and set(seen) == started
    status, answer = get(deployed, f"/flows/{pf}/runs?limit=0")
    assert status == 400 and "limit='0': use a whole number from 1 to 1000" in answer["problems"][0]
    status, answer = get(deployed, f"/flows/{pf}/runs?limit=abc")
    assert status == 400
    status, answer = get(deployed, f"/flows/{pf}/runs?next_token=not-a-token")
    assert status == 400 and "next_token" in answer["problems"][0], answer


def delete(client: Client, path: str, body: Any = None) -> tuple[int, Any]:
    response = client.http.request("DELETE", path, headers=AUTH, body=json.dumps(body).encode() if body else b"")
    return response.status_code, response.json_body


def test_delete_run_terminates_it_and_marks_it_aborted_in_the_datastore(deployed, stack):
    pf = stack.machine("ParameterFlow")
    run_id = post(deployed, f"/flows/{pf}/runs", {"parameters": {}})[1]["run_id"]
    arn = f"{stack.machine_arn('ParameterFlow').replace(':stateMachine:', ':execution:')}:{run_id[len('sfn-'):]}"
    deadline = time.monotonic() + 20
    while not any(e["type"] == "TaskScheduled" for e in stack.clients.sfn.get_execution_history(
            executionArn=arn)["events"]) and time.monotonic() < deadline:
        time.sleep(0.1)  # past the run-start state: the start task waits for a worker (none here)
    # What the start task writes first; the deployer marks only runs the datastore knows.
    run_json = f"data/ParameterFlow/runs/{run_id}/run.json"
    stack.clients.s3.put_object(Bucket=stack.bucket, Key=run_json, Body=json.dumps({"run_id": run_id}).encode())

    status, answer = delete(deployed, f"/flows/{pf}/runs/{run_id}", {"reason": "wrong input", "user": "ada"})
    assert status == 200, answer
    assert answer == {"run_id": run_id, "status": "ABORTED", "cause": "terminated by ada: wrong input"}
    assert stack.clients.sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    body = stack.clients.s3.get_object(Bucket=stack.bucket, Key=f"data/ParameterFlow/runs/{run_id}/status.json")
    recorded = json.loads(body["Body"].read())
    assert recorded["status"] == "aborted" and recorded["cause"] == "terminated by ada: wrong input"

    status, answer = delete(deployed, f"/flows/{pf}/runs/{run_id}")
    assert status == 409 and f"run {run_id} of {pf} already ended: ABORTED" in answer["error"], answer
    status, answer = post(deployed, f"/flows/{pf}/runs/{run_id}/terminate", {})
    assert status == 409, answer
    status, answer = delete(deployed, f"/flows/{pf}/runs/sfn-nope")
    assert status == 404 and "sfn-nope" in answer["error"], answer
    status, answer = delete(deployed, "/flows/NoSuchFlow/runs/sfn-nope")
    assert status == 404, answer


def test_resume_refuses_a_running_or_unknown_origin_an_unknown_step_and_new_parameters(deployed, stack):
    pf = stack.machine("ParameterFlow")
    running = post(deployed, f"/flows/{pf}/runs", {"parameters": {}})[1]["run_id"]  # no worker: it stays running
    status, answer = post(deployed, f"/flows/{pf}/runs/{running}/resume", {})
    assert status == 409 and f"run {running} of {pf} is still running" in answer["error"], answer
    status, answer = post(deployed, f"/flows/{pf}/runs/sfn-nope/resume", {})
    assert status == 404 and "sfn-nope" in answer["error"], answer
    status, answer = post(deployed, "/flows/NoSuchFlow/runs/sfn-nope/resume", {})
    assert status == 404, answer
    status, answer = post(deployed, f"/flows/{pf}/runs/{running}/resume", {"step": "middle"})
    assert status == 400 and answer["error"] == f"flow {pf!r} has no step 'middle'", answer
    assert answer["problems"] == ["step must be one of: start, end"]
    status, answer = post(deployed, f"/flows/{pf}/runs/{running}/resume", {"parameters": {"alpha": 1}, "stp": "x"})
    assert status == 400 and len(answer["problems"]) == 2, answer
    assert "reuses its origin's parameters" in answer["problems"][0] and "'stp'" in answer["problems"][1]
    # Stopped before its first task wrote anything: nothing to resume from.
    assert delete(deployed, f"/flows/{pf}/runs/{running}")[0] == 200
    status, answer = post(deployed, f"/flows/{pf}/runs/{running}/resume", {})
    assert status == 409 and "left nothing to resume from" in answer["error"], answer
    executions = stack.clients.sfn.list_executions(stateMachineArn=stack.machine_arn("ParameterFlow"))["executions"]
    assert [e["name"] for e in executions] == [running[len("sfn-"):]]  # no refused resume started a run
