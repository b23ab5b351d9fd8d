"""Which Batch jobs a run had and which task each was, from history events and DescribeJobs answers (pure)."""

from __future__ import annotations

import json

from flowdrop.cli.batch_logs import job_of, submitted_job_ids


def _submitted(job_id: str, resource_type: str = "batch") -> dict:
    output = json.dumps({"JobId": job_id, "JobName": "F-s", "JobArn": f"arn:aws:batch:::job/{job_id}"})
    return {"type": "TaskSubmitted", "taskSubmittedEventDetails": {"resourceType": resource_type, "output": output}}


def test_job_ids_in_submission_order_once_each_batch_only():
    events = [_submitted("j1"), {"type": "TaskSucceeded"}, _submitted("q", resource_type="sqs"), _submitted("j2"),
              _submitted("j1"), {"type": "TaskSubmitted", "taskSubmittedEventDetails": {"resourceType": "batch",
                                                                                        "output": "not json"}}]

    assert submitted_job_ids(events) == ["j1", "j2"]


def _described(env: dict, **extra) -> dict:
    return {"jobId": "j1", "status": "FAILED", "statusReason": "Essential container in task exited",
            "container": {"environment": [{"name": k, "value": v} for k, v in env.items()], "exitCode": 1,
                          "logStreamName": "flowdrop-task/default/j1"}, **extra}


def test_a_foreach_tasks_job_names_its_task_id_attempt_and_exit():
    run = json.dumps({"flow_name": "F", "run_id": "sfn-1", "parameters": {}})
    job = job_of(_described({"FLOWDROP_RUN": run, "FLOWDROP_STEP": "fit", "FLOWDROP_INDICES": "[2, 0]",
                             "FLOWDROP_MODE": "run", "FLOWDROP_RETRY_COUNT": "1"}))

    assert (job.step, job.task_id, job.indices, job.attempt, job.exit_code) == ("fit", "fit-2-0", (2, 0), 1, 1)
    assert job.log_stream == "flowdrop-task/default/j1"
    assert job.label == ("fit[2][0] (attempt 1): job j1 FAILED, exit code 1: Essential container in task exited")


def test_a_catch_fallback_and_a_job_that_is_not_a_flowdrop_task():
    run = json.dumps({"flow_name": "F", "run_id": "sfn-1"})
    fallback = job_of(_described({"FLOWDROP_RUN": run, "FLOWDROP_STEP": "s", "FLOWDROP_INDICES": "[]",
                                  "FLOWDROP_MODE": "catch"}, status="SUCCEEDED"))
    assert "@catch fallback" in fallback.label and fallback.task_id == "s"

    other = job_of({"jobId": "x", "status": "RUNNING", "container": {}})
    assert (other.step, other.task_id, other.log_stream, other.exit_code) == ("?", "?", None, None)
    assert other.label == "? (attempt 0): job x RUNNING"
