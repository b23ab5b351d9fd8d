"""The embedded stack's AWS resources, created on its moto server as the real stack has them.

Owns: the names of the local stage's resources (the same patterns as
.chalice/resources.json with Stage=local: bucket, deploy queue and its
dead-letter queue, deployment and idempotency tables, the Step Functions
role, the scheduled function's ARN), the batch backend's compute environment, job
queue and task job definition, plus the worker backend's task queue,
creating them, and the deployer environment (deployer/settings.py's
variables) pointing at them. Does not own: moto itself (moto/server.py) or
the stand-ins that consume the queues (events.py, workers.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from flowdrop.aws import AwsConfig
from flowdrop.compiler.job import container_properties
from flowdrop.model.names import SCHEDULE_GROUP

STAGE = "local"
ACCOUNT = "123456789012"  # moto's default account
PACKAGE_PREFIX = "packages/"
# The template's maxReceiveCount: a package notification failing this often
# goes to the dead-letter queue.
MAX_RECEIVE_COUNT = 5


@dataclass(frozen=True)
class StackNames:
    """What every resource of one embedded stack is called (template names, Stage=local)."""

    stage: str = STAGE
    region: str = "us-east-1"
    account: str = ACCOUNT

    @property
    def bucket(self) -> str:
        return f"flowdrop-{self.account}-{self.region}-{self.stage}"

    @property
    def deploy_queue(self) -> str:
        return f"flowdrop-deploy-{self.stage}"

    @property
    def dead_letter_queue(self) -> str:
        return f"flowdrop-deploy-{self.stage}-dlq"

    @property
    def alerts_queue(self) -> str:
        return f"flowdrop-alerts-{self.stage}"

    @property
    def alerts_dead_letter_queue(self) -> str:
        return f"flowdrop-alerts-{self.stage}-dlq"

    @property
    def alerts_rule(self) -> str:
        return f"flowdrop-{self.stage}-run-status"

    @property
    def events_queue(self) -> str:
        return f"flowdrop-events-{self.stage}"

    @property
    def event_bus(self) -> str:
        return f"flowdrop-{self.stage}"

    @property
    def task_queue(self) -> str:
        return f"flowdrop-tasks-{self.stage}"

    @property
    def deployments_table(self) -> str:
        return f"flowdrop-deployments-{self.stage}"

    @property
    def idempotency_table(self) -> str:
        return f"flowdrop-idempotency-{self.stage}"

    @property
    def state_machine_role(self) -> str:
        return f"flowdrop-{self.stage}-StateMachineRole"

    @property
    def batch_service_role(self) -> str:
        return f"flowdrop-{self.stage}-BatchServiceRole"

    @property
    def compute_environment(self) -> str:
        return f"flowdrop-{self.stage}"

    @property
    def job_queue(self) -> str:
        return f"flowdrop-{self.stage}"

    @property
    def job_definition(self) -> str:
        return f"flowdrop-task-{self.stage}"

    @property
    def task_function(self) -> str:
        return f"flowdrop-{self.stage}-task"

    @property
    def task_function_role(self) -> str:
        return f"flowdrop-{self.stage}-TaskFunctionRole"

    @property
    def scheduler_role(self) -> str:
        return f"flowdrop-{self.stage}-SchedulerRole"

    @property
    def scheduled_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:flowdrop-{self.stage}-scheduled"


@dataclass(frozen=True)
class StackResources:
    """Addresses of the created resources."""

    names: StackNames
    deploy_queue_url: str
    deploy_queue_arn: str
    dead_letter_queue_url: str
    task_queue_url: str
    role_arn: str
    job_queue_arn: str
    job_definition_arn: str
    task_function_arn: str
    scheduler_role_arn: str = ""
    alerts_queue_url: str = ""
    alerts_queue_arn: str = ""
    events_queue_url: str = ""
    events_queue_arn: str = ""

    def deployer_env(self, aws: AwsConfig, api_token: str, heartbeat_seconds: int) -> dict[str, str]:
        """The deployer's environment (deployer/settings.py) for this stack: Batch by default, S3 datastore."""
        names = self.names
        return {
            "FLOWDROP_BUCKET": names.bucket,
            "FLOWDROP_PACKAGE_PREFIX": PACKAGE_PREFIX,
            "FLOWDROP_DEPLOYMENTS_TABLE": names.deployments_table,
            "FLOWDROP_IDEMPOTENCY_TABLE": names.idempotency_table,
            "FLOWDROP_STATE_MACHINE_ROLE_ARN": self.role_arn,
            "FLOWDROP_SCHEDULED_FUNCTION_ARN": names.scheduled_function_arn,
            "FLOWDROP_SCHEDULER_ROLE_ARN": self.scheduler_role_arn,
            "FLOWDROP_SCHEDULE_GROUP": SCHEDULE_GROUP,
            # As on AWS: Batch unless a deployment asks for another backend.
            # moto's Batch jobs run as local processes here (moto/batch_jobs.py).
            "FLOWDROP_BACKEND": "batch",
            "FLOWDROP_ALLOWED_BACKENDS": "batch,lambda,worker",
            "FLOWDROP_BATCH_JOB_QUEUE": self.job_queue_arn,
            "FLOWDROP_BATCH_JOB_DEFINITION": self.job_definition_arn,
            "FLOWDROP_TASK_FUNCTION": self.task_function_arn,
            "FLOWDROP_TASK_FUNCTION_MEMORY": str(TASK_FUNCTION_MEMORY),
            "FLOWDROP_WORKER_QUEUE_URL": self.task_queue_url,
            "FLOWDROP_HEARTBEAT_SECONDS": str(heartbeat_seconds),
            "FLOWDROP_DATASTORE_ROOT": f"s3://{names.bucket}/data",
            "FLOWDROP_API_TOKEN_HASHES": hashlib.sha256(api_token.encode("utf-8")).hexdigest(),
            "FLOWDROP_DEPLOY_QUEUE": names.deploy_queue,
            "FLOWDROP_ALERTS_QUEUE": names.alerts_queue,
            "FLOWDROP_API_AUTH": "token",
            "FLOWDROP_AWS_ENDPOINT": aws.endpoint_url or "",
            "AWS_REGION": aws.region,
            "AWS_DEFAULT_REGION": aws.region,
            "POWERTOOLS_SERVICE_NAME": "flowdrop",
            # Event triggers: rules on this bus (and Step Functions' status events on the default bus) feed the queue.
            "FLOWDROP_EVENT_BUS": names.event_bus,
            "FLOWDROP_EVENTS_QUEUE": names.events_queue,
            "FLOWDROP_EVENTS_QUEUE_ARN": self.events_queue_arn,
        }


