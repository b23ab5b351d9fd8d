"""Make moto's server start cheaply: the same answers, without reading botocore's data files over and over.

Owns: two caches in the moto server's process, applied before any moto
backend is imported (local/moto/main.py).
- Regions: moto asks `boto3.Session().get_available_regions(service)` when a
  backend is first made, and moto.ec2 three times at import, each time from a
  fresh session, and botocore reads the service's whole model (for the EC2
  model, megabytes of JSON) only to find its endpoint prefix. Here one shared
  endpoint table answers, with the service name as the prefix when the table
  knows it (the model is read only for the others, once).
- Models: moto's `create_loader()` makes a new botocore Loader per model it
  reads, so each one lists botocore's ~400 service folders again. Here one
  loader serves them all (its caches are what make it cheap).
Measured with py-spy on `flowdrop up`: these were about a quarter of moto's
CPU until the stack was ready (bench/e2e.py `flowdrop up until ready`).
Does not own: request handling speed (local/moto/speed.py).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

_LOCK = threading.Lock()
_APPLIED = False


def apply_patches() -> None:
    """Install both caches (idempotent); call before importing moto's backends."""
    global _APPLIED
    with _LOCK:
        if _APPLIED:
            return
        _APPLIED = True
    import boto3.session

    def get_available_regions(self: Any, service_name: str, partition_name: str = "aws",
                              allow_non_regional: bool = False) -> list[str]:
        return list(_regions(service_name, partition_name, allow_non_regional))

    def get_available_partitions(self: Any) -> list[str]:
        return list(_partitions())

    boto3.session.Session.get_available_regions = get_available_regions  # type: ignore[method-assign]
    boto3.session.Session.get_available_partitions = get_available_partitions  # type: ignore[method-assign]
    # Importing moto.core imports parts of moto.ec2, which ask for regions: the patch above goes first.
    import moto.core.loaders
    import moto.core.utils

    shared = cache(moto.core.loaders.create_loader)
    moto.core.loaders.create_loader = shared
    moto.core.utils.create_loader = shared  # bound by name at its import


@cache
def _resolver() -> Any:
    import botocore.session

    return botocore.session.get_session()._get_internal_component("endpoint_resolver")


@cache
def _partitions() -> tuple[str, ...]:
    return tuple(_resolver().get_available_partitions())


@cache
def _known_prefixes() -> frozenset[str]:
    return frozenset(name for partition in _resolver()._endpoint_data["partitions"] for name in partition["services"])


@cache
def _regions(service_name: str, partition_name: str, allow_non_regional: bool) -> tuple[str, ...]:
    """What botocore's Session.get_available_regions answers ([] for a service it does not know)."""
    from botocore.exceptions import UnknownServiceError
    from moto.core.utils import get_service_model

    prefix = service_name
    if service_name not in _known_prefixes():
        try:
            prefix = get_service_model(service_name).metadata.get("endpointPrefix", service_name)
        except UnknownServiceError:
            return ()
    return tuple(_resolver().get_available_endpoints(prefix, partition_name, allow_non_regional))
