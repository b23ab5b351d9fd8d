"""Client-side configuration: where the datastore, the bucket and the API are.

Owns: reading the small config file that `flowdrop up` (or a platform
engineer) writes, with environment variables taking precedence (read once at
an entry point into a frozen ClientConfig and passed down), and who the user
is (user_name: `current`, the client's default namespace, run records and
deployments all ask it).

File: $FLOWDROP_CONFIG, else ~/.flowdrop/config.json. Keys (all optional):
  datastore            local runs' datastore: a folder or s3://bucket/prefix
                       (default: .flowdrop in the working directory)
  production_datastore where production runs keep artifacts (s3://...)
  bucket               the deployer's bucket (packages are dropped here)
  aws_endpoint         endpoint URL of the embedded stack's AWS (none on AWS)
  region               AWS region
  api_url              the deployer's HTTPS API base URL
  api_token            bearer token for that API
Environment: FLOWDROP_DATASTORE, FLOWDROP_PRODUCTION_DATASTORE,
FLOWDROP_BUCKET, FLOWDROP_AWS_ENDPOINT, AWS_REGION, FLOWDROP_API_URL,
FLOWDROP_API_TOKEN.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flowdrop.aws import DEFAULT_REGION, AwsConfig
from flowdrop.errors import ConfigError

_ENV_KEYS = {
    "datastore": "FLOWDROP_DATASTORE",
    "production_datastore": "FLOWDROP_PRODUCTION_DATASTORE",
    "bucket": "FLOWDROP_BUCKET",
    "aws_endpoint": "FLOWDROP_AWS_ENDPOINT",
    "region": "AWS_REGION",
    "api_url": "FLOWDROP_API_URL",
    "api_token": "FLOWDROP_API_TOKEN",
}


@dataclass(frozen=True)
class ClientConfig:
    """Where a user's commands find flowdrop's storage and services."""

    datastore: str = ".flowdrop"
    production_datastore: str | None = None
    bucket: str | None = None
    aws_endpoint: str | None = None
    region: str = DEFAULT_REGION
    api_url: str | None = None
    api_token: str | None = None
    source: str | None = None

    @property
    def aws(self) -> AwsConfig:
        """The AWS endpoint this config points at."""
        return AwsConfig(region=self.region, endpoint_url=self.aws_endpoint)

    def require(self, *keys: str) -> None:
        """Fail with a clear message when a needed setting is missing."""
        missing = [k for k in keys if not getattr(self, k)]
        if missing:
            where = self.source or default_config_path()
            names = ", ".join(f"{k} (or ${_ENV_KEYS[k]})" for k in missing)
            raise ConfigError(
                f"flowdrop is not configured for this: missing {names} in {where}. "
                "Start the embedded stack with `flowdrop up`, or write the config file."
            )


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """The config file's path: $FLOWDROP_CONFIG or ~/.flowdrop/config.json."""
    env = os.environ if env is None else env
    if env.get("FLOWDROP_CONFIG"):
        return Path(env["FLOWDROP_CONFIG"])
    return Path.home() / ".flowdrop" / "config.json"


def load_config(env: Mapping[str, str] | None = None) -> ClientConfig:
    """Read the config file (if any), then let environment variables override it."""
    env = os.environ if env is None else env
    path = default_config_path(env)
    values: dict[str, str] = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ConfigError(f"{path}: not valid JSON: {err}") from err
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a JSON object")
        values.update({k: v for k, v in data.items() if k in _ENV_KEYS and v})
    for key, var in _ENV_KEYS.items():
        if env.get(var):
            values[key] = env[var]
    config = ClientConfig(**values, source=str(path))
    return config


def write_config(path: Path, config: ClientConfig) -> None:
    """Write `config` as the file load_config reads (used by `flowdrop up`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: getattr(config, k) for k in _ENV_KEYS if getattr(config, k)}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def user_name() -> str:
    """Who runs, deploys or reads: $FLOWDROP_USER, else $USER / $USERNAME, else the login name (Metaflow's rule)."""
    name = os.environ.get("FLOWDROP_USER") or os.environ.get("USER") or os.environ.get("USERNAME")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
    return name
