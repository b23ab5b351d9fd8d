"""The merged template's own resources, deployed into moto's CloudFormation and read back with boto3.

Each stage is packaged as an operator packages it (`chalice package
--merge-template`), cut down to the resource types moto's CloudFormation has
a model for (tests/helpers/cloudformation.py: what refers to a dropped
resource is dropped too and named, never given a made-up value), and
created as `make aws-install` creates it: stack `flowdrop-STAGE`, parameters
Stage, Subnets, SecurityGroups, CAPABILITY_IAM. dev runs Batch on Fargate,
prod on EC2 (the Ec2Compute condition). The stacks get a moto server of
their own: their names are the operator's (`flowdrop-dev`, the account's
bucket), not a test's unique ones.

What moto cannot show is named: the types it lacks (MOTO_LACKS, checked
against its model map, so a moto upgrade that adds one fails here), and the
properties its models ignore (IGNORED_BY_MOTO, each with a canary). The
template's shape for those is checked in test_infra.py.
"""

from __future__ import annotations

import ast
import fnmatch
import json
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.parsers import ResponseParserError
from moto.cloudformation.parsing import get_model_map

from flowdrop.aws import AwsConfig
from flowdrop.compiler.job import COMMAND, DEFAULT_IMAGE
from flowdrop.local.moto.server import start_moto_server
from flowdrop.local.resources import RUN_STATUS_PATTERN, StackNames
from tests.helpers.cloudformation import Deployable, chalice_package, deployable

pytestmark = pytest.mark.slow

ACCOUNT, REGION = "123456789012", "us-east-1"
# Resource types of the packaged template that moto 5.2.5's CloudFormation has no model for. The SAM ones are
# Chalice's functions and API (moto runs no transform); the rest are the template's own.
MOTO_LACKS = {"AWS::Serverless::Function", "AWS::Serverless::Api", "AWS::SQS::QueuePolicy",
              "AWS::Scheduler::ScheduleGroup", "AWS::WAFv2::WebACL", "AWS::WAFv2::WebACLAssociation"}
# Left out because they refer to a left-out resource (the invoke permissions of Chalice's functions) ...
DEPENDENTS = {"APIHandlerInvokePermission": {"APIHandler", "RestAPI"},
              "TokenAuthorizerInvokePermission": {"TokenAuthorizer", "RestAPI"},
              "ScheduledInvokePermission": {"Scheduled"}}
# ... and the outputs that name Chalice's API or function.
DROPPED_OUTPUTS = {"RestAPIId": {"RestAPI"}, "APIHandlerName": {"APIHandler"}, "APIHandlerArn": {"APIHandler"},
                   "EndpointURL": {"RestAPI"}}
# Template properties moto's CloudFormation models do not apply (each has a canary below).
IGNORED_BY_MOTO = {
    "AWS::S3::Bucket": {"NotificationConfiguration", "PublicAccessBlockConfiguration", "OwnershipControls"},
    "AWS::DynamoDB::Table": {"TimeToLiveSpecification", "PointInTimeRecoverySpecification"},
    "AWS::IAM::Role": {"ManagedPolicyArns"},
    "AWS::Batch::JobDefinition": {"PlatformCapabilities"},
}
STAGES = {"dev": {"BatchComputeType": "FARGATE"},
          "prod": {"BatchComputeType": "EC2", "Ec2InstanceTypes": "g5.xlarge,c6i.large"}}


@dataclass
class Stack:
    stage: str
    name: str
    cut: Deployable
    subnets: list[str]
    security_groups: list[str]
    outputs: dict[str, str]
    physical: dict[str, str]  # logical id -> physical id of what was created
    summaries: list[dict[str, Any]]


def _network(aws: AwsConfig, stage: str) -> tuple[list[str], list[str]]:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    group = ec2.create_security_group(GroupName=f"flowdrop-{stage}-tasks", Description="tasks", VpcId=vpc)
    return subnets, [group["GroupId"]]


def _with_moto_service_role(template: dict[str, Any], service_role: str) -> dict[str, Any]:
    """moto's ComputeEnvironment model requires ServiceRole (AWS: optional, the service-linked role by default).

    Give moto, explicitly, the role AWS would use; test_moto_still_requires_a_batch_service_role says when
    this can go.
    """
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Batch::ComputeEnvironment":
            assert "ServiceRole" not in resource["Properties"]
            resource["Properties"]["ServiceRole"] = service_role
    return template


@pytest.fixture(scope="module")
def cfn_aws():
    server = start_moto_server()
    yield AwsConfig(endpoint_url=server.endpoint_url)
    server.stop()


