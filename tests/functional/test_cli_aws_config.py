"""`flowdrop aws config --stack NAME` against CloudFormation on the session's moto server."""

from __future__ import annotations

import json

from click.testing import CliRunner

from flowdrop.cli.operator import cli


def _stack(aws, name: str, outputs: dict[str, str]) -> None:
    template = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name}}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
    cloudformation = aws.client("cloudformation")
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    assert cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def _run(aws, *args: str, token: str | None = None):
    env = {"FLOWDROP_AWS_ENDPOINT": aws.endpoint_url, "AWS_REGION": "us-east-1", "FLOWDROP_API_TOKEN": token}
    return CliRunner().invoke(cli, ["aws", "config", *args], env=env)


def test_writes_the_client_config_from_the_stacks_outputs(aws, unique_name, tmp_path):
    _stack(aws, unique_name, {"EndpointURL": "https://abc.execute-api.us-east-1.amazonaws.com/api/",
                              "PackagesBucketName": f"flowdrop-1-us-east-1-{unique_name}",
                              "DatastoreRoot": f"s3://flowdrop-1-us-east-1-{unique_name}/data"})
    path = tmp_path / "config.json"
    result = _run(aws, "--stack", unique_name, "--output", str(path), token="s3cret")
    assert result.exit_code == 0, result.output
    written = json.loads(path.read_text())
    assert written == {"api_url": "https://abc.execute-api.us-east-1.amazonaws.com/api", "api_token": "s3cret",
                       "datastore": ".flowdrop",
                       "bucket": f"flowdrop-1-us-east-1-{unique_name}", "region": "us-east-1",
                       "production_datastore": f"s3://flowdrop-1-us-east-1-{unique_name}/data"}
    assert f"Wrote {path}" in result.output


def test_a_stack_that_is_not_a_deployer_or_does_not_exist_is_named(aws, unique_name, tmp_path):
    _stack(aws, unique_name, {"EndpointURL": "https://x/api"})
    path = tmp_path / "config.json"
    result = _run(aws, "--stack", unique_name, "--output", str(path))
    assert result.exit_code != 0 and not path.exists()
    assert "no output(s) PackagesBucketName, DatastoreRoot" in result.output
    missing = _run(aws, "--stack", f"{unique_name}-nope", "--output", str(path))
    assert missing.exit_code != 0 and f"stack '{unique_name}-nope': cannot describe it" in missing.output
