"""The moto server's speed patches (local/moto/speed.py): shared clients and parsed JSONPaths.

In this process (the patches are plain functions), plus canaries that fail once
stock moto caches either itself, so that patch can go. That Step Functions still
runs with them is shown by every e2e test: the embedded stack's moto applies them.
"""

from __future__ import annotations

import inspect
from concurrent.futures import ThreadPoolExecutor

from flowdrop.local.moto import speed


def test_stock_moto_still_makes_a_client_per_call():
    # Canary: when this fails, moto reuses its clients and patch (1) can go.
    source = inspect.getsource(speed.stock_client_for())
    assert "return boto3.client(" in source and "cache" not in source


def test_stock_moto_still_parses_each_path_per_evaluation():
    # Canary: when this fails, moto (or jsonpath_ng) caches parsed paths and patch (2) can go.
    parsers = speed.stock_parsers()
    assert not hasattr(parsers["json_path"], "cache_info") and not hasattr(parsers["result_path"], "cache_info")


def test_one_client_per_region_and_service_shared_by_threads():
    speed.apply_patches()
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda _: speed.cached_client_for(region="us-east-1", service="sqs"), range(16)))
    assert all(client is clients[0] for client in clients)
    assert clients[0].meta.config.max_pool_connections == speed.POOL_CONNECTIONS
    assert speed.cached_client_for(region="eu-west-1", service="sqs") is not clients[0]
    assert speed.cached_client_for(region="us-east-1", service="batch").meta.service_model.service_name == "batch"


def test_parsed_paths_are_shared_and_still_find_each_input():
    from moto.stepfunctions.parser.asl.utils.json_path import extract_json

    speed.apply_patches()
    assert speed.is_applied()
    assert extract_json("$.payload.items[1]", {"payload": {"items": [1, 2]}}) == 2
    assert extract_json("$.payload.items[1]", {"payload": {"items": [3, 4]}}) == 4
    assert speed.cached_ext_parse("$.a.b") is speed.cached_ext_parse("$.a.b")
