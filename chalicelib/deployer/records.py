"""Deployment records and the production pointer, as data.

Owns: the DeploymentRecord (what happened to one package: ACCEPTED, FAILED,
SUPERSEDED, DUPLICATE; a rollback is recorded as ROLLBACK), the Release
(a published version and what triggering or rolling back to it needs) and
Production (the release behind the alias). Does not own: the table they
are kept in (store.py) or deciding what to record (deploy.py, flows.py).
Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

PRODUCTION = "production"


@dataclass(frozen=True)
class DeploymentRecord:
    """What the deployer did with one package (or one rollback)."""

    flow: str  # the state machine name
    code_sha256: str
    status: str
    message: str = ""
    flow_name: str | None = None
    version: int | None = None
    version_arn: str | None = None
    alias_arn: str | None = None
    schedule: str | None = None  # the schedule expression, when scheduled
    schedule_timezone: str | None = None  # its IANA time zone (None: UTC)
    user: str | None = None
    created: str | None = None  # the manifest's time: the uploader matches its upload by it
    deployed_at: str = ""
    package_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the API's deployment resource)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeploymentRecord:
        """Inverse of to_dict (unknown keys ignored)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class Release:
    """A published state machine version and what triggering, describing or restoring it needs."""

    flow: str
    flow_name: str
    version: int
    version_arn: str
    code_sha256: str
    created: str  # the manifest's, as the uploader's clock wrote it: shown, never compared
    fingerprint: str
    parameters: list[dict[str, Any]] = field(default_factory=list)  # manifest parameters
    deploy_time_values: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] | None = None  # cron.Schedule.to_dict()
    overlap: str = "skip"  # what a tick does while an earlier scheduled run is going (model.schedule.OVERLAPS)
    steps: list[str] = field(default_factory=list)
    graph: list[dict[str, Any]] = field(default_factory=list)  # graph.render.render_outline: what the page draws
    alerts: dict[str, Any] | None = None  # model.alerts.Alerts.to_dict(); None: no alerts
    package_key: str = ""
    user: str = ""
    deployed_at: str = ""
    uploaded: str = ""  # when the package reached S3 (its LastModified): what "newer" means
    triggers: dict[str, Any] | None = None  # model.triggers.FlowTriggers.to_dict(), for @trigger flows

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Release:
        """Inverse of to_dict (unknown keys ignored)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class Production:
    """The production pointer: the release behind the alias and the newest upload time accepted."""

    release: Release
    newest_uploaded: str


def timestamp(moment: datetime) -> str:
    """A UTC time as fixed-width ISO 8601, so records sort and compare as strings."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


