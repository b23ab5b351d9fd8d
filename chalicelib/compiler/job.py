"""The task job definition of the batch backend: image, bootstrap command, environment.

Owns: what every Batch task container runs, the same on AWS (the template's
job definition) and on the embedded stack (local/resources.py registers it
with moto, whose stand-in runs the command as a local process). The command
bootstraps a stock Python image from the code package, as Metaflow's does:
install boto3 and click only if the image lacks them, download the task's
code package (its S3 URL is in the task's FLOWDROP_RUN variable), extract it,
and hand over to flowdrop.runtime.job from its code/ folder, which runs the
flow's own `python flow.py step ...` with the flowdrop that deployed it.
Does not own: the per-task fields of SubmitJob (batch.py) or the task runner.
Pure: data only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"
# What the task runner needs beyond the standard library (the flow's own
# imports are the flow's business: an image that has them).
TASK_REQUIREMENTS = ("boto3", "click")

# One interpreter does it all (boto3 is imported once, for the download and
# the task's datastore alike): install what the image lacks, download the
# package with boto3 alone (flowdrop is inside it, not yet importable; the
# endpoint comes from AWS_ENDPOINT_URL when set, as boto3 reads it itself),
# extract it, and run the task from code/. The package was checked by the
# deployer; extracting still refuses anything but plain files and folders,
# absolute paths and '..' (on every Python, not only those with tarfile's
# 'data' filter). It writes the files itself: the filter's realpath() of
# every member was a third of the extraction's CPU (~25 ms of every task).
BOOTSTRAP = "\n".join([
    "import importlib.util, io, json, os, shutil, sys, tarfile, tempfile",
    f"missing = [m for m in {TASK_REQUIREMENTS!r} if importlib.util.find_spec(m) is None]",
    "if missing:",
    "    import subprocess",
    "    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '-qqq', '--no-cache-dir',",
    "                           '--disable-pip-version-check', *missing])",
    "import boto3",
    "url = json.loads(os.environ['FLOWDROP_RUN'])['code_package']",
    "bucket, _, key = url[len('s3://'):].partition('/')",
    "data = boto3.client('s3').get_object(Bucket=bucket, Key=key)['Body'].read()",
    "work = tempfile.mkdtemp(prefix='flowdrop-task-')",
    "try:",
    "    made = {work}",
    "    with tarfile.open(fileobj=io.BytesIO(data), mode='r:gz') as tar:",
    "        for member in tar:",
    "            parts = member.name.split('/')",
    "            if not (member.isreg() or member.isdir()) or member.name.startswith('/') or '..' in parts:",
    "                sys.exit(f'flowdrop task: {url}: refusing package member {member.name!r} "
    "(only plain files and folders under the package)')",
    "            path = os.path.join(work, *parts)",
    "            folder = path if member.isdir() else os.path.dirname(path)",
    "            if folder not in made:",
    "                os.makedirs(folder, exist_ok=True)",
    "                made.add(folder)",
    "            if member.isreg():",
    "                with open(path, 'wb') as out:",
    "                    out.write(tar.extractfile(member).read())",
    "    os.chdir(os.path.join(work, 'code'))",
    "    sys.path.insert(0, os.getcwd())",
    "    from flowdrop.runtime.job import main",
    "    code = main()",
    "finally:",
    "    os.chdir('/')",
    "    shutil.rmtree(work, ignore_errors=True)",
    "sys.exit(code)",
])
COMMAND = ("python", "-c", BOOTSTRAP)


def container_properties(image: str = DEFAULT_IMAGE, environment: Mapping[str, str] | None = None,
                         vcpus: str = "1", memory_mib: str = "2048", job_role_arn: str | None = None) -> dict[str, Any]:
    """RegisterJobDefinition's containerProperties for the task job definition."""
    props: dict[str, Any] = {
        "image": image,
        "command": list(COMMAND),
        "environment": [{"name": k, "value": str(v)} for k, v in sorted((environment or {}).items())],
        # The default a task gets without @resources; a step's own come as overrides.
        "resourceRequirements": [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": memory_mib}],
    }
    if job_role_arn:
        props["jobRoleArn"] = job_role_arn
    return props
