"""Event(name).publish(payload): publish a flowdrop event from anywhere, as Metaflow's ArgoEvent does.

Owns: the small publishing class flow code and scripts use; it goes through
the deployer's API (POST /events) with the client config, so it needs no
AWS rights of its own. Does not own: the API (deployer/events.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from flowdrop.errors import FlowdropError


class Event:
    """A named event with a payload; publish() puts it on the flowdrop bus, starting every flow that waits for it."""

    def __init__(self, name: str | Callable[[], str], payload: Mapping[str, Any] | None = None,
                 config: Any = None):
        if callable(name):
            name = name()
        if not isinstance(name, str):
            raise FlowdropError(f"Event: the name must be a string, got {type(name).__name__}")
        self._name = name
        self._payload = dict(payload or {})
        self._config = config

    def add_to_payload(self, key: str, value: Any) -> Event:
        """Set one payload field (Metaflow turns the value into a string; so does this)."""
        self._payload[key] = str(value)
        return self

    def publish(self, payload: Mapping[str, Any] | None = None, ignore_errors: bool = False) -> str | None:
        """Publish the event now; its id (None when ignore_errors hid a failure)."""
        from flowdrop.cli.api_client import ApiClient
        from flowdrop.config import load_config

        try:
            api = ApiClient.from_config(self._config or load_config())
            return str(api.publish_event(self._name, {**self._payload, **dict(payload or {})})["id"])
        except Exception as err:  # noqa: BLE001 - the publishing entry point: report, or hide as asked
            if not ignore_errors:
                raise
            print(f"flowdrop event {self._name!r} was not published: {err}", file=sys.stderr)
            return None

    def safe_publish(self, payload: Mapping[str, Any] | None = None, ignore_errors: bool = True) -> str | None:
        """publish() that only prints a failure (Metaflow's safe_publish)."""
        return self.publish(payload, ignore_errors=ignore_errors)
