"""Fixtures shared by the whole suite.

AWS is a real moto server over HTTP, started once per test session (per
xdist worker); tests make uniquely named resources on it.

Tests live in unit/ (pure parts), functional/ (against moto, Chalice's test
client, subprocesses of one component) and e2e/ (whole flows as a user runs
them); what they share is in the package tests.helpers, imported as
`from tests.helpers.<module> import ...`.
"""

from __future__ import annotations

import uuid

import pytest

from flowdrop.aws import AwsConfig
from flowdrop.local.moto.server import start_moto_server

# The helpers hold asserts (and the tests every datastore backend runs): let pytest explain their failures too.
pytest.register_assert_rewrite("tests.helpers")


@pytest.fixture(scope="session")
def moto_server():
    server = start_moto_server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def aws(moto_server) -> AwsConfig:
    """An AwsConfig pointing at the session's moto server."""
    return AwsConfig(endpoint_url=moto_server.endpoint_url)


@pytest.fixture
def unique_name() -> str:
    """A short name no other test uses, for buckets, queues and state machines."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture(autouse=True)
def _client_state_per_test():
    """The client API's process-wide choices (datastore, namespace, production) as each test found them:
    a test that switches namespace (as a user's script may) must not decide what the next test sees."""
    from flowdrop.client import reading

    saved = dict(reading._state)
    yield
    reading._state.clear()
    reading._state.update(saved)
