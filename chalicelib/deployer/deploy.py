"""Deploy one dropped package: fetch, check, plan, execute, record.

Owns: deploy_package, the service behind the deploy Lambda: it reads the
object (size first), validates it into a Candidate (candidate.py), plans
the calls against what is live (plan.py), runs them (publish.py) and writes the
deployment record. Does not own: SQS batches and idempotency (sqs_events.py).

Error policy: a package that is wrong (PackageError, FlowError,
DecoratorError, CompileError, and a definition Step Functions refuses)
changes nothing live and is recorded FAILED with the precise message; the
function returns normally so the message is not retried. So is an
exception checking raised by mistake: checking is pure, so a retry would
fail the same way. An AWS failure raises DeployError so the delivery is
retried (and lands in the dead-letter queue if it keeps failing).

"Newer" is when S3 received the package (the object's LastModified, the
server's clock), never the manifest's `created`, written by the
uploader's clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowdrop.codepackage.archive import read_package
from flowdrop.deployer.candidate import Candidate, check_package
from flowdrop.deployer.clients import AWS_ERRORS, Clients, aws_error, error_code
from flowdrop.deployer.plan import UseVersion, plan_deployment
from flowdrop.deployer.publish import execute_plan, read_live
from flowdrop.deployer.records import DeploymentRecord, Release, timestamp
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.store import DeploymentStore
from flowdrop.errors import (
    CompileError,
    ConfigError,
    DecoratorError,
    DefinitionRejectedError,
    FlowError,
    PackageError,
    ParameterError,
)
from flowdrop.graph.render import render_outline
from flowdrop.model import names
from flowdrop.model.schedule import DEFAULT_OVERLAP
from flowdrop.model.deployments import ACCEPTED, DUPLICATE, FAILED, SUPERSEDED

logger = logging.getLogger(__name__)

# What a bad package raises; anything else is ours or AWS's to retry.
REJECTIONS = (PackageError, FlowError, DecoratorError, CompileError, ParameterError)


def deploy_package(bucket: str, key: str, clients: Clients, settings: DeployerSettings,
                   now: datetime) -> DeploymentRecord:
    """Deploy the package at s3://bucket/key and return the record written for it."""
    deployed_at = timestamp(now)
    store = DeploymentStore(clients.dynamodb, settings.deployments_table)
    try:
        flow, sha = names.parse_package_key(settings.package_prefix, key)
    except PackageError as err:
        # Without a flow and a sha there is nowhere to record it, and nobody polls for it.
        logger.warning("ignoring s3://%s/%s: %s", bucket, key, err)
        return DeploymentRecord(flow="", code_sha256="", status=FAILED, message=str(err), deployed_at=deployed_at,
                                package_key=key)
    data: bytes | None = None
    try:
        fetched = fetch_package(clients.s3, bucket, key, settings.max_package_bytes)
        data, uploaded = fetched.data, fetched.uploaded or now
        candidate = _check(bucket, key, data, settings, uploaded)
        record, acted = _publish(candidate, clients, store, settings, deployed_at, uploaded)
    except (*REJECTIONS, DefinitionRejectedError) as err:
        record = _rejected(flow, sha, key, str(err), deployed_at, data, settings)
        logger.info("rejected s3://%s/%s: %s", bucket, key, err)
        store.put_record(record)
        return record
    if not acted and _same_upload_again(record, store):
        # The same upload seen again (the second event of a multipart upload,
        # a redelivery after the idempotency record expired): keep its record.
        logger.info("s3://%s/%s was already deployed from this very upload", bucket, key)
        return store.get_record(record.flow, record.code_sha256) or record
    store.put_record(record)
    logger.info("deployed s3://%s/%s: %s %s", bucket, key, record.status, record.message)
    return record


@dataclass(frozen=True)
class PackageObject:
    """A package as S3 holds it: its bytes and when S3 received them (None if S3 did not say)."""

    data: bytes
    uploaded: datetime | None


def fetch_package(s3: Any, bucket: str, key: str, max_bytes: int) -> PackageObject:
    """The object's bytes and upload time; PackageError when it is too big or gone (checked before reading it)."""
    where = f"s3://{bucket}/{key}"
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except AWS_ERRORS as err:
        if error_code(err) in ("NoSuchKey", "404"):
            raise PackageError(f"package {where}: no longer exists; upload it again") from err
        raise aws_error("S3", "GetObject", where, err) from err
    body = response["Body"]
    try:
        size = int(response.get("ContentLength", 0))
        if size > max_bytes:
            raise PackageError(f"package {where}: {size} bytes exceeds the limit of {max_bytes} bytes; "
                               "keep data out of the code package")
        data = body.read(max_bytes + 1)
    except AWS_ERRORS as err:
        raise aws_error("S3", "GetObject", where, err) from err
    finally:
        body.close()
    if len(data) > max_bytes:
        raise PackageError(f"package {where}: more than the limit of {max_bytes} bytes")
    return PackageObject(data, response.get("LastModified"))


