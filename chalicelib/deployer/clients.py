"""The boto3 clients the deployer uses, made once per container, and AWS error translation.

Owns: the Clients bundle handed to every deployer service, and turning a
botocore error into a DeployError that names the AWS operation and the
resource. Does not own: how a client is configured (aws.py does that, for
the embedded stack and AWS alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from flowdrop.aws import AwsConfig
from flowdrop.errors import DeployError

# What an AWS call can raise: a service error or a transport/parameter error.
AWS_ERRORS = (ClientError, BotoCoreError)


@dataclass(frozen=True)
class Clients:
    """One client per service the deployer talks to."""

    s3: Any
    sfn: Any
    events: Any
    dynamodb: Any
    scheduler: Any = None  # EventBridge Scheduler: the flows' schedules
    sns: Any = None  # run alerts to SNS topics (deployer/alerts.py)

    @classmethod
    def from_config(cls, aws: AwsConfig) -> Clients:
        """Clients for the endpoint and region of `aws`."""
        return cls(s3=aws.client("s3"), sfn=aws.client("stepfunctions"), events=aws.client("events"),
                   dynamodb=aws.client("dynamodb"), scheduler=aws.client("scheduler"),
                   sns=aws.client("sns"))


def error_code(err: BaseException) -> str:
    """The AWS error code of a ClientError ('' for anything else)."""
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code", ""))
    return ""


def aws_error(service: str, operation: str, resource: str, err: BaseException) -> DeployError:
    """A DeployError naming the call that failed and on what."""
    return DeployError(f"{service} {operation} on {resource} failed: {err}")
