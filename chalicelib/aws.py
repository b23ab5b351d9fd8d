"""The one place boto3 clients are made.

Owns: turning an AwsConfig (endpoint, region, credentials for the embedded
stack) into boto3 clients with sane retries. Everything else receives ready
clients as arguments, so the embedded stack and AWS differ only here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_REGION = "us-east-1"
# Clients come from boto3's default session, shared by the process: a fresh
# session per client reloads the service models each time (about 100 ms per
# client, paid by every Batch and Lambda task). Sessions are not thread-safe
# for making clients, so that happens under a lock; clients themselves are.
_SESSION_LOCK = threading.Lock()


@dataclass(frozen=True)
class AwsConfig:
    """Where AWS is: a region and, for the embedded stack, an endpoint URL."""

    region: str = DEFAULT_REGION
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AwsConfig:
        """Read FLOWDROP_AWS_ENDPOINT / AWS_REGION (or AWS_DEFAULT_REGION) from the environment."""
        env = os.environ if env is None else env
        return cls(
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            endpoint_url=env.get("FLOWDROP_AWS_ENDPOINT") or None,
        )

    def client(self, service: str) -> Any:
        """A boto3 client for `service` at this endpoint."""
        import boto3  # imported here: the SDK's local runs never pay for boto3
        from botocore.config import Config

        kwargs: dict[str, Any] = {
            "region_name": self.region,
            "config": Config(retries={"max_attempts": 5, "mode": "standard"}),
        }
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
            # The embedded stack accepts any credentials; never pick up a real
            # account's keys when talking to it.
            kwargs["aws_access_key_id"] = self.access_key_id or "testing"
            kwargs["aws_secret_access_key"] = self.secret_access_key or "testing"
        elif self.access_key_id:
            kwargs["aws_access_key_id"] = self.access_key_id
            kwargs["aws_secret_access_key"] = self.secret_access_key
        with _SESSION_LOCK:
            if boto3.DEFAULT_SESSION is None:
                boto3.setup_default_session()
            return boto3.DEFAULT_SESSION.client(service, **kwargs)
