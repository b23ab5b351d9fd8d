"""The moto server's per-request speed patches (local/moto/speed_requests.py).

Canaries fail once stock moto (or Flask) changes the code a patch replaces, so
it can go or be redone. What the patches must not change is checked against the
session's moto server over HTTP (it applies them): SQS receives and retention,
an unknown action's error, and routing of every service the stack calls.
"""

from __future__ import annotations

import inspect
import time

import pytest
from botocore.exceptions import ClientError

from flowdrop.local.moto import speed_requests


def test_stock_sqs_still_reads_all_attributes_for_the_retention_check():
    # Canary: when this fails, moto reads the retention period directly and patch (5) can go.
    source = inspect.getsource(speed_requests.stock_retention_check())
    assert "get_queue_attributes(" in source and '["MessageRetentionPeriod"]' in source


def test_stock_moto_still_lists_a_class_methods_per_request():
    # Canary: when this fails, moto caches the method list (or call_action asks differently): patch (6) can go.
    import moto.core.responses

    assert "inspect.getmembers(" in inspect.getsource(speed_requests.stock_method_names())
    assert "method_names = method_names_from_class(self.__class__)" in inspect.getsource(
        moto.core.responses.BaseResponse.call_action)


def test_stock_moto_still_tries_every_url_pattern_per_host():
    # Canary: when this fails, moto finds a host's backend differently and patch (7) must be redone or dropped.
    source = inspect.getsource(speed_requests.stock_backend_for_host())
    assert "for backend, pattern in self.backend_url_patterns:" in source and "cache" not in source


def test_stock_flask_still_subclasses_request_files_in_debug_mode():
    # Canary: when this fails, Flask stopped (or changed) its per-request debug helper: patch (8) can go.
    import flask.wrappers

    assert "class newcls(oldcls)" in inspect.getsource(speed_requests.stock_enctype_helper())
    source = inspect.getsource(flask.wrappers.Request._load_form_data)
    assert "from .debughelpers import attach_enctype_error_multidict" in source


def test_method_names_are_made_once_per_class_and_are_the_same_names():
    class Answers:
        def describe_thing(self):
            return 1

        def list_things(self):
            return 2

    names = speed_requests.method_names_once(Answers)
    assert names == set(speed_requests.stock_method_names()(Answers)) == {"describe_thing", "list_things"}
    assert speed_requests.method_names_once(Answers) is names


def test_a_host_gets_the_backend_stock_moto_finds():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    dispatcher = DomainDispatcherApplication(create_app=lambda service: None)
    stock = speed_requests.stock_backend_for_host()
    for host in ("s3.amazonaws.com", "sqs.us-east-1.amazonaws.com", "states.us-east-1.amazonaws.com",
                 "dynamodb.us-east-1.amazonaws.com", "events.eu-west-1.amazonaws.com", "nothing.example", None):
        assert speed_requests.backend_for_host(dispatcher, host) == stock(dispatcher, host), host
        assert speed_requests.backend_for_host(dispatcher, host) == stock(dispatcher, host), host  # remembered


def test_the_moto_server_answers_through_the_patches(moto_server):
    # The server process applies them (local/moto/main.py); this process applies them here to check they install.
    speed_requests.apply_patches()
    assert speed_requests.is_applied()


def test_receive_hands_out_each_message_once_and_checks_the_queue_retention(aws, unique_name):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=unique_name)["QueueUrl"]
    for i in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    seen: list[str] = []
    while len(seen) < 12:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=4, WaitTimeSeconds=1).get("Messages", [])
        assert got and len(got) <= 4
        seen.extend(message["Body"] for message in got)
    assert sorted(seen) == sorted(f"m{i}" for i in range(12))
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []  # all in flight
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "12"
    # A queue's own retention period is the one checked (60 s is SQS's minimum): a fresh message is handed out.
    short = sqs.create_queue(QueueName=f"{unique_name}-short", Attributes={"MessageRetentionPeriod": "60"})
    sqs.send_message(QueueUrl=short["QueueUrl"], MessageBody="fresh")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=short["QueueUrl"])["Messages"]] == ["fresh"]


