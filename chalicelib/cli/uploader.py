"""The uploader behind `python flow.py step-functions create`: package, drop in S3, wait.

Owns, in three layers:
  * pure: the manifest, the package key, and the words printed about a
    deployment record (where a flow deploys, the create flags and alert
    targets are deploy_target.py's, re-exported here);
  * the user's side effects we mean to have: evaluating deploy-time
    parameters NOW, on the user's machine (the deployer never runs user
    code), and snapshotting the flow's directory plus flowdrop's own source;
  * I/O: the S3 upload (one PUT, so one ObjectCreated event) and polling
    the deployment record through the API, with rich progress on stderr.
Does not own: what goes into a tarball (codepackage/), the manifest's schema
(codepackage/manifest.py), or anything the deployer does with the package.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

# Re-exported: the light part of create (deploy_target.py), imported from here by callers of the uploader.
from flowdrop.cli.deploy_target import DeployOptions, DeployTarget, deploy_alerts, deployment_target  # noqa: F401
from flowdrop.codepackage.archive import PackageLimits, build_package
from flowdrop.codepackage.manifest import MANIFEST_VERSION, Manifest
from flowdrop.codepackage.snapshot import code_sha256, snapshot
from flowdrop.errors import DeployError
from flowdrop.model import names
from flowdrop.model.deployments import FINAL_STATUSES
from flowdrop.model.graph import Graph
from flowdrop.model.schedule import Schedule, schedule_from_attributes
from flowdrop.parameters import evaluate_deploy_time_parameters

PACKAGES_PREFIX = "packages/"
SDK_DIR = "flowdrop"  # where flowdrop's own source sits inside code/
DEFAULT_WAIT_SECONDS = 120.0
EXIT_FAILED, EXIT_TIMEOUT = 1, 3
# One PUT up to S3's single-object limit: a multipart upload emits two
# ObjectCreated events (EMULATOR.md), and packages are capped far below this.
_SINGLE_PUT_LIMIT = 5 * 2**30


@dataclass(frozen=True)
class PreparedDeployment:
    """A package ready to upload: its manifest, files, tarball bytes and S3 key."""

    manifest: Manifest
    files: Mapping[str, bytes]
    data: bytes
    key: str

    @property
    def code_sha256(self) -> str:
        """The package's content hash (its name in S3)."""
        return self.manifest.code_sha256


# -- pure -------------------------------------------------------------------------------


def package_key(state_machine_name: str, sha256: str) -> str:
    """`packages/<state machine name>/<sha256>.tar.gz`: where the deployer expects a package."""
    return names.package_key(PACKAGES_PREFIX, state_machine_name, sha256)


def flow_schedule(graph: Graph) -> Schedule | None:
    """The flow's @schedule as an EventBridge schedule (a bare @schedule is daily), or None."""
    deco = graph.flow_decorator("schedule")
    return schedule_from_attributes(dict(deco.attributes)) if deco is not None else None


def build_manifest(graph: Graph, flow_class: str, flow_file: str, target: DeployTarget, options: DeployOptions,
                   deploy_values: Mapping[str, Any], user: str, now: datetime, sha256: str,
                   sdk_version: str, configs: Mapping[str, Any] | None = None) -> Manifest:
    """The validated manifest of one deployment; PackageError lists every problem."""
    schedule = flow_schedule(graph)
    alerts = deploy_alerts(options)
    parameters = []
    for spec in graph.parameters:
        entry = spec.to_dict()
        if spec.deploy_time:
            entry["value"] = deploy_values[spec.name]
        parameters.append(entry)
    data = {
        "version": MANIFEST_VERSION,
        "flow_name": graph.flow_name,
        "flow_class": flow_class,
        "flow_file": flow_file,
        "state_machine_name": target.state_machine_name,
        # The path inside the package, not this machine's: the deployer
        # re-parses code/<flow_file> and compares.
        "graph": replace(graph, file=flow_file).to_dict(),
        "parameters": parameters,
        "deploy_time_values": dict(deploy_values),
        "decorators": {d.name: dict(d.attributes) for d in graph.flow_decorators},
        "schedule": schedule.to_dict() if schedule else None,
        "project": target.project,
        "branch": target.branch,
        "options": {
            "max_workers": options.max_workers,
            "workflow_timeout": options.workflow_timeout,
            "with_decorators": list(options.with_specs),
            "tags": list(options.tags),
            "backend": options.backend,
            "schedule_overlap": options.schedule_overlap,
            # Only when asked for, so a deployer from before alerts still accepts the package.
            **({"alerts": alerts.to_dict()} if alerts else {}),
            **({"distributed_map": True} if options.distributed_map else {}),
        },
        "user": user,
        "created": now.astimezone(timezone.utc).isoformat(timespec="seconds"),
        "code_sha256": sha256,
        "sdk_version": sdk_version,
        # Config values, frozen now; only when the flow has some, so other manifests keep their form.
        **({"configs": dict(configs)} if configs else {}),
    }
    return Manifest.from_dict(data)


