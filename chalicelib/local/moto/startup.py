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
- EC2 instance-type offerings: importing moto.ec2 (which moto.batch does)
  reads ~95 gzipped JSON files, one per region and location type (~0.15 s
  alone, ~0.5 s on a loaded machine), that only EC2's RunInstances,
  DescribeInstanceTypeOfferings and DescribeSpotPriceHistory read. Here each
  region's file is read the first time one of those asks for it, with the
  same contents (moto's `LocationType` key added as moto does).
- EC2's region list: moto.ec2's RegionsAndZonesBackend asks three fresh
  `boto3.Session()`s for regions in its class body; each session costs
  ~0.06 s idle (~0.2 s loaded) to build its event handlers, only to answer
  from the endpoint table. While moto.ec2 is imported here, its module gets a
  stand-in `Session` that answers from the shared table (the same answers,
  the regions patch above); the real class is put back right after.
Measured with py-spy on `flowdrop up`: the first two were about a quarter of moto's
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
    _import_ec2_cheaply()


OFFERINGS_DIR = "ec2/resources/instance_type_offerings"  # moto.ec2.models.instance_types' `offerings_path`


class LazyOfferings(dict):
    """One location type's {region: [offering, ...]}: a region's file is read on first look-up.

    moto reads these dicts only with `[region]` and `.get(region, default)` (ec2/models/instances.py,
    spot_requests.py, instance_types.py); every dict method that reads goes through `_load` here.
    """

    def __init__(self, location_type: str, files: dict[str, str]):
        super().__init__()
        self.location_type = location_type
        self._files = dict(files)  # region -> resource path under moto/
        self._lock = threading.Lock()

    def _load(self, region: Any) -> None:
        if region not in self._files:
            return
        from moto.utilities.utils import load_resource

        with self._lock:
            path = self._files.pop(region, None)
            if path is not None:
                offerings = load_resource(path)
                for offering in offerings:
                    offering["LocationType"] = self.location_type
                dict.__setitem__(self, region, offerings)

    def _load_all(self) -> None:
        for region in list(self._files):
            self._load(region)

    def __getitem__(self, region: Any) -> Any:
        self._load(region)
        return dict.__getitem__(self, region)

    def get(self, region: Any, default: Any = None) -> Any:
        self._load(region)
        return dict.get(self, region, default)

    def __contains__(self, region: object) -> bool:
        return region in self._files or dict.__contains__(self, region)

    def __len__(self) -> int:
        return len(self._files) + dict.__len__(self)

    def __iter__(self) -> Any:
        self._load_all()
        return dict.__iter__(self)

    def keys(self) -> Any:
        self._load_all()
        return dict.keys(self)

    def values(self) -> Any:
        self._load_all()
        return dict.values(self)

    def items(self) -> Any:
        self._load_all()
        return dict.items(self)


class RegionsOnlySession:
    """What moto.ec2's class body asks a boto3 Session: regions and partitions, from the shared endpoint table."""

    def get_available_regions(self, service_name: str, partition_name: str = "aws",
                              allow_non_regional: bool = False) -> list[str]:
        return list(_regions(service_name, partition_name, allow_non_regional))

    def get_available_partitions(self) -> list[str]:
        return list(_partitions())


def _import_ec2_cheaply() -> None:
    """Import moto.ec2 without reading the offering files (LazyOfferings in their place) and without building
    boto3 sessions for its region list (RegionsOnlySession while it imports)."""
    import os
    import sys

    import boto3

    import moto.utilities.utils as moto_utils

    stock_load_resource = moto_utils.load_resource
    skipped: dict[str, dict[str, str]] = {}

    def load_resource(resource: str) -> Any:
        parts = resource.replace(os.sep, "/").split("/")
        if "/".join(parts[:-2]) == OFFERINGS_DIR:
            skipped.setdefault(parts[-2], {})[parts[-1].split(".")[0]] = resource
            return []
        return stock_load_resource(resource)

    stock_session = boto3.Session
    moto_utils.load_resource = load_resource
    boto3.Session = RegionsOnlySession  # type: ignore[misc,assignment]
    try:
        import moto.ec2.models.instance_types as instance_types  # binds load_resource by name, at import
    finally:
        moto_utils.load_resource = stock_load_resource
        boto3.Session = stock_session  # type: ignore[misc]
        for module in list(sys.modules.values()):  # whoever bound the stand-in by name gets the real class
            if getattr(module, "Session", None) is RegionsOnlySession:
                module.Session = stock_session  # type: ignore[attr-defined]
    instance_types.load_resource = stock_load_resource
    offerings = instance_types.INSTANCE_TYPE_OFFERINGS  # the object moto's modules bound by name
    for location_type, files in skipped.items():
        offerings[location_type] = LazyOfferings(location_type, files)


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