def _check(bucket: str, key: str, data: bytes, settings: DeployerSettings, uploaded: datetime) -> Candidate:
    try:
        return check_package(bucket, key, data, settings, uploaded=uploaded)
    except REJECTIONS:
        raise
    except Exception as err:  # noqa: BLE001
        # check_package is pure (bytes in, data out): an exception it did not
        # mean to raise fails the same way on every retry, so retrying would
        # only fill the dead-letter queue and leave the uploader waiting for a
        # record that never comes. Record it FAILED; the traceback goes to the log.
        logger.exception("checking s3://%s/%s failed unexpectedly", bucket, key)
        text = str(err)
        text = text if len(text) <= 300 else text[:300] + "..."
        raise PackageError(f"package s3://{bucket}/{key}: the deployer could not check it ({type(err).__name__}: "
                           f"{text}); nothing was deployed. This is a flowdrop bug: please report it with the "
                           "package.") from err


def candidate_release(candidate: Candidate, deployed_at: str, uploaded: datetime) -> Release:
    """The release `candidate` would become (version fields empty until published)."""
    manifest = candidate.manifest
    return Release(
        flow=candidate.flow,
        flow_name=candidate.graph.flow_name,
        version=0,
        version_arn="",
        code_sha256=manifest.code_sha256,
        created=timestamp(datetime.fromisoformat(manifest.created)),
        fingerprint=candidate.fingerprint,
        parameters=manifest.parameters,
        deploy_time_values=manifest.deploy_time_values,
        schedule=candidate.schedule.to_dict() if candidate.schedule else None,
        overlap=manifest.options.get("schedule_overlap", DEFAULT_OVERLAP),
        steps=[node.name for node in candidate.graph.nodes],
        graph=render_outline(candidate.graph),
        alerts=manifest.options.get("alerts") or None,
        package_key=candidate.key,
        user=manifest.user,
        deployed_at=deployed_at,
        uploaded=timestamp(uploaded),
        triggers=candidate.triggers.to_dict() if candidate.triggers else None,
    )


def _publish(candidate: Candidate, clients: Clients, store: DeploymentStore, settings: DeployerSettings,
             deployed_at: str, uploaded: datetime) -> tuple[DeploymentRecord, bool]:
    """The record of publishing `candidate`, and whether any call was made."""
    manifest = candidate.manifest
    machine_arn = names.state_machine_arn(settings.partition, settings.aws.region, settings.account_id, candidate.flow)
    release = candidate_release(candidate, deployed_at, uploaded)
    events = settings.event_target()
    if candidate.triggers and not events.queue_arn:
        # Refused before any call: production must not move without its triggers.
        raise ConfigError("the deployer is not configured for @trigger flows: set FLOWDROP_EVENTS_QUEUE_ARN "
                          "(the queue trigger rules deliver to)")
    live = read_live(clients, store, candidate.flow, machine_arn, settings.schedule_group, events)
    expression = candidate.schedule.expression if candidate.schedule else None
    plan = plan_deployment(release, candidate.definition, live, machine_arn=machine_arn,
                           role_arn=settings.state_machine_role_arn, target=settings.schedule_target(),
                           events=events)
    outcome = execute_plan(plan.actions, clients, store)
    common = dict(flow=candidate.flow, code_sha256=manifest.code_sha256, flow_name=candidate.graph.flow_name,
                  schedule=expression, schedule_timezone=candidate.schedule.timezone if candidate.schedule else None,
                  user=manifest.user, created=manifest.created, deployed_at=deployed_at,
                  package_key=candidate.key, alias_arn=names.alias_arn(machine_arn))
    notes = "; ".join(candidate.notes)
    if outcome.superseded:
        production = store.production(candidate.flow)
        current = production.release.version if production else "?"
        return DeploymentRecord(status=SUPERSEDED, version=names.version_number(outcome.version_arn or ":0"),
                                version_arn=outcome.version_arn, **common,
                                message=f"a newer package reached production first; production stays on version "
                                        f"{current}"), True
    if plan.status in (DUPLICATE, SUPERSEDED):
        current = live.production.release if live.production else None
        return DeploymentRecord(status=plan.status, version=current.version if current else None,
                                version_arn=current.version_arn if current else None, **common,
                                message=_join(plan.reason, notes)), False
    assert outcome.version_arn is not None
    version = names.version_number(outcome.version_arn)
    # Only UseVersion: this upload had been deployed in full (a redelivery), nothing was called.
    acted = any(not isinstance(action, UseVersion) for action in plan.actions)
    return DeploymentRecord(status=plan.status, version=version, version_arn=outcome.version_arn, **common,
                            message=_join(f"version {version} is production", notes)), acted


def _same_upload_again(record: DeploymentRecord, store: DeploymentStore) -> bool:
    # Nothing was done, and the code's record comes from a manifest with the
    # same creation time: the same upload, already answered.
    earlier = store.get_record(record.flow, record.code_sha256)
    return earlier is not None and earlier.status in (ACCEPTED, DUPLICATE, SUPERSEDED) \
        and earlier.created == record.created


def _rejected(flow: str, sha: str, key: str, message: str, deployed_at: str, data: bytes | None,
              settings: DeployerSettings) -> DeploymentRecord:
    user = created = flow_name = None
    if data is not None:
        # Best effort: who uploaded it and when, if the manifest can be read at all.
        try:
            raw = read_package(data, settings.package_limits).manifest
            user, created, flow_name = (v if isinstance(v, str) else None
                                        for v in (raw.get("user"), raw.get("created"), raw.get("flow_name")))
        except REJECTIONS:
            pass
    return DeploymentRecord(flow=flow, code_sha256=sha, status=FAILED, message=message, flow_name=flow_name,
                            user=user, created=created, deployed_at=deployed_at, package_key=key)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