# -- running the user's deploy-time functions and reading their directory --------------------


def sdk_files(package_dir: Path | None = None) -> dict[str, bytes]:
    """flowdrop's own .py files under `flowdrop/`, so tasks run the SDK that deployed them."""
    if package_dir is None:
        package_dir = Path(__file__).resolve().parent.parent  # flowdrop/cli/uploader.py -> flowdrop/
    files = {}
    # os.walk, pruning __pycache__ (and never following a link), not Path.rglob: create waits on this walk.
    for folder, subfolders, file_names in os.walk(package_dir):
        subfolders[:] = [d for d in subfolders if d != "__pycache__" and not os.path.islink(os.path.join(folder, d))]
        inside = Path(folder).relative_to(package_dir).as_posix()
        for name in file_names:
            path = os.path.join(folder, name)
            if name.endswith(".py") and not os.path.islink(path):
                files[f"{SDK_DIR}/{name}" if inside == "." else f"{SDK_DIR}/{inside}/{name}"] = Path(path).read_bytes()
    return dict(sorted(files.items()))


def included_files(graph: Graph, folder: Path, deploy_values: Mapping[str, Any] | None = None,
                   ) -> tuple[dict[str, bytes], dict[str, str]]:
    """Each IncludeFile default's file, read now for the package, and the deployment's default pointing to it.

    As Metaflow: the file a deployed run includes is the one there at deploy time (paths relative to `folder`,
    the working directory, as at run start).
    """
    from flowdrop.includefile import PACKAGE_FOLDER, package_reference, read_included

    files: dict[str, bytes] = {}
    defaults: dict[str, str] = {}
    for spec in graph.parameters:
        # A default path, or the one a deploy-time function gave (evaluated already, in deploy_values).
        default = (deploy_values or {}).get(spec.name) if spec.deploy_time else spec.default
        if spec.include is None or not spec.has_default or default is None:
            continue
        path = folder / str(default)
        read_included(spec, path)  # the check a run makes: readable, and text in its encoding
        inside = f"{PACKAGE_FOLDER}/{spec.name}"
        files[inside] = path.read_bytes()
        defaults[spec.name] = package_reference(inside)
    return files, defaults


def prepare_deployment(flow_cls: type, flow_file: Path, graph: Graph, options: DeployOptions, user: str,
                       now: datetime, limits: PackageLimits = PackageLimits(),
                       configs: Mapping[str, Any] | None = None) -> PreparedDeployment:
    """Everything up to the upload: target, deploy-time values, included files, snapshot, manifest, tarball."""
    from flowdrop.model.version import __version__

    target = deployment_target(graph, user, options.name, options.branch, options.production)
    values = evaluate_deploy_time_parameters(flow_cls, graph, user, configs=configs)
    flow_file = Path(flow_file)
    included, include_defaults = included_files(graph, Path.cwd(), values)
    values.update(include_defaults)
    files = snapshot(flow_file.parent, options.suffixes, limits, extra={**sdk_files(), **included})
    sha = code_sha256(files)
    manifest = build_manifest(graph, flow_cls.__name__, flow_file.name, target, options, values, user, now, sha,
                              __version__, configs)
    data = build_package(manifest.to_dict(), files)
    return PreparedDeployment(manifest, files, data, package_key(target.state_machine_name, sha))


# -- I/O: S3 and the API ---------------------------------------------------------------


def upload_package(s3: Any, bucket: str, prepared: PreparedDeployment,
                   on_progress: Callable[[int], None] | None = None) -> str:
    """PUT the package at its key; returns its s3:// URL. DeployError says what to check."""
    from boto3.exceptions import S3UploadFailedError
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, HTTPClientError

    url = f"s3://{bucket}/{prepared.key}"
    extra = {
        "ContentType": "application/gzip",
        "Metadata": {"flowdrop-code-sha256": prepared.code_sha256, "flowdrop-user": prepared.manifest.user},
    }
    config = TransferConfig(multipart_threshold=_SINGLE_PUT_LIMIT, use_threads=False)
    try:
        s3.upload_fileobj(io.BytesIO(prepared.data), bucket, prepared.key, ExtraArgs=extra, Callback=on_progress,
                          Config=config)
    except (ClientError, S3UploadFailedError) as err:
        cause = err if isinstance(err, ClientError) else err.__context__
        code = cause.response.get("Error", {}).get("Code", "") if isinstance(cause, ClientError) else ""
        if code == "NoSuchBucket":
            raise DeployError(f"cannot upload {url}: bucket {bucket!r} does not exist. Check bucket "
                              "(or $FLOWDROP_BUCKET) in the flowdrop config, or start the stack with `flowdrop up`.") from err
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise DeployError(f"cannot upload {url}: access denied ({code}). Your AWS credentials need "
                              f"s3:PutObject on arn:aws:s3:::{bucket}/{PACKAGES_PREFIX}*.") from err
        raise DeployError(f"cannot upload {url}: S3 PutObject failed: {cause or err}") from err
    except (HTTPClientError, EndpointConnectionError) as err:
        # A connection dropped or refused mid-upload, after botocore's retries. S3 stores an object only
        # once all of it arrived, so nothing half-uploaded can be deployed.
        raise DeployError(f"cannot upload {url}: the connection to S3 failed before the package was complete, "
                          f"retries included ({err}). Nothing was deployed and production is unchanged. Run the "
                          "command again; if it keeps failing, check your network and aws_endpoint in the flowdrop "
                          "config.") from err
    except BotoCoreError as err:
        raise DeployError(f"cannot upload {url}: {err}. Check aws_endpoint and region in the flowdrop config "
                          "and your AWS credentials.") from err
    return url


