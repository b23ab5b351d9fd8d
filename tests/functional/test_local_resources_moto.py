"""The embedded stack's resources made at once (local/resources.py) and moto's cheaper start (local/moto/startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from flowdrop.aws import AwsConfig
from flowdrop.local.moto.server import start_moto_server
from flowdrop.local.resources import StackNames, create_resources


@pytest.fixture(scope="module")
def fresh_aws():
    """A moto server of its own: the stack's names are fixed, so the session's server must not hold them."""
    server = start_moto_server()
    yield AwsConfig(endpoint_url=server.endpoint_url)
    server.stop()


def test_resources_made_in_parallel_have_the_arns_sqs_gives_them(fresh_aws):
    names = StackNames()
    made = create_resources(fresh_aws, names)
    sqs = fresh_aws.client("sqs")
    for url, arn in ((made.deploy_queue_url, made.deploy_queue_arn), (made.alerts_queue_url, made.alerts_queue_arn),
                     (made.events_queue_url, made.events_queue_arn)):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"])["Attributes"]
        assert attributes["QueueArn"] == arn
        dead_letters = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
        assert sqs.get_queue_url(QueueName=dead_letters.rsplit(":", 1)[1])["QueueUrl"]  # the DLQ it names exists
    notification = fresh_aws.client("s3").get_bucket_notification_configuration(Bucket=names.bucket)
    assert notification["QueueConfigurations"][0]["QueueArn"] == made.deploy_queue_arn
    batch = fresh_aws.client("batch")
    assert batch.describe_job_queues(jobQueues=[made.job_queue_arn])["jobQueues"][0]["state"] == "ENABLED"
    assert fresh_aws.client("lambda").get_function(FunctionName=names.task_function)["Configuration"]["FunctionArn"] \
        == made.task_function_arn
    assert set(fresh_aws.client("dynamodb").list_tables()["TableNames"]) >= {
        names.deployments_table, names.idempotency_table}


STARTUP_CHECK = """
import json, boto3
services = ["ec2", "stepfunctions", "s3", "sqs", "lambda", "batch", "scheduler", "events", "iam", "dynamodb",
            "logs", "config", "no-such-service"]
def answers():
    return {s: {p: boto3.Session().get_available_regions(s, partition_name=p) for p in ("aws", "aws-cn", "aws-us-gov")}
            for s in services}, boto3.Session().get_available_partitions()
stock = answers()
from flowdrop.local.moto.startup import apply_patches
apply_patches()
from moto.core.utils import create_loader
print(json.dumps({"same": answers() == stock, "one_loader": create_loader() is create_loader()}))
"""


def test_moto_startup_caches_answer_as_botocore_does():
    # In a process of its own: the patch is process-wide, as in the moto server's process.
    done = subprocess.run([sys.executable, "-c", STARTUP_CHECK], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"same": True, "one_loader": True}


OFFERINGS_CHECK = """
import json
import moto.ec2.models.instance_types as stock_module
stock = {t: {r: list(o) for r, o in regions.items()} for t, regions in stock_module.INSTANCE_TYPE_OFFERINGS.items()}
import moto.ec2.models.availability_zones_and_regions as stock_zones
def region_list(zones):
    return [(r.name, r.endpoint, r.opt_in_status) for r in zones.RegionsAndZonesBackend.regions]
stock_regions = region_list(stock_zones)
""" + """
import sys
for name in [m for m in sys.modules if m.startswith("moto.ec2") or m.startswith("moto.batch")]:
    del sys.modules[name]
from flowdrop.local.moto.startup import LazyOfferings, apply_patches
apply_patches()
import moto.ec2.models.instance_types as patched_module
import moto.ec2.models.instances as instances
import boto3, moto.core.base_backend, moto.ec2.models.availability_zones_and_regions as zones
regions = region_list(zones) == stock_regions and len(stock_regions) > 30
sessions_back = zones.Session is moto.core.base_backend.Session is boto3.Session is boto3.session.Session
offerings = patched_module.INSTANCE_TYPE_OFFERINGS
lazy = all(type(regions) is LazyOfferings for regions in offerings.values())
shared = instances.INSTANCE_TYPE_OFFERINGS is offerings
unread = sum(len(regions._files) for regions in offerings.values())
one = offerings["region"]["eu-west-1"] == stock["region"]["eu-west-1"]
missing = offerings["region"].get("mars-1", "none")
same = {t: {r: list(o) for r, o in regions.items()} for t, regions in offerings.items()} == stock
print(json.dumps({"lazy": lazy, "shared": shared, "nothing_read_at_import": unread == sum(map(len, stock.values())) > 0,
                  "one": one, "missing": missing, "same": same, "types": list(offerings) == list(stock),
                  "regions": regions, "sessions_back": sessions_back}))
"""


def test_moto_startup_imports_ec2_cheaply_with_the_same_offerings_and_regions():
    # Canary: fails when stock moto changes how moto.ec2 loads its offering files or region list (then redo the patch).
    done = subprocess.run([sys.executable, "-c", OFFERINGS_CHECK], capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {"lazy": True, "shared": True, "nothing_read_at_import": True, "one": True, "missing": "none",
                      "same": True, "types": True, "regions": True, "sessions_back": True}


def test_ec2_instance_type_offerings_over_http_as_stock_moto_has_them(fresh_aws):
    from moto.utilities.utils import load_resource

    import boto3

    ec2 = boto3.client("ec2", region_name="eu-west-1", endpoint_url=fresh_aws.endpoint_url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    answered = ec2.describe_instance_type_offerings(LocationType="availability-zone")["InstanceTypeOfferings"]
    stock = load_resource("ec2/resources/instance_type_offerings/availability-zone/eu-west-1.json")
    assert sorted((o["InstanceType"], o["Location"]) for o in answered) == \
        sorted((o["InstanceType"], o["Location"]) for o in stock)
    assert {o["LocationType"] for o in answered} == {"availability-zone"}
    regions = {r["RegionName"]: (r["Endpoint"], r["OptInStatus"]) for r in ec2.describe_regions(AllRegions=True)["Regions"]}
    assert regions["eu-west-1"] == ("ec2.eu-west-1.amazonaws.com", "opt-in-not-required")
    assert regions["cn-north-1"] == ("ec2.cn-north-1.amazonaws.com.cn", "opt-in-not-required")
