"""`make aws-install` (issue 12 item 4): the README's install commands for one stage, with overrides the template takes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VARS = ["STAGE=prod", "ARTIFACTS=art-bucket", "SUBNETS=subnet-1,subnet-2", "SECURITY_GROUPS=sg-1", "TOKEN=s3cret"]


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_aws_install_packages_deploys_and_writes_the_config_for_its_stage():
    done = make("-n", "aws-install", *VARS)
    assert done.returncode == 0, done.stderr
    commands = done.stdout.replace("\\\n", " ")
    assert ".venv/bin/chalice package --stage prod --merge-template .chalice/resources.json out/prod/" in commands
    assert "--s3-bucket art-bucket" in commands
    assert "--stack-name flowdrop-prod" in commands
    assert "FLOWDROP_API_TOKEN=s3cret .venv/bin/flowdrop aws config --stack flowdrop-prod" in commands
    overrides = re.search(r"--parameter-overrides (.*?)\n", commands).group(1).split()
    given = {item.split("=", 1)[0] for item in overrides if "=" in item and not item.startswith("$")}
    assert given == {"Stage", "Subnets", "SecurityGroups", "ApiTokenHashes"}
    # Every override is a parameter of the merged template.
    template = json.loads((ROOT / ".chalice" / "resources.json").read_text())
    assert given <= set(template["Parameters"])


def test_aws_install_names_what_it_needs():
    done = make("aws-install", "STAGE=dev")
    assert done.returncode != 0
    assert "aws-install needs ARTIFACTS, SUBNETS, SECURITY_GROUPS and TOKEN" in done.stdout