class DeploymentSource(Protocol):
    """What waiting needs from the API: the deployment record, or None until it exists."""

    def get_deployment(self, flow: str, code_sha256: str) -> dict[str, Any] | None: ...


def is_final_record(record: Mapping[str, Any] | None, created: str | None) -> bool:
    """True when `record` is the deployer's last word on THIS upload.

    The record under a sha is the latest for that code: after redeploying the
    same code it first shows the earlier upload's outcome. The manifest's
    `created` time, echoed in the record, tells them apart.
    """
    if record is None or record.get("status") not in FINAL_STATUSES:
        return False
    return created is None or record.get("created") in (None, created)


def wait_for_deployment(api: DeploymentSource, flow: str, sha256: str, timeout: float = DEFAULT_WAIT_SECONDS, *,
                        created: str | None = None, interval: float = 1.0, first_interval: float = 0.05,
                        backoff: float = 1.25,
                        clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                        on_poll: Callable[[float, dict[str, Any] | None], None] | None = None) -> dict[str, Any] | None:
    """Poll until this upload's record (matched by `created`) is final; None after `timeout` seconds.

    The first polls come quickly (a deploy on the embedded stack takes a few
    hundred milliseconds: polls 0.05 s apart growing by a quarter answer within
    ~0.07 s of it, where 0.1 s growing by half overshot by ~0.15 s) and back off
    by `backoff` each time to `interval` (eight polls in the first second, one a
    second from the fifth second on).
    """
    start = clock()
    delay = min(first_interval, interval)
    while True:
        record = api.get_deployment(flow, sha256)
        elapsed = clock() - start
        if on_poll is not None:
            on_poll(elapsed, record)
        if is_final_record(record, created):
            return record
        if elapsed >= timeout:
            return None
        sleep(min(delay, max(timeout - elapsed, 0.0)))
        delay = min(delay * backoff, interval)


@dataclass(frozen=True)
class DeployResult:
    """What happened: the package's URL and the final record (None: not waited for, or timed out)."""

    url: str
    record: dict[str, Any] | None
    waited: float = 0.0


def deploy(prepared: PreparedDeployment, s3: Any, bucket: str, api: DeploymentSource | None, console: Any,
           wait_timeout: float = DEFAULT_WAIT_SECONDS, *, clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> DeployResult:
    """Upload with a byte progress bar, then (with `api`) wait for the record under a spinner; both on `console`."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    size = len(prepared.data)
    columns = (TextColumn("Uploading"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("package", total=size)
        url = upload_package(s3, bucket, prepared, on_progress=lambda n: progress.advance(task, n))
    console.print(f"Uploaded {size:,} bytes to {url}", highlight=False, soft_wrap=True)
    if api is None:
        return DeployResult(url, None)
    name = prepared.manifest.state_machine_name
    waited = 0.0
    with console.status(f"Waiting for the deployer to publish {name}...") as status:

        def show(elapsed: float, record: dict[str, Any] | None) -> None:
            nonlocal waited
            waited = elapsed
            seen = ""
            if record is not None and not is_final_record(record, prepared.manifest.created):
                seen = f" (last upload of this code: {record.get('status')})"
            status.update(f"Waiting for the deployer to publish {name}... {elapsed:.0f} s{seen}")

        record = wait_for_deployment(api, name, prepared.code_sha256, wait_timeout, created=prepared.manifest.created,
                                     clock=clock, sleep=sleep, on_poll=show)
    if record is not None:
        console.print(f"Deployer answered {record.get('status')} after {waited:.0f} s", highlight=False, soft_wrap=True)
    return DeployResult(url, record, waited)
