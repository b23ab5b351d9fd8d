"""Infrastructure as code: `chalice package --merge-template .chalice/resources.json`.

Packages each stage with the venv's chalice (a subprocess, as an operator
runs it), checks the merged template holds the resources the deployer
needs and passes cfn-lint, and checks the Lambda bundle imports on its own:
no editable flowdrop install, only what the Lambda Python runtime provides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from flowdrop.deployer.settings import DeployerSettings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MERGE_TEMPLATE = ROOT / ".chalice" / "resources.json"
# What the Lambda Python runtime already has: the bundle must bring the rest.
LAMBDA_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "urllib3", "six.py")
MAX_BUNDLE_BYTES = 5 * 2**20


def package(stage: str, out: Path) -> dict[str, Any]:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [str(BIN / "chalice"), "--project-dir", str(ROOT), "package", "--stage", stage,
         "--merge-template", str(MERGE_TEMPLATE), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((out / "sam.json").read_text())


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> dict[str, tuple[Path, dict[str, Any]]]:
    out = {}
    for stage in ("dev", "prod"):
        folder = tmp_path_factory.mktemp(f"package-{stage}")
        out[stage] = (folder, package(stage, folder))
    return out


def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def actions(role: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for statement in statements(role):
        found.update([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    return found


def resolve(value: Any, parameters: dict[str, Any], stage: str) -> str:
    """A plausible string for a template value: Refs to parameters take their defaults, the rest an ARN."""
    if isinstance(value, str):
        return value
    if "Ref" in value and value["Ref"] in parameters:
        return str(parameters[value["Ref"]].get("Default", ""))
    if "Fn::Sub" in value:
        text = value["Fn::Sub"]
        for name, known in (("Stage", stage), ("AWS::Partition", "aws"), ("AWS::Region", "us-east-1"),
                            ("AWS::AccountId", "123456789012")):
            text = text.replace("${" + name + "}", known)
        if "${" not in text:
            return text
    return "arn:aws:iam::123456789012:role/placeholder"


# -- the merged template -------------------------------------------------------------------


def test_bucket_notifies_the_deploy_queue_of_packages(packaged):
    res = resources(packaged["dev"][1])
    bucket = res["PackagesBucket"]
    assert bucket["Type"] == "AWS::S3::Bucket" and bucket["DeletionPolicy"] == "Retain"
    [notification] = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == {"Fn::GetAtt": ["DeployQueue", "Arn"]}
    rules = {r["Name"]: r["Value"] for r in notification["Filter"]["S3Key"]["Rules"]}
    assert rules == {"prefix": "packages/", "suffix": ".tar.gz"}
    # S3 checks it may send before accepting the notification: the policy comes first.
    assert "DeployQueuePolicy" in bucket["DependsOn"]
    [allow] = res["DeployQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    source = allow["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
    assert source == "arn:${AWS::Partition}:s3:::" + bucket["Properties"]["BucketName"]["Fn::Sub"]


def test_deploy_queue_has_a_dead_letter_queue_and_feeds_the_deploy_lambda(packaged):
    for stage, (_, template) in packaged.items():
        res = resources(template)
        queue = res["DeployQueue"]["Properties"]
        assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": ["DeployDeadLetterQueue", "Arn"]},
                                          "maxReceiveCount": 5}
        assert res["DeployDeadLetterQueue"]["Type"] == "AWS::SQS::Queue"
        assert queue["VisibilityTimeout"] >= 6 * res["Deploy"]["Properties"]["Timeout"]
        event = res["Deploy"]["Properties"]["Events"]["DeploySqsEventSource"]
        assert event["Type"] == "SQS"
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # Chalice names the queue from the stage's FLOWDROP_DEPLOY_QUEUE: the template's queue must be that one.
        queue_name = queue["QueueName"]["Fn::Sub"].replace("${Stage}", stage)
        assert event["Properties"]["Queue"]["Fn::Sub"].endswith(f":{queue_name}")
        assert "DeployQueue" in res["Deploy"]["DependsOn"]


def test_run_status_events_reach_the_alerts_lambda_through_a_queue(packaged):
    for stage, (_, template) in packaged.items():
        res = resources(template)
        queue = res["AlertsQueue"]["Properties"]
        assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": ["AlertsDeadLetterQueue", "Arn"]},
                                          "maxReceiveCount": 5}
        assert queue["VisibilityTimeout"] >= 6 * res["Alerts"]["Properties"]["Timeout"]
        event = res["Alerts"]["Properties"]["Events"]["AlertsSqsEventSource"]
        assert event["Type"] == "SQS" and event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # Chalice names the queue from the stage's FLOWDROP_ALERTS_QUEUE: the template's queue must be that one.
        queue_name = queue["QueueName"]["Fn::Sub"].replace("${Stage}", stage)
        assert event["Properties"]["Queue"]["Fn::Sub"].endswith(f":{queue_name}")
        rule = res["RunStatusRule"]["Properties"]
        from flowdrop.local.resources import RUN_STATUS_PATTERN

        assert rule["EventPattern"] == RUN_STATUS_PATTERN  # what the embedded stack's rule matches too
        assert rule["Targets"] == [{"Id": "alerts", "Arn": {"Fn::GetAtt": ["AlertsQueue", "Arn"]}}]
        [allow] = res["AlertsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
        assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": ["RunStatusRule", "Arn"]}
        role = res["DefaultRole"]
        assert {"sns:Publish", "s3:ListBucket", "states:GetExecutionHistory", "dynamodb:PutItem",
                "dynamodb:DeleteItem"} <= actions(role)
        consume = next(s for s in statements(role) if s["Sid"] == "ConsumeAlertsQueue")
        assert consume["Resource"] == {"Fn::GetAtt": ["AlertsQueue", "Arn"]}
        assert res["Alerts"]["Properties"]["Role"] == {"Fn::GetAtt": ["DefaultRole", "Arn"]}


def test_tables_match_what_the_deployer_reads(packaged):
    res = resources(packaged["dev"][1])
    deployments = res["DeploymentsTable"]["Properties"]
    assert deployments["KeySchema"] == [{"AttributeName": "flow", "KeyType": "HASH"},
                                        {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert res["DeploymentsTable"]["DeletionPolicy"] == "Retain"  # records are kept
    idempotency = res["IdempotencyTable"]["Properties"]
    assert idempotency["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert idempotency["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_roles_for_state_machines_batch_jobs_and_the_lambdas(packaged):
    res = resources(packaged["dev"][1])
    sfn = res["StateMachineRole"]
    assert sfn["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "states.amazonaws.com"}
    assert {"batch:SubmitJob", "lambda:InvokeFunction", "sqs:SendMessage", "s3:GetObject", "s3:PutObject"} <= actions(sfn)
    batch = res["BatchJobRole"]
    assert batch["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert {"s3:GetObject", "s3:PutObject"} <= actions(batch)
    lambdas = res["DefaultRole"]
    assert {"states:CreateStateMachine", "states:UpdateStateMachineAlias", "states:StartExecution",
            "events:PutRule", "events:PutTargets", "iam:PassRole", "dynamodb:PutItem", "s3:GetObject",
            "sqs:ReceiveMessage"} <= actions(lambdas)
    pass_role = next(s for s in statements(lambdas) if s["Action"] == ["iam:PassRole"])
    assert pass_role["Resource"] == {"Fn::GetAtt": ["StateMachineRole", "Arn"]}
    for name in ("Deploy", "Scheduled", "APIHandler"):
        assert res[name]["Properties"]["Role"] == {"Fn::GetAtt": ["DefaultRole", "Arn"]}


def test_eventbridge_may_invoke_the_scheduled_lambda(packaged):
    res = resources(packaged["dev"][1])
    permission = res["ScheduledInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "Scheduled"} and permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"]["Fn::Sub"].endswith(":rule/flowdrop-*")
    assert res["Scheduled"]["Properties"]["FunctionName"] == {"Fn::Sub": "flowdrop-${Stage}-scheduled"}


def test_scheduler_invokes_the_scheduled_lambda_with_its_own_role_in_the_stages_group(packaged):
    res = resources(packaged["dev"][1])
    assert res["ScheduleGroup"]["Type"] == "AWS::Scheduler::ScheduleGroup"
    assert res["ScheduleGroup"]["Properties"]["Name"] == {"Fn::Sub": "flowdrop-${Stage}"}
    role = res["SchedulerRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    invoke = statements(res["SchedulerRole"])
    assert [s["Action"] for s in invoke] == [["lambda:InvokeFunction"]]
    assert invoke[0]["Resource"]["Fn::Sub"].endswith(":function:flowdrop-${Stage}-scheduled")
    deployer = statements(res["DefaultRole"])
    schedules = next(s for s in deployer if "scheduler:CreateSchedule" in s["Action"])
    assert {"scheduler:UpdateSchedule", "scheduler:DeleteSchedule", "scheduler:GetSchedule"} <= set(schedules["Action"])
    assert schedules["Resource"]["Fn::Sub"].endswith(":schedule/flowdrop-${Stage}/*")
    passes = [s for s in deployer if s["Action"] == ["iam:PassRole"]]
    assert {"Fn::GetAtt": ["SchedulerRole", "Arn"]} in [s["Resource"] for s in passes]
    variables = packaged["dev"][1]["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["FLOWDROP_SCHEDULER_ROLE_ARN"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
    assert variables["FLOWDROP_SCHEDULE_GROUP"] == {"Ref": "ScheduleGroup"}


def test_every_function_gets_the_deployer_settings(packaged):
    for stage, (_, template) in packaged.items():
        parameters = template["Parameters"]
        variables = template["Globals"]["Function"]["Environment"]["Variables"]
        for name in ("Deploy", "Scheduled", "APIHandler", "Alerts"):
            env = {**{k: resolve(v, parameters, stage) for k, v in variables.items()},
                   **resources(template)[name]["Properties"]["Environment"]["Variables"]}
            settings = DeployerSettings.from_env(env)  # raises naming any variable missing
            assert settings.backend.kind == "batch"
            assert env["FLOWDROP_API_AUTH"] == {"dev": "token", "prod": "iam"}[stage]
        assert env["FLOWDROP_SCHEDULED_FUNCTION_ARN"] == \
            f"arn:aws:lambda:us-east-1:123456789012:function:flowdrop-{stage}-scheduled"


def test_prod_routes_use_iam_and_dev_routes_the_token(packaged):
    open_paths = {"/health", "/", "/static/{name}"}  # health and the operator page's shell: they hold no data

    def security(stage: str, open_ones: bool = False) -> set[str]:
        paths = resources(packaged[stage][1])["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
        assert open_paths <= set(paths)
        return {next(iter(s)) for p, methods in paths.items() if (p in open_paths) == open_ones
                for m in methods.values() for s in m.get("security", [{"none": []}])}

    assert security("prod") == {"sigv4"}
    assert security("dev") == {"token_authorizer"}
    assert security("prod", open_ones=True) == security("dev", open_ones=True) == {"none"}


def test_merged_template_passes_cfn_lint(packaged):
    # Both stages in one cfn-lint process (its start-up, loading every resource spec, is most of its time).
    templates = [str(packaged[stage][0] / "sam.json") for stage in ("dev", "prod")]
    result = subprocess.run([str(BIN / "cfn-lint"), *templates], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


# -- the Lambda bundle -----------------------------------------------------------------------


def test_bundle_is_small_and_imports_without_the_editable_install(packaged, tmp_path):
    zip_path = packaged["dev"][0] / "deployment.zip"
    size = zip_path.stat().st_size
    with zipfile.ZipFile(zip_path) as bundle:
        names = bundle.namelist()
        bundle.extractall(tmp_path / "bundle")
    tops = {name.split("/")[0] for name in names}
    assert {"app.py", "chalicelib", "chalice", "croniter", "aws_lambda_powertools"} <= tops
    assert "chalicelib/deployer/sqs_events.py" in names
    assert not tops & {"boto3", "botocore"}, "boto3 comes with the Lambda runtime; keep it out of the bundle"
    assert size < MAX_BUNDLE_BYTES, f"bundle is {size:,} bytes"

    runtime = tmp_path / "lambda-runtime"
    runtime.mkdir()
    site = Path(__import__("boto3").__file__).resolve().parent.parent
    for name in LAMBDA_RUNTIME_PACKAGES:
        (runtime / name).symlink_to(site / name)
    # -S: no site module, so no .pth files and no editable finder for flowdrop.
    probe = (
        "import sys, time, json\n"
        f"sys.path[:0] = [{str(tmp_path / 'bundle')!r}, {str(runtime)!r}]\n"
        "start = time.perf_counter()\n"
        "import app\n"
        "seconds = time.perf_counter() - start\n"
        "import flowdrop.deployer.sqs_events\n"
        "from aws_lambda_powertools.utilities.batch import BatchProcessor\n"
        "print(json.dumps({'flowdrop': sys.modules['flowdrop'].__file__, 'seconds': seconds,\n"
        "                  'routes': sorted(app.app.routes)}))\n"
    )
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path, env={"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1"})
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["flowdrop"] == str(tmp_path / "bundle" / "chalicelib" / "__init__.py")
    assert "/flows/{flow}/runs" in found["routes"]
    print(f"\nLambda bundle: {size:,} bytes, {len(names)} files; import app: {found['seconds']:.2f} s "
          f"(process {time.perf_counter() - started:.2f} s)")


# -- the compute backends ------------------------------------------------------------------

NAME_PROPERTIES = ("BucketName", "QueueName", "TableName", "FunctionName", "JobQueueName", "JobDefinitionName",
                   "ComputeEnvironmentName", "LogGroupName", "RoleName")
# Actions AWS only grants on "*" (DescribeJobs and TerminateJob take job ids; ListStateMachines lists).
# events:ListRules has no resource-level permissions (the deployer lists a flow's trigger rules by name prefix).
STAR_RESOURCE_ACTIONS = {"batch:DescribeJobs", "batch:TerminateJob", "states:ListStateMachines", "events:ListRules"}


def test_every_named_resource_carries_the_stage(packaged):
    for stage, (_, template) in packaged.items():
        named = 0
        for logical, resource in resources(template).items():
            for prop in NAME_PROPERTIES:
                value = resource.get("Properties", {}).get(prop)
                if value is None or (isinstance(value, dict) and ("Ref" in value or "Fn::GetAtt" in value)):
                    continue  # absent, or a reference to another (named) resource
                named += 1
                text = value["Fn::Sub"] if isinstance(value, dict) and "Fn::Sub" in value else value
                assert isinstance(text, str) and ("${Stage}" in text or stage in text), (stage, logical, prop, value)
        assert named >= 15


def test_iam_policies_are_scoped_to_the_stacks_resources(packaged):
    for _, template in packaged.values():
        for logical, resource in resources(template).items():
            if resource.get("Type") != "AWS::IAM::Role" and logical != "DefaultRole":
                continue
            for statement in statements(resource) if "Policies" in resource.get("Properties", {}) else []:
                acts = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
                assert not any(a == "*" or a.endswith(":*") for a in acts), (logical, statement)
                if statement["Resource"] == "*":
                    assert set(acts) <= STAR_RESOURCE_ACTIONS, (logical, statement)


def test_the_task_job_definition_runs_the_bootstrap_the_embedded_stack_runs(packaged):
    from flowdrop.compiler.job import COMMAND, DEFAULT_IMAGE
    from flowdrop.local.resources import StackNames

    template = packaged["dev"][1]
    res = resources(template)
    definition = res["TaskJobDefinition"]["Properties"]
    container = definition["ContainerProperties"]
    assert container["Command"] == list(COMMAND)  # the same command moto's stand-in runs (local/resources.py)
    assert template["Parameters"]["TaskImage"]["Default"] == DEFAULT_IMAGE
    assert container["JobRoleArn"] == {"Fn::GetAtt": ["BatchJobRole", "Arn"]}
    assert definition["PlatformCapabilities"] == [{"Ref": "BatchComputeType"}]
    assert container["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "TaskLogGroup"}
    assert res["TaskJobQueue"]["Properties"]["ComputeEnvironmentOrder"][0]["ComputeEnvironment"] == {
        "Ref": "TaskComputeEnvironment"}
    assert res["TaskComputeEnvironment"]["Properties"]["ComputeResources"]["Type"] == {"Ref": "BatchComputeType"}
    assert template["Parameters"]["BatchComputeType"]["Default"] == "FARGATE"
    # The names the embedded stack gives the same resources follow the template's pattern.
    names = StackNames(stage="dev")
    assert (names.job_queue, names.job_definition, names.task_function) == (
        "flowdrop-dev", "flowdrop-task-dev", "flowdrop-dev-task")
    for group in ("TaskLogGroup", "TaskFunctionLogGroup", "DeployFunctionLogGroup"):
        assert res[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_task_lambda_runs_user_code_with_its_own_narrow_role(packaged):
    res = resources(packaged["dev"][1])
    task = res["Task"]["Properties"]
    assert task["Handler"] == "app.task" and task["Timeout"] == 900
    assert task["FunctionName"] == {"Fn::Sub": "flowdrop-${Stage}-task"}
    assert task["Role"] == {"Fn::GetAtt": ["TaskFunctionRole", "Arn"]}
    granted = actions(res["TaskFunctionRole"])
    assert granted == {"s3:GetObject", "s3:PutObject", "s3:ListBucket", "logs:CreateLogStream", "logs:PutLogEvents"}
    sfn = res["StateMachineRole"]
    invoke = next(s for s in statements(sfn) if s["Sid"] == "RunTasksOnLambda")
    assert invoke["Resource"][0] == {
        "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:flowdrop-${Stage}-task"}


def test_the_stack_outputs_what_flowdrop_aws_config_reads(packaged):
    from flowdrop.cli.aws_install import REQUIRED_OUTPUTS

    for _, template in packaged.values():
        assert set(REQUIRED_OUTPUTS) <= set(template["Outputs"])


# -- the API's edge ------------------------------------------------------------------------


def test_the_api_stage_is_throttled_and_its_waf_refuses_large_bodies(packaged):
    from flowdrop.deployer.requests import MAX_BODY_BYTES

    for stage, (_, template) in packaged.items():
        res, parameters = resources(template), template["Parameters"]
        api = res["RestAPI"]["Properties"]
        assert "DefinitionBody" in api and api["StageName"] == "api"  # merged into Chalice's API, not replacing it
        [throttle] = api["MethodSettings"]
        assert (throttle["ResourcePath"], throttle["HttpMethod"]) == ("/*", "*")  # every route
        assert throttle["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
        assert throttle["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
        assert parameters["ApiThrottlingBurstLimit"]["Default"] >= parameters["ApiThrottlingRateLimit"]["Default"] > 0

        acl = res["ApiWebAcl"]
        assert acl["Type"] == "AWS::WAFv2::WebACL" and acl["Properties"]["Scope"] == "REGIONAL"
        [rule] = acl["Properties"]["Rules"]
        assert rule["Action"] == {"Block": {"CustomResponse": {"ResponseCode": 413}}}
        size = rule["Statement"]["SizeConstraintStatement"]
        assert size["FieldToMatch"] == {"Body": {"OversizeHandling": "MATCH"}}  # past inspection: refused
        assert size["ComparisonOperator"] == "GT" and size["Size"] == {"Ref": "ApiMaxBodyBytes"}
        inspected = acl["Properties"]["AssociationConfig"]["RequestBody"]["API_GATEWAY"]["DefaultSizeInspectionLimit"]
        limit = parameters["ApiMaxBodyBytes"]
        assert inspected == "KB_64" and limit["MaxValue"] == limit["Default"] == 64 * 1024 <= MAX_BODY_BYTES
        association = res["ApiWebAclAssociation"]["Properties"]
        assert association["WebACLArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}
        assert association["ResourceArn"]["Fn::Sub"].endswith("/restapis/${RestAPI}/stages/${RestAPI.Stage}")
        assert acl["Condition"] == res["ApiWebAclAssociation"]["Condition"] == "ApiBodyLimit"


def test_trigger_rules_feed_the_events_queue_consumed_by_the_events_lambda(packaged):
    for stage, (_, template) in packaged.items():
        res = resources(template)
        assert res["EventBus"]["Properties"]["Name"] == {"Fn::Sub": "flowdrop-${Stage}"}
        queue = res["EventsQueue"]["Properties"]
        assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}
        event = res["Events"]["Properties"]["Events"]["EventsSqsEventSource"]
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        queue_name = queue["QueueName"]["Fn::Sub"].replace("${Stage}", stage)
        assert event["Properties"]["Queue"]["Fn::Sub"].endswith(f":{queue_name}")
        [allow] = res["EventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
        assert {"events:PutRule", "events:ListRules", "events:PutEvents", "s3:PutObject"} <= actions(res["DefaultRole"])
        variables = template["Globals"]["Function"]["Environment"]["Variables"]
        assert variables["FLOWDROP_EVENTS_QUEUE_ARN"] == {"Fn::GetAtt": ["EventsQueue", "Arn"]}