def create_resources(aws: AwsConfig, names: StackNames, deploy_visibility_seconds: int = 60) -> StackResources:
    """Create the stack's bucket, notification, queues, tables and role; return their addresses.

    The parts do not depend on each other, so they are made at once, one thread each (boto3 clients are
    thread-safe; moto's server answers in threads): `flowdrop up` waits for the slowest part, not their sum.
    """
    with ThreadPoolExecutor(max_workers=9, thread_name_prefix="flowdrop-resources") as pool:
        deploy = pool.submit(_create_deploy_queue, aws, names, deploy_visibility_seconds)
        task_url = pool.submit(lambda: aws.client("sqs").create_queue(QueueName=names.task_queue)["QueueUrl"])
        tables = pool.submit(_create_tables, aws, names)
        role = pool.submit(_create_role, aws, names.state_machine_role, "states.amazonaws.com")
        batch = pool.submit(_create_batch, aws, names)
        alerts = pool.submit(_create_alerts, aws, names)
        events = pool.submit(_create_events, aws, names)
        function = pool.submit(_create_task_function, aws, names)
        scheduler = pool.submit(_create_scheduler, aws, names)
    tables.result()  # raises what failed there
    (queue_url, queue_arn, dlq_url), (job_queue_arn, job_definition_arn) = deploy.result(), batch.result()
    (alerts_url, alerts_arn), (events_url, events_arn) = alerts.result(), events.result()
    return StackResources(names, queue_url, queue_arn, dlq_url, task_url.result(), role.result(), job_queue_arn,
                          job_definition_arn, function.result(), scheduler_role_arn=scheduler.result(),
                          alerts_queue_url=alerts_url, alerts_queue_arn=alerts_arn,
                          events_queue_url=events_url, events_queue_arn=events_arn)