@pytest.fixture(scope="module")
def batch_service_role(cfn_aws) -> str:
    """The role AWS Batch uses when a compute environment names none (AWS creates it on first use)."""
    return cfn_aws.client("iam").create_service_linked_role(AWSServiceName="batch.amazonaws.com")["Role"]["Arn"]


@pytest.fixture(scope="module")
def stacks(cfn_aws, batch_service_role, tmp_path_factory) -> dict[str, Stack]:
    cloudformation, out = cfn_aws.client("cloudformation"), {}
    for stage, parameters in STAGES.items():
        packaged = chalice_package(stage, tmp_path_factory.mktemp(f"package-{stage}"))
        cut = deployable(packaged, lambda kind: kind in get_model_map())
        subnets, groups = _network(cfn_aws, stage)
        body = _with_moto_service_role(json.loads(json.dumps(cut.template)), batch_service_role)
        name = f"flowdrop-{stage}"  # the Makefile's STACK
        values = {"Stage": stage, "Subnets": ",".join(subnets), "SecurityGroups": ",".join(groups), **parameters}
        cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(body), Capabilities=["CAPABILITY_IAM"],
                                    Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()])
        [described] = cloudformation.describe_stacks(StackName=name)["Stacks"]
        assert described["StackStatus"] == "CREATE_COMPLETE", described
        summaries = cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
        out[stage] = Stack(stage, name, cut, subnets, groups,
                           {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
                           {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries
                            if s["PhysicalResourceId"]}, summaries)
    return out


def _resources(stack: Stack, kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in stack.cut.template["Resources"].items() if r["Type"] == kind}


# -- what is deployed, what is not -------------------------------------------------------------


def test_only_what_moto_lacks_is_left_out_and_everything_else_is_created(stacks):
    model_map = get_model_map()
    assert not MOTO_LACKS & set(model_map), "moto now supports one of these: deploy it and check it below"
    for stack in stacks.values():
        assert set(stack.cut.unsupported.values()) == MOTO_LACKS
        assert stack.cut.dependents == DEPENDENTS
        assert stack.cut.dropped_outputs == DROPPED_OUTPUTS
        assert stack.cut.dropped_depends_on == {"PackagesBucket": {"DeployQueuePolicy"}}  # ordering only
        ec2 = STAGES[stack.stage]["BatchComputeType"] == "EC2"
        expected = {name for name, r in stack.cut.template["Resources"].items()
                    if ec2 or r.get("Condition") != "Ec2Compute"}
        created = {s["LogicalResourceId"] for s in stack.summaries
                   if s["ResourceStatus"] == "CREATE_COMPLETE" and s["PhysicalResourceId"]}
        # The event bus has no physical id in moto's listing (checked by name below).
        assert created | {"EventBus"} == expected
        assert len(expected) >= 25
        for kind, properties in IGNORED_BY_MOTO.items():  # the template does set what moto ignores
            declared = set().union(*(r.get("Properties", {}) for r in _resources(stack, kind).values()))
            assert properties <= declared, (kind, properties - declared)


def test_moto_still_requires_a_batch_service_role(cfn_aws, batch_service_role, unique_name):
    """Canary for _with_moto_service_role: when moto creates a compute environment without one, drop it."""
    subnets, groups = _network(cfn_aws, unique_name)
    properties = {"Type": "MANAGED", "ComputeResources": {"Type": "FARGATE", "MaxvCpus": 4, "Subnets": subnets,
                                                          "SecurityGroupIds": groups}}
    template = {"Resources": {"Compute": {"Type": "AWS::Batch::ComputeEnvironment", "Properties": properties}}}
    cloudformation = cfn_aws.client("cloudformation")
    # moto answers HTTP 500, an HTML page botocore cannot parse (a KeyError: 'ServiceRole' in its model).
    with pytest.raises(ResponseParserError, match="500 Internal Server Error"):
        cloudformation.create_stack(StackName=unique_name, TemplateBody=json.dumps(template))
    _with_moto_service_role(template, batch_service_role)
    cloudformation.create_stack(StackName=f"{unique_name}-2", TemplateBody=json.dumps(template))
    [described] = cloudformation.describe_stacks(StackName=f"{unique_name}-2")["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE"


# -- storage -------------------------------------------------------------------------------------


def test_the_bucket_is_named_for_account_region_and_stage_and_is_what_the_outputs_say(stacks, cfn_aws):
    s3 = cfn_aws.client("s3")
    for stack in stacks.values():
        bucket = f"flowdrop-{ACCOUNT}-{REGION}-{stack.stage}"
        assert stack.physical["PackagesBucket"] == bucket
        s3.head_bucket(Bucket=bucket)
        [rule] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert stack.outputs["PackagesBucketName"] == bucket
        assert stack.outputs["DatastoreRoot"] == f"s3://{bucket}/data"
        # Canaries (IGNORED_BY_MOTO): moto's bucket model drops the notification to the deploy queue, the public
        # access block and the ownership controls.
        assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
        with pytest.raises(s3.exceptions.ClientError, match="NoSuchPublicAccessBlockConfiguration"):
            s3.get_public_access_block(Bucket=bucket)
        with pytest.raises(s3.exceptions.ClientError, match="OwnershipControlsNotFoundError"):
            s3.get_bucket_ownership_controls(Bucket=bucket)


def test_tables_have_the_keys_the_deployer_reads(stacks, cfn_aws):
    dynamodb = cfn_aws.client("dynamodb")
    for stack in stacks.values():
        deployments = dynamodb.describe_table(TableName=f"flowdrop-deployments-{stack.stage}")["Table"]
        assert deployments["KeySchema"] == [{"AttributeName": "flow", "KeyType": "HASH"},
                                            {"AttributeName": "sk", "KeyType": "RANGE"}]
        assert deployments["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        idempotency = dynamodb.describe_table(TableName=f"flowdrop-idempotency-{stack.stage}")["Table"]
        assert idempotency["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
        assert {a["AttributeName"]: a["AttributeType"] for a in idempotency["AttributeDefinitions"]} == {"id": "S"}
        # Canaries (IGNORED_BY_MOTO): moto's table model drops TimeToLiveSpecification and point-in-time recovery.
        ttl = dynamodb.describe_time_to_live(TableName=idempotency["TableName"])["TimeToLiveDescription"]
        assert ttl["TimeToLiveStatus"] == "DISABLED"
        backups = dynamodb.describe_continuous_backups(TableName=deployments["TableName"])
        assert backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"] == {
            "PointInTimeRecoveryStatus": "DISABLED"}


def test_every_queue_redrives_to_its_dead_letter_queue(stacks, cfn_aws):
    sqs = cfn_aws.client("sqs")
    for stack in stacks.values():
        for purpose in ("deploy", "alerts", "events"):
            url = sqs.get_queue_url(QueueName=f"flowdrop-{purpose}-{stack.stage}")["QueueUrl"]
            dlq = sqs.get_queue_url(QueueName=f"flowdrop-{purpose}-{stack.stage}-dlq")["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            redrive = json.loads(attributes["RedrivePolicy"])
            assert redrive == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}, purpose
            logical = f"{purpose.capitalize()}Queue"
            declared = stack.cut.template["Resources"][logical]["Properties"]
            assert int(attributes["VisibilityTimeout"]) == declared["VisibilityTimeout"], purpose


# -- roles -----------------------------------------------------------------------------------------

PRINCIPALS = {"DefaultRole": "lambda.amazonaws.com", "TaskFunctionRole": "lambda.amazonaws.com",
              "StateMachineRole": "states.amazonaws.com", "BatchJobRole": "ecs-tasks.amazonaws.com",
              "TaskExecutionRole": "ecs-tasks.amazonaws.com", "SchedulerRole": "scheduler.amazonaws.com",
              "TaskInstanceRole": "ec2.amazonaws.com"}


def _policy_resources(iam: Any, role: str) -> dict[str, list[str]]:
    """Sid -> the resources of that statement, over the role's inline policies, as IAM holds them."""
    found: dict[str, list[str]] = {}
    for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        if isinstance(document, str):
            # moto's Role model keeps a CloudFormation inline policy as Python's repr of the dict, not JSON.
            document = ast.literal_eval(document)
        for statement in document["Statement"]:
            resources = statement["Resource"]
            found[statement.get("Sid", "")] = [resources] if isinstance(resources, str) else resources
    return found


def test_roles_carry_the_stage_trust_their_service_and_grant_the_stacks_own_resources(stacks, cfn_aws):
    iam, batch, logs = cfn_aws.client("iam"), cfn_aws.client("batch"), cfn_aws.client("logs")
    for stack in stacks.values():
        ec2 = STAGES[stack.stage]["BatchComputeType"] == "EC2"
        roles = set(_resources(stack, "AWS::IAM::Role")) - (set() if ec2 else {"TaskInstanceRole"})
        assert roles == set(PRINCIPALS) - (set() if ec2 else {"TaskInstanceRole"})
        for logical in roles:
            name = stack.physical[logical]
            assert name.startswith(f"{stack.name}-{logical}-"), name  # CloudFormation's name: stack, hence stage
            role = iam.get_role(RoleName=name)["Role"]
            [trust] = role["AssumeRolePolicyDocument"]["Statement"]
            assert trust["Principal"] == {"Service": PRINCIPALS[logical]}, logical
            for sid, resources in _policy_resources(iam, name).items():
                for arn in resources:  # every Ref, GetAtt and Sub resolved to this account, region and stack
                    assert arn == "*" or arn.startswith("arn:aws:"), (logical, sid, arn)
                    assert "${" not in arn and ":None" not in arn, (logical, sid, arn)
        bucket = stack.physical["PackagesBucket"]
        for logical in ("BatchJobRole", "TaskFunctionRole"):
            granted = _policy_resources(iam, stack.physical[logical])
            assert granted["ReadPackagesWriteArtifacts"] == [f"arn:aws:s3:::{bucket}/*"]
            assert granted["ListBucket"] == [f"arn:aws:s3:::{bucket}"]
        [queue] = batch.describe_job_queues(jobQueues=[f"flowdrop-{stack.stage}"])["jobQueues"]
        [definition] = batch.describe_job_definitions(jobDefinitionName=f"flowdrop-task-{stack.stage}")[
            "jobDefinitions"]
        submit = _policy_resources(iam, stack.physical["StateMachineRole"])["RunTasksOnBatch"]
        assert submit[0] == queue["jobQueueArn"]
        assert fnmatch.fnmatchcase(definition["jobDefinitionArn"], submit[1])
        [task_logs] = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/flowdrop-{stack.stage}-task")[
            "logGroups"]
        # The group's Fn::GetAtt Arn: AWS's ends in ":*" (its streams), as DescribeLogGroups' does; moto's omits it.
        granted = _policy_resources(iam, stack.physical["TaskFunctionRole"])["TaskFunctionLogs"]
        assert granted == [task_logs["arn"].removesuffix(":*")]
        deployer = _policy_resources(iam, stack.physical["DefaultRole"])
        state_machine_role = iam.get_role(RoleName=stack.physical["StateMachineRole"])["Role"]["Arn"]
        scheduler_role = iam.get_role(RoleName=stack.physical["SchedulerRole"])["Role"]["Arn"]
        passed = {arn for sid, resources in deployer.items() if sid.startswith("Pass") for arn in resources}
        assert {state_machine_role, scheduler_role} <= passed, deployer


# -- events, schedules, logs ---------------------------------------------------------------------


def test_the_stage_has_its_event_bus_and_a_run_status_rule_feeding_the_alerts_queue(stacks, cfn_aws):
    events, sqs = cfn_aws.client("events"), cfn_aws.client("sqs")
    for stack in stacks.values():
        bus = events.describe_event_bus(Name=f"flowdrop-{stack.stage}")
        assert bus["Arn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/flowdrop-{stack.stage}"
        rule = events.describe_rule(Name=f"flowdrop-{stack.stage}-run-status")  # Step Functions: the default bus
        assert rule["EventBusName"] == "default" and rule["State"] == "ENABLED"
        assert json.loads(rule["EventPattern"]) == RUN_STATUS_PATTERN
        alerts = sqs.get_queue_url(QueueName=f"flowdrop-alerts-{stack.stage}")["QueueUrl"]
        alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        assert [(t["Id"], t["Arn"]) for t in targets] == [("alerts", alerts_arn)]


def test_log_groups_are_per_stage_with_the_retention_parameter(stacks, cfn_aws):
    logs = cfn_aws.client("logs")
    for stack in stacks.values():
        declared = _resources(stack, "AWS::Logs::LogGroup")
        expected = {f"/flowdrop/{stack.stage}/tasks", f"/aws/lambda/flowdrop-{stack.stage}"} | {
            f"/aws/lambda/flowdrop-{stack.stage}-{fn}" for fn in ("task", "deploy", "scheduled", "alerts")}
        assert {stack.physical[name] for name in declared} == expected
        for name in expected:
            [group] = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
                       if g["logGroupName"] == name]
            assert group["retentionInDays"] == 30, name  # LogRetentionDays' default


# -- Batch -----------------------------------------------------------------------------------------


def test_batch_compute_queue_and_job_definition_run_the_bootstrap_in_the_stages_network(stacks, cfn_aws):
    batch, iam = cfn_aws.client("batch"), cfn_aws.client("iam")
    for stack in stacks.values():
        kind = STAGES[stack.stage]["BatchComputeType"]
        [environment] = batch.describe_compute_environments(computeEnvironments=[f"flowdrop-{stack.stage}"])[
            "computeEnvironments"]
        compute = environment["computeResources"]
        assert environment["type"] == "MANAGED" and compute["type"] == kind
        assert sorted(compute["subnets"]) == sorted(stack.subnets)
        assert compute["securityGroupIds"] == stack.security_groups
        assert compute["maxvCpus"] == 256
        if kind == "EC2":
            profile = iam.get_instance_profile(InstanceProfileName=stack.physical["TaskInstanceProfile"])
            assert compute["instanceRole"] == profile["InstanceProfile"]["Arn"]
            assert [r["RoleName"] for r in profile["InstanceProfile"]["Roles"]] == [stack.physical["TaskInstanceRole"]]
            assert compute["instanceTypes"] == ["g5.xlarge", "c6i.large"] and compute["minvCpus"] == 0
            # Canary (IGNORED_BY_MOTO): moto's role model drops ManagedPolicyArns (the ECS instance policy).
            attached = iam.list_attached_role_policies(RoleName=stack.physical["TaskInstanceRole"])
            assert attached["AttachedPolicies"] == []
        else:
            assert "instanceRole" not in compute and "TaskInstanceProfile" not in stack.physical
        [queue] = batch.describe_job_queues(jobQueues=[f"flowdrop-{stack.stage}"])["jobQueues"]
        assert [c["computeEnvironment"] for c in queue["computeEnvironmentOrder"]] == [
            environment["computeEnvironmentArn"]]
        assert stack.outputs["TaskJobQueueArn"] == queue["jobQueueArn"]
        [definition] = batch.describe_job_definitions(jobDefinitionName=f"flowdrop-task-{stack.stage}")[
            "jobDefinitions"]
        assert stack.outputs["TaskJobDefinitionArn"] == definition["jobDefinitionArn"]
        # Canary (IGNORED_BY_MOTO): moto's job definition model drops PlatformCapabilities (test_infra.py checks
        # the template gives [BatchComputeType]).
        assert "platformCapabilities" not in definition
        container = definition["containerProperties"]
        assert container["image"] == DEFAULT_IMAGE and container["command"] == list(COMMAND)
        assert container["jobRoleArn"] == iam.get_role(RoleName=stack.physical["BatchJobRole"])["Role"]["Arn"]
        assert container["executionRoleArn"] == iam.get_role(
            RoleName=stack.physical["TaskExecutionRole"])["Role"]["Arn"]
        assert container["logConfiguration"]["options"]["awslogs-group"] == f"/flowdrop/{stack.stage}/tasks"
        assert {r["type"]: r["value"] for r in container["resourceRequirements"]} == {"VCPU": "1", "MEMORY": "2048"}


def test_the_embedded_stack_names_its_resources_as_the_deployed_stack_does(stacks, cfn_aws):
    """local/resources.py's StackNames and the template agree, so code tested on moto finds the same names on AWS."""
    for stack in stacks.values():
        names = StackNames(stage=stack.stage, region=REGION, account=ACCOUNT)
        arn = f"arn:aws:batch:{REGION}:{ACCOUNT}"
        queue_url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}"
        assert {logical: stack.physical[logical] for logical in (
            "PackagesBucket", "DeployQueue", "DeployDeadLetterQueue", "AlertsQueue", "AlertsDeadLetterQueue",
            "EventsQueue", "DeploymentsTable", "IdempotencyTable", "RunStatusRule", "TaskComputeEnvironment",
            "TaskJobQueue")} == {
            "PackagesBucket": names.bucket, "DeployQueue": f"{queue_url}/{names.deploy_queue}",
            "DeployDeadLetterQueue": f"{queue_url}/{names.dead_letter_queue}",
            "AlertsQueue": f"{queue_url}/{names.alerts_queue}",
            "AlertsDeadLetterQueue": f"{queue_url}/{names.alerts_dead_letter_queue}",
            "EventsQueue": f"{queue_url}/{names.events_queue}", "DeploymentsTable": names.deployments_table,
            "IdempotencyTable": names.idempotency_table, "RunStatusRule": names.alerts_rule,
            "TaskComputeEnvironment": f"{arn}:compute-environment/{names.compute_environment}",
            "TaskJobQueue": f"{arn}:job-queue/{names.job_queue}"}
        assert stack.outputs["TaskJobDefinitionArn"] == f"{arn}:job-definition/{names.job_definition}:1"
        bus = cfn_aws.client("events").describe_event_bus(Name=names.event_bus)  # moto lists no physical id for it
        assert bus["Name"] == names.event_bus