def test_an_unknown_action_is_still_refused(aws):
    sqs = aws.client("sqs")
    with pytest.raises(ClientError):
        sqs.meta.events.register_first("before-sign.sqs.ListQueues", _rename_action)
        try:
            sqs.list_queues()
        finally:
            sqs.meta.events.unregister("before-sign.sqs.ListQueues", _rename_action)


def _rename_action(request, **_):
    request.headers["X-Amz-Target"] = "AmazonSQS.NoSuchAction"


def test_every_service_the_stack_calls_is_still_routed(aws, unique_name):
    assert aws.client("s3").create_bucket(Bucket=unique_name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    aws.client("s3").put_object(Bucket=unique_name, Key="k", Body=b"v")
    assert aws.client("s3").get_object(Bucket=unique_name, Key="k")["Body"].read() == b"v"
    assert aws.client("sqs").list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "TableNames" in aws.client("dynamodb").list_tables()
    assert "stateMachines" in aws.client("stepfunctions").list_state_machines()
    assert "Rules" in aws.client("events").list_rules()
    assert "Functions" in aws.client("lambda").list_functions()
    assert "Schedules" in aws.client("scheduler").list_schedules()
    assert "Roles" in aws.client("iam").list_roles()
    assert "jobQueues" in aws.client("batch").describe_job_queues()


def test_the_retention_check_answers_as_stock_for_fresh_and_expired_messages(unique_name):
    # In this process's own moto backend: a message's age is set directly (no waiting a minute).
    from moto.sqs.models import Message, sqs_backends

    backend = sqs_backends["123456789012"]["us-east-1"]
    backend.create_queue(unique_name, MessageRetentionPeriod="60")
    stock = speed_requests.stock_retention_check()
    for age_seconds, kept in ((0, True), (59, True), (61, False), (3600, False)):
        message = Message("id", "body")
        message.sent_timestamp = int((time.time() - age_seconds) * 1000)
        assert speed_requests.retention_check(backend, unique_name, message) is kept
        assert stock(backend, unique_name, message) is kept


def test_stock_sqs_still_reads_the_clock_per_message():
    # Canary: when this fails, moto's visibility is computed differently and patch (9) must be redone or dropped.
    messages, visible, delayed = speed_requests.stock_messages()
    assert "if message.visible and not message.delayed" in inspect.getsource(messages.fget)
    assert "current_time > self.visible_at" in inspect.getsource(visible.fget)
    assert "current_time < self.delayed_until" in inspect.getsource(delayed.fget)


def test_visible_messages_are_the_ones_stock_sqs_finds(unique_name):
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Message, sqs_backends

    queue = sqs_backends["123456789012"]["us-east-1"].create_queue(unique_name)
    now = unix_time_millis()
    # (visible_at, delayed_until): visible, in flight, delayed, visible again, delay over.
    for n, (visible_at, delayed_until) in enumerate([(0.0, 0.0), (now + 60_000, 0.0), (0.0, now + 60_000),
                                                     (now - 1, 0.0), (0.0, now - 1)]):
        message = Message(f"id{n}", f"body{n}")
        message.visible_at, message.delayed_until = visible_at, delayed_until
        queue._messages.append(message)
    stock = speed_requests.stock_messages()[0].fget(queue)
    assert [m.body for m in speed_requests.visible_messages(queue)] == [m.body for m in stock] == [
        "body0", "body3", "body4"]


def test_a_received_message_comes_back_after_its_visibility_timeout_and_a_delayed_one_later(aws, unique_name):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=unique_name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    sqs.send_message(QueueUrl=url, MessageBody="now")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1)["Messages"]
    assert [m["Body"] for m in first] == ["now"]
    # A long poll ends when the delayed message shows and the received one is visible again (after ~1 s).
    seen: set[str] = set()
    while seen != {"now", "later"}:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5).get("Messages", [])
        assert got, "a long poll of 5 s found neither message"
        seen.update(m["Body"] for m in got)