def _create_deploy_queue(aws: AwsConfig, names: StackNames, visibility_seconds: int) -> tuple[str, str, str]:
    """The packages bucket, the deploy queue (with its dead-letter queue) its notification feeds; URLs and ARN."""
    s3, sqs = aws.client("s3"), aws.client("sqs")
    s3.create_bucket(Bucket=names.bucket)
    dlq_url = sqs.create_queue(QueueName=names.dead_letter_queue,
                               Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    # The template says 720 s (6 x the deploy Lambda's timeout, as AWS
    # advises); locally a failed package is retried sooner.
    queue_url = sqs.create_queue(QueueName=names.deploy_queue, Attributes={
        "VisibilityTimeout": str(visibility_seconds),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": _queue_arn(names, names.dead_letter_queue),
                                     "maxReceiveCount": str(MAX_RECEIVE_COUNT)}),
    })["QueueUrl"]
    queue_arn = _queue_arn(names, names.deploy_queue)
    s3.put_bucket_notification_configuration(Bucket=names.bucket, NotificationConfiguration={"QueueConfigurations": [{
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": PACKAGE_PREFIX},
                                           {"Name": "suffix", "Value": ".tar.gz"}]}},
    }]})
    return queue_url, queue_arn, dlq_url


def _create_tables(aws: AwsConfig, names: StackNames) -> None:
    """The deployments and idempotency tables."""
    ddb = aws.client("dynamodb")
    ddb.create_table(TableName=names.deployments_table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "flow", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "flow", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    ddb.create_table(TableName=names.idempotency_table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])


def _create_role(aws: AwsConfig, name: str, service: str) -> str:
    """An IAM role `service` may assume; its ARN."""
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    return str(aws.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])


# What the template's rule matches: the run ends of every state machine (the
# alerts handler ignores those that are not flowdrop deployments).
RUN_STATUS_PATTERN = {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
                      "detail": {"status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]}}


def _create_alerts(aws: AwsConfig, names: StackNames) -> tuple[str, str]:
    """The alerts queue (with its dead-letter queue) and the EventBridge rule routing run status events to it."""
    sqs, events = aws.client("sqs"), aws.client("events")
    sqs.create_queue(QueueName=names.alerts_dead_letter_queue, Attributes={"MessageRetentionPeriod": "1209600"})
    url = sqs.create_queue(QueueName=names.alerts_queue, Attributes={
        "VisibilityTimeout": "60",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": _queue_arn(names, names.alerts_dead_letter_queue),
                                     "maxReceiveCount": str(MAX_RECEIVE_COUNT)}),
    })["QueueUrl"]
    arn = _queue_arn(names, names.alerts_queue)
    # An event pattern and an SQS target: moto delivers those (EMULATOR.md); a Lambda target would break put_events.
    events.put_rule(Name=names.alerts_rule, EventPattern=json.dumps(RUN_STATUS_PATTERN), State="ENABLED")
    events.put_targets(Rule=names.alerts_rule, Targets=[{"Id": "alerts", "Arn": arn}])
    return url, arn


