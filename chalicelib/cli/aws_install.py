"""`flowdrop aws config --stack NAME`: the client config of a deployer installed on AWS, from its stack.

Owns: reading the CloudFormation stack's outputs (Chalice's EndpointURL,
the template's PackagesBucketName and DatastoreRoot) into a ClientConfig and
writing it where every flowdrop command reads it. Pure part:
config_from_outputs. Does not own: creating the stack (README: `chalice
package` plus `aws cloudformation deploy`) or the config file format
(config.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowdrop.config import ClientConfig
from flowdrop.errors import ConfigError

REQUIRED_OUTPUTS = ("EndpointURL", "PackagesBucketName", "DatastoreRoot")


def config_from_outputs(stack: str, outputs: Mapping[str, str], region: str, api_token: str | None) -> ClientConfig:
    """The client config of the deployer whose stack has these outputs; ConfigError names what is missing."""
    missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
    if missing:
        raise ConfigError(f"stack {stack!r} has no output(s) {', '.join(missing)}: is it a flowdrop deployer "
                          "packaged with `chalice package --merge-template .chalice/resources.json`?")
    return ClientConfig(production_datastore=outputs["DatastoreRoot"], bucket=outputs["PackagesBucketName"],
                        region=region, api_url=outputs["EndpointURL"].rstrip("/"), api_token=api_token)


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    """OutputKey -> OutputValue of a deployed stack; ConfigError when it does not exist or is not ready."""
    try:
        (found,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except Exception as err:  # noqa: BLE001 - botocore's ClientError for a missing stack, named below
        raise ConfigError(f"stack {stack!r}: cannot describe it ({err})") from err
    status = found.get("StackStatus", "")
    if not status.endswith("_COMPLETE") or "ROLLBACK" in status or "DELETE" in status:
        raise ConfigError(f"stack {stack!r} is {status}, not deployed: wait for it, or fix it and deploy again")
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
