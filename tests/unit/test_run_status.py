"""run_status over Distributed Map runs: child executions folded into the per-step view.

A wide or nested foreach runs its body in child executions that AWS keeps
out of the parent's history. The pure fold (step_states over the parent's
and the children's events, plus map-run counts for children not read) is
tested on literal events; the AWS calls of run_status on a fake Step
Functions client shaped like AWS (moto cannot list a map run's children).
One compiled nested_foreach_flow end to end on the moto server:
tests/functional/test_run_status_moto.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import ClientError

from flowdrop.deployer.clients import Clients  # noqa: E402
from flowdrop.deployer.runs import run_status
from flowdrop.deployer.settings import DeployerSettings  # noqa: E402
from flowdrop.deployer.step_states import ChildHistory, UnreadChildren, body_steps, step_states
from tests.helpers.compiler import NESTED_FOREACH_STEPS as STEPS
from tests.helpers.compiler import ROLE_ARN

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
def history(*events: tuple[str, str | None], start: int = 0) -> list[dict[str, Any]]:
    """Events from (type, state name or None) pairs, each linked to the one before and one second apart."""
    out = []
    for i, (kind, name) in enumerate(events, start=1):
        event: dict[str, Any] = {"id": i, "previousEventId": i - 1, "type": kind,
                                 "timestamp": T0 + timedelta(seconds=start + i)}
        if name and kind.endswith("StateEntered"):
            event["stateEnteredEventDetails"] = {"name": name}
        elif name and kind.endswith("StateExited"):
            event["stateExitedEventDetails"] = {"name": name}
        elif kind == "MapRunStarted":
            event["mapRunStartedEventDetails"] = {"mapRunArn": name}
        out.append(event)
    return out


def task(name: str, outcome: str = "TaskSucceeded", exits: bool = True) -> list[tuple[str, str | None]]:
    return [("TaskStateEntered", name), ("TaskScheduled", None), ("TaskStarted", None), (outcome, None),
            *([("TaskStateExited", name)] if exits else [])]


def parent_events(map_run: str = "mr-1", finished: bool = True) -> list[dict[str, Any]]:
    """The parent of a nested foreach whose rows went to a Distributed Map."""
    return history(("ExecutionStarted", None), *task("start"), ("MapStateEntered", "start-map-wide"),
                   ("MapStateStarted", None), ("MapRunStarted", map_run),
                   *([("MapRunSucceeded", None), ("MapStateExited", "start-map-wide"), *task("join_rows"),
                      *task("end")] if finished else []))


def row_child(outcome: str = "TaskSucceeded", start: int = 10) -> list[dict[str, Any]]:
    """One row's child execution: row, an inline map of cells, join_cols; `outcome` is its last cell's."""
    failing = outcome != "TaskSucceeded"
    return history(("ExecutionStarted", None), *task("row@start"), ("MapStateEntered", "row-map@start"),
                   *task("cell@start"), *task("cell@start", outcome, exits=not failing),
                   *([] if failing else [("MapStateExited", "row-map@start"), *task("join_cols@start")]),
                   start=start)


# -- the pure fold ------------------------------------------------------------------------------


def test_parent_history_alone_misses_the_distributed_body():
    assert step_states(parent_events(), "SUCCEEDED") == {"start": "SUCCEEDED", "join_rows": "SUCCEEDED",
                                                         "end": "SUCCEEDED"}


def test_child_histories_fill_in_the_body_steps_in_the_order_they_ran():
    children = [ChildHistory("SUCCEEDED", row_child(start=10 + i)) for i in range(4)]
    parent = parent_events()
    for event in parent[8:]:  # join_rows and end ran after the children
        event["timestamp"] += timedelta(minutes=1)
    states = step_states(parent, "SUCCEEDED", children)
    assert list(states) == STEPS
    assert set(states.values()) == {"SUCCEEDED"}


def test_a_failing_child_fails_its_step_and_a_running_one_keeps_the_map_running():
    ok, bad = ChildHistory("SUCCEEDED", row_child()), ChildHistory("FAILED", row_child("TaskFailed"))
    states = step_states(parent_events(finished=False), "FAILED", [ok, bad, ok])
    assert states == {"start": "SUCCEEDED", "row": "SUCCEEDED", "cell": "FAILED", "join_cols": "SUCCEEDED"}
    running = ChildHistory("RUNNING", row_child("TaskSucceeded")[:-2])  # join_cols entered, not exited
    states = step_states(parent_events(finished=False), "RUNNING", [bad, running])
    assert states["cell"] == "FAILED" and states["join_cols"] == "RUNNING"
    # Once the run is over, a child stopped inside a step without a failure of its own was aborted.
    aborted = ChildHistory("ABORTED", row_child("TaskSucceeded")[:-2])
    assert step_states(parent_events(finished=False), "FAILED", [ok, aborted])["join_cols"] == "ABORTED"


def test_unread_children_count_by_status():
    body = ("row", "cell", "join_cols")
    read = [ChildHistory("SUCCEEDED", row_child())]
    done = UnreadChildren(body, {"SUCCEEDED": 9999}, T0 + timedelta(seconds=9))
    assert set(step_states(parent_events(), "SUCCEEDED", read, [done]).values()) == {"SUCCEEDED"}
    busy = UnreadChildren(body, {"SUCCEEDED": 10, "PENDING": 3}, T0 + timedelta(seconds=9))
    states = step_states(parent_events(finished=False), "RUNNING", read, [busy])
    assert [states[s] for s in body] == ["RUNNING"] * 3
    # A failed child not read: which step it failed is unknown, so it claims none.
    lost = UnreadChildren(body, {"FAILED": 2}, T0)
    assert step_states(parent_events(finished=False), "FAILED", [], [lost]) == {"start": "SUCCEEDED"}


def test_body_steps_of_a_distributed_map_include_nested_maps():
    # Keys sorted, as compile_flow writes them: the order comes from the transitions.
    definition = {"StartAt": "start", "States": {
        "start": {"Type": "Task", "Next": "start-map-wide"},
        "start-map-wide": {"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "row@start", "States": {
            "join_cols@start": {"Type": "Task", "End": True},
            "row-foreach@start": {"Type": "Choice", "Choices": [{"Next": "row-map-wide@start"}],
                                  "Default": "row-map@start"},
            "row-map-wide@start": {"Type": "Map", "Next": "join_cols@start", "ItemProcessor": {
                "StartAt": "cell@start@row", "States": {"cell@start@row": {"Type": "Task", "End": True}}}},
            "row-map@start": {"Type": "Map", "Next": "join_cols@start", "ItemProcessor": {
                "StartAt": "cell@start", "States": {"cell@start": {"Type": "Task", "End": True}}}},
            "row@start": {"Type": "Task", "Next": "row-foreach@start"}}}},
    }}
    assert body_steps(definition, "start-map-wide") == ("row", "cell", "join_cols")
    assert body_steps(definition, "row-map-wide@start") == ("cell",)
    assert body_steps(definition, "missing") == ()


# -- run_status's calls, on a fake shaped like AWS ------------------------------------------------


class FakeStepFunctions:
    """The Step Functions calls run_status makes, answered from literal data, each call recorded.

    `children`: child execution ARN -> (status, history, the map run it belongs to).
    """

    PARENT = "arn:aws:states:us-east-1:123456789012:execution:Flow:run"

    def __init__(self, children: dict[str, tuple[str, list[dict[str, Any]], str]], counts: dict[str, int],
                 list_fails: bool = False):
        self.children, self.counts, self.list_fails = children, counts, list_fails
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def describe_execution(self, executionArn):
        self.calls.append(("describe_execution", {}))
        return {"executionArn": executionArn, "name": executionArn.rsplit(":", 1)[1], "status": "SUCCEEDED",
                "startDate": T0, "input": "{}"}

    def get_execution_history(self, executionArn, maxResults):
        self.calls.append(("get_execution_history", {"arn": executionArn}))
        if executionArn in self.children:
            return {"events": self.children[executionArn][1]}
        return {"events": parent_events("mr-1")}

    def list_map_runs(self, executionArn, maxResults):
        self.calls.append(("list_map_runs", {"arn": executionArn}))
        runs = {"mr-2" if executionArn in self.children else "mr-1"} & {c[2] for c in self.children.values()}
        return {"mapRuns": [{"mapRunArn": arn, "executionArn": executionArn} for arn in sorted(runs)]}

    def describe_map_run(self, mapRunArn):
        self.calls.append(("describe_map_run", {}))
        statuses = [status for status, _, run in self.children.values() if run == mapRunArn]
        counts = self.counts if mapRunArn == "mr-1" else {s.lower(): statuses.count(s) for s in set(statuses)}
        return {"mapRunArn": mapRunArn, "status": "SUCCEEDED", "startDate": T0 + timedelta(seconds=9),
                "executionCounts": {**counts, "total": sum(counts.values())}}

    def list_executions(self, mapRunArn, maxResults, statusFilter=None, nextToken=None):
        self.calls.append(("list_executions", {"status": statusFilter, "max": maxResults}))
        if self.list_fails:
            raise ClientError({"Error": {"Code": "500", "Message": "<html>boom</html>"}}, "ListExecutions")
        matching = [{"executionArn": arn, "status": status} for arn, (status, _, run) in self.children.items()
                    if run == mapRunArn and statusFilter in (None, status)]
        start = int(nextToken or 0)
        more = start + maxResults < len(matching)
        return {"executions": matching[start:start + maxResults], **({"nextToken": str(start + maxResults)}
                                                                     if more else {})}

    def describe_state_machine_for_execution(self, executionArn):
        self.calls.append(("describe_state_machine_for_execution", {}))
        body = {"StartAt": "row@start", "States": {"cell@start": {"Next": "join_cols@start"}, "join_cols@start": {},
                                                    "row@start": {"Next": "cell@start"}}}
        return {"definition": json.dumps({"StartAt": "start-map-wide",
                                          "States": {"start-map-wide": {"Type": "Map", "ItemProcessor": body}}})}


def fake_run_status(sfn: FakeStepFunctions, limit: int = 200) -> dict[str, Any]:
    settings = DeployerSettings(bucket="b", deployments_table="d", idempotency_table="i",
                                state_machine_role_arn=ROLE_ARN, scheduled_function_arn="f")
    return run_status("Flow", "sfn-run", Clients(s3=None, sfn=sfn, events=None, dynamodb=None), settings,
                      max_child_histories=limit)


def test_run_status_reads_failed_children_first_and_caps_the_histories_it_reads():
    children = {f"ok-{i}": ("SUCCEEDED", row_child(), "mr-1") for i in range(5)}
    children["bad"] = ("FAILED", row_child("TaskFailed"), "mr-1")
    sfn = FakeStepFunctions(children, {"succeeded": 5, "failed": 1})
    answer = fake_run_status(sfn, limit=3)
    histories = [c[1]["arn"] for c in sfn.calls if c[0] == "get_execution_history"]
    assert histories == [sfn.PARENT, "bad", "ok-0", "ok-1"]
    assert [c[1] for c in sfn.calls if c[0] == "list_executions"] == [{"status": "FAILED", "max": 3},
                                                                      {"status": "SUCCEEDED", "max": 2}]
    assert answer["steps"]["cell"] == "FAILED" and answer["steps"]["row"] == "SUCCEEDED"
    assert answer["partial"] is True and answer["child_histories_read"] == 3
    assert answer["map_runs"][0]["histories_read"] == 3 and answer["map_runs"][0]["state"] == "start-map-wide"


def test_run_status_reads_every_child_under_the_cap_and_is_then_complete():
    children = {f"ok-{i}": ("SUCCEEDED", row_child(), "mr-1") for i in range(5)}
    sfn = FakeStepFunctions(children, {"succeeded": 5})
    answer = fake_run_status(sfn, limit=200)
    assert answer["partial"] is False and answer["child_histories_read"] == 5
    assert "describe_state_machine_for_execution" not in [c[0] for c in sfn.calls]
    assert answer["steps"]["join_cols"] == "SUCCEEDED"


def test_run_status_degrades_to_counts_when_children_cannot_be_listed():
    # moto 5.2.5: ListExecutions with mapRunArn is HTTP 500.
    sfn = FakeStepFunctions({"ok": ("SUCCEEDED", row_child(), "mr-1")}, {"succeeded": 4}, list_fails=True)
    answer = fake_run_status(sfn)
    assert answer["partial"] is True
    assert answer["partial_reasons"] == ["ListExecutions failed (500) for mr-1: the steps of its unread children "
                                         "are inferred from its counts"]
    assert answer["steps"] == dict.fromkeys(["start", "row", "cell", "join_cols", "join_rows", "end"], "SUCCEEDED")
    assert [c[0] for c in sfn.calls].count("list_executions") == 1


def test_run_status_follows_map_runs_of_child_executions():
    # A wide row's cells go to their own Distributed Map, started inside the row's child execution.
    row = history(("ExecutionStarted", None), *task("row@start"), ("MapStateEntered", "row-map-wide@start"),
                  ("MapStateStarted", None), ("MapRunStarted", "mr-2"), ("MapRunSucceeded", None),
                  ("MapStateExited", "row-map-wide@start"), *task("join_cols@start"), start=10)
    cell = history(("ExecutionStarted", None), *task("cell@start@row", "TaskFailed", exits=False), start=12)
    sfn = FakeStepFunctions({"row-0": ("SUCCEEDED", row, "mr-1"), "cell-0": ("FAILED", cell, "mr-2")},
                            {"succeeded": 1})
    answer = fake_run_status(sfn)
    assert [c[1]["arn"] for c in sfn.calls if c[0] == "list_map_runs"] == [sfn.PARENT, "row-0"]
    assert answer["steps"] == {"start": "SUCCEEDED", "row": "SUCCEEDED", "cell": "FAILED", "join_cols": "SUCCEEDED",
                               "join_rows": "SUCCEEDED", "end": "SUCCEEDED"}
    assert [(r["state"], r["histories_read"]) for r in answer["map_runs"]] == [("start-map-wide", 1),
                                                                               ("row-map-wide@start", 1)]
    assert answer["partial"] is False


# -- task counts of foreach steps --------------------------------------------------------------------


def inline_foreach(width: int, failed: int = 0, running: int = 0) -> list[dict[str, Any]]:
    """start -> an inline Map of `width` `work` tasks (`failed` of them fail, `running` not yet ended)."""
    ok = width - failed - running
    events = history(("ExecutionStarted", None), *task("start"), ("MapStateEntered", "start-map"),
                     ("MapStateStarted", None),
                     *[e for _ in range(ok) for e in task("work")],
                     *[e for _ in range(failed) for e in task("work", "TaskFailed", exits=False)],
                     *[e for _ in range(running) for e in task("work", "TaskStarted", exits=False)])
    events[7]["mapStateStartedEventDetails"] = {"length": width}
    return events


def test_step_counts_say_how_many_tasks_of_a_foreach_ended_each_way():
    from flowdrop.deployer.step_states import foreach_widths, step_counts

    events = inline_foreach(100)
    assert step_counts(events, "SUCCEEDED")["work"] == {"succeeded": 100, "failed": 0, "running": 0, "aborted": 0}
    assert foreach_widths(events) == {"start": 100}
    counts = step_counts(inline_foreach(10, failed=2, running=3), "RUNNING")["work"]
    assert counts == {"succeeded": 5, "failed": 0, "running": 5, "aborted": 0}
    counts = step_counts(inline_foreach(10, failed=2), "FAILED")["work"]
    assert counts == {"succeeded": 8, "failed": 2, "running": 0, "aborted": 0}


def test_step_counts_add_children_read_and_unread():
    from flowdrop.deployer.step_states import step_counts

    read = [ChildHistory("SUCCEEDED", row_child()), ChildHistory("FAILED", row_child("TaskFailed"))]
    unread = [UnreadChildren(("row", "cell", "join_cols"), {"SUCCEEDED": 7, "RUNNING": 1, "PENDING": 2})]
    counts = step_counts(parent_events(finished=False), "RUNNING", read, unread)
    assert counts["row"] == {"succeeded": 9, "failed": 0, "running": 3, "aborted": 0}
    # the failed child: its second cell failed, its first succeeded
    assert counts["cell"] == {"succeeded": 10, "failed": 1, "running": 3, "aborted": 0}