def _create_events(aws: AwsConfig, names: StackNames) -> tuple[str, str]:
    """The flowdrop event bus and the events queue (with its dead-letter queue) trigger rules deliver to."""
    sqs, events = aws.client("sqs"), aws.client("events")
    events.create_event_bus(Name=names.event_bus)
    sqs.create_queue(QueueName=names.events_queue + "-dlq")
    url = sqs.create_queue(QueueName=names.events_queue, Attributes={
        "VisibilityTimeout": "60",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": _queue_arn(names, names.events_queue + "-dlq"),
                                     "maxReceiveCount": str(MAX_RECEIVE_COUNT)}),
    })["QueueUrl"]
    return url, _queue_arn(names, names.events_queue)


def _create_scheduler(aws: AwsConfig, names: StackNames) -> str:
    """The flows' schedule group and the role Scheduler assumes to invoke the scheduled function; the role's ARN.

    The group must exist before a schedule is put in it (moto answers HTTP 500 otherwise, EMULATOR.md).
    """
    iam, scheduler = aws.client("iam"), aws.client("scheduler")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=names.scheduler_role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    scheduler.create_schedule_group(Name=SCHEDULE_GROUP)
    return str(role)


def task_job_environment(aws: AwsConfig) -> dict[str, str]:
    """What the task job definition adds here to a Batch container's environment: where AWS is."""
    env = {"AWS_DEFAULT_REGION": aws.region, "AWS_REGION": aws.region}
    if aws.endpoint_url:
        # boto3 reads AWS_ENDPOINT_URL itself (the bootstrap's download); flowdrop's AwsConfig its own.
        env.update({"AWS_ENDPOINT_URL": aws.endpoint_url, "FLOWDROP_AWS_ENDPOINT": aws.endpoint_url,
                    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    return env


# The task Lambda's settings: Lambda's longest timeout and largest memory (a
# local process has no memory limit; steps asking for more are still refused).
TASK_FUNCTION_TIMEOUT, TASK_FUNCTION_MEMORY = 900, 10240
TASK_FUNCTION_HANDLER = "flowdrop.runtime.lambda_task.handler"


def _create_task_function(aws: AwsConfig, names: StackNames) -> str:
    """The lambda backend's task function. Its zip holds only a marker: flowdrop and boto3 come
    from this machine's Python, as the function's bundle (flowdrop, boto3, click) gives them on AWS."""
    iam, lam = aws.client("iam"), aws.client("lambda")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=names.task_function_role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("FLOWDROP_TASK_FUNCTION", "flowdrop's task Lambda on the embedded stack\n")
    return lam.create_function(
        FunctionName=names.task_function, Runtime="python3.12", Role=role, Handler=TASK_FUNCTION_HANDLER,
        Code={"ZipFile": code.getvalue()}, Timeout=TASK_FUNCTION_TIMEOUT, MemorySize=TASK_FUNCTION_MEMORY,
        Environment={"Variables": task_job_environment(aws)},
    )["FunctionArn"]


def _create_batch(aws: AwsConfig, names: StackNames) -> tuple[str, str]:
    """The compute environment, job queue and task job definition; returns the queue's and definition's ARNs."""
    iam, batch = aws.client("iam"), aws.client("batch")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    service_role = iam.create_role(RoleName=names.batch_service_role,
                                   AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    # UNMANAGED: moto creates no instances for it, and jobs run as local processes anyway.
    environment = batch.create_compute_environment(
        computeEnvironmentName=names.compute_environment, type="UNMANAGED", state="ENABLED", serviceRole=service_role,
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName=names.job_queue, state="ENABLED", priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName=names.job_definition, type="container",
        containerProperties=container_properties(environment=task_job_environment(aws)),
    )["jobDefinitionArn"]
    return queue, definition


def _queue_arn(names: StackNames, queue: str) -> str:
    """A queue's ARN, as SQS (and moto) make it: known without asking GetQueueAttributes."""
    return f"arn:aws:sqs:{names.region}:{names.account}:{queue}"
