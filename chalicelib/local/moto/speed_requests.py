"""Speed fixes to moto 5.2.5's per-request path, applied inside the moto server process.

Owns five narrow patches, found with py-spy (`--gil`) on the moto server while a
50-way foreach ran on the worker backend (issue 17; the numbers are shares of
moto's CPU in that run). Each answers exactly what stock moto answers.
(5) SQS's retention check per received message. `receive_message` checks every
message it hands out with `is_message_valid_based_on_retention_period`
(sqs/models.py:1279), which asks `get_queue_attributes` for one value: that
builds the queue's whole `attributes` dict three times, and each build counts
the queue's messages (ApproximateNumberOfMessages, ...NotVisible, ...Delayed),
so one receive cost O(messages) per message returned (~5 %: the worker queue
holds a whole foreach's tasks). Here the one attribute is read directly.
(6) The action's method list per request. `BaseResponse.call_action`
(core/responses.py:451) runs `inspect.getmembers` over the response class on
every request to see whether the action is one of its methods (~2.6 %). The
class's functions do not change while the server serves (every patch is
applied before it starts), so the set of names is made once per class.
(7) The backend for a Host, per request. `DomainDispatcherApplication.
get_backend_for_host` (moto_server/werkzeug_app.py:120-131) tries each of
moto's ~200 backend URL regexes in turn for every request (~3.9 %). The
answer is a pure function of the host string and the fixed pattern list, so it
is kept per host (a handful: one per service and region called).
(8) Flask's debug-mode helper. moto runs its Flask apps with `debug = True`,
so Flask's `Request._load_form_data` (flask/wrappers.py:200-210) defines a new
subclass of `request.files` on every request that is not multipart, only to
word a KeyError differently when a view reads a missing form file (~2.2 %).
moto's views never do; here the helper leaves `request.files` as it is.
(9) SQS's visible messages, per look. `Queue.messages` (sqs/models.py:547-554)
reads the clock twice per message it considers (`Message.visible`,
`Message.delayed`, each through `datetime.utcnow`) and receive_message and a
long poll's wake-ups ask for it again and again: ~4 % of moto's CPU, O(messages
in flight) each time. Here the clock is read once per look; a message is
visible when that instant is past its `visible_at` and not before its
`delayed_until`, the very comparisons of those two properties.
Does not own: what any request does (moto), the Step Functions interpreter's
speed (speed.py), or behaviour fixes (compat.py and its siblings).

Canary tests (tests/functional/test_moto_speed_requests.py) fail once stock moto
(or Flask) changes the patched code, so the patch can be dropped or redone; the
same file checks over HTTP that receives, unknown actions and every service's
routing still answer as before.
"""

from __future__ import annotations

import threading
from typing import Any

import flask.debughelpers as flask_debughelpers
import moto.core.responses as core_responses
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.sqs.models import Message, Queue, SQSBackend

_STOCK_MESSAGES = Queue.messages
_STOCK_VISIBLE = Message.visible
_STOCK_DELAYED = Message.delayed
_STOCK_RETENTION = SQSBackend.is_message_valid_based_on_retention_period
_STOCK_METHOD_NAMES = core_responses.method_names_from_class
_STOCK_BACKEND_FOR_HOST = DomainDispatcherApplication.get_backend_for_host
_STOCK_ENCTYPE_HELPER = flask_debughelpers.attach_enctype_error_multidict
_LOCK = threading.Lock()
HOSTS_KEPT = 1024  # distinct Host values remembered per dispatcher (a few per service and region in use)


# --- (5) SQS retention ---------------------------------------------------------------------------

def retention_check(self: SQSBackend, queue_name: str, message: Any) -> bool:
    """is_message_valid_based_on_retention_period, reading the one attribute instead of all of them."""
    from moto.core.utils import unix_time

    queue = self.get_queue(queue_name)
    retention_period = queue.message_retention_period  # what `attributes["MessageRetentionPeriod"]` holds
    if retention_period is None:  # stock: the attribute is left out, and the lookup fails the same way
        raise KeyError("MessageRetentionPeriod")
    return retention_period + message.sent_timestamp / 1000 > unix_time()


def stock_retention_check() -> Any:
    """moto's own SQSBackend.is_message_valid_based_on_retention_period."""
    return _STOCK_RETENTION


# --- (9) visible messages ------------------------------------------------------------------------

def visible_messages(self: Queue) -> list[Any]:
    """Queue.messages with one clock reading for the whole look (Message.visible and .delayed read it per message)."""
    from moto.core.utils import unix_time_millis

    now = unix_time_millis()
    return [message for message in self._messages if now > message.visible_at and not now < message.delayed_until]


def stock_messages() -> tuple[Any, Any, Any]:
    """moto's own Queue.messages, Message.visible and Message.delayed (properties)."""
    return _STOCK_MESSAGES, _STOCK_VISIBLE, _STOCK_DELAYED


_VISIBLE_MESSAGES = property(visible_messages, doc="The queue's messages visible now (speed_requests.py (9)).")


# --- (6) method names per class ----------------------------------------------------------------

_METHOD_NAMES: dict[type, frozenset[str]] = {}


def method_names_once(clazz: Any) -> frozenset[str]:
    """moto.core.utils.method_names_from_class, once per class (call_action only asks `action in ...`)."""
    names = _METHOD_NAMES.get(clazz)
    if names is None:
        names = frozenset(_STOCK_METHOD_NAMES(clazz))
        with _LOCK:
            _METHOD_NAMES[clazz] = names
    return names


def stock_method_names() -> Any:
    """moto's own method_names_from_class."""
    return _STOCK_METHOD_NAMES


# --- (7) backend per host ----------------------------------------------------------------------

_NOT_FOUND = object()


def backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
    """DomainDispatcherApplication.get_backend_for_host, remembered per host string."""
    if host is None:
        return None
    known: dict[str, Any] | None = self.__dict__.get("_flowdrop_hosts")
    if known is None:
        with _LOCK:
            known = self.__dict__.setdefault("_flowdrop_hosts", {})
    found = known.get(host, _NOT_FOUND)
    if found is _NOT_FOUND:
        found = _STOCK_BACKEND_FOR_HOST(self, host)
        if len(known) < HOSTS_KEPT:
            known[host] = found
    return found


def stock_backend_for_host() -> Any:
    """moto's own DomainDispatcherApplication.get_backend_for_host."""
    return _STOCK_BACKEND_FOR_HOST


# --- (8) Flask's debug helper ------------------------------------------------------------------

def leave_files_alone(request: Any) -> None:
    """In place of flask.debughelpers.attach_enctype_error_multidict: nothing (see (8) above)."""


def stock_enctype_helper() -> Any:
    """Flask's own attach_enctype_error_multidict."""
    return _STOCK_ENCTYPE_HELPER


def is_applied() -> bool:
    """True when this process answers requests through all five patches."""
    return (Queue.messages is _VISIBLE_MESSAGES and SQSBackend.is_message_valid_based_on_retention_period is retention_check
            and core_responses.method_names_from_class is method_names_once
            and DomainDispatcherApplication.get_backend_for_host is backend_for_host
            and flask_debughelpers.attach_enctype_error_multidict is leave_files_alone)


def apply_patches() -> None:
    """Install the five patches; idempotent. Before the server serves its first request."""
    Queue.messages = _VISIBLE_MESSAGES  # type: ignore[assignment, method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = retention_check  # type: ignore[method-assign]
    core_responses.method_names_from_class = method_names_once  # bound by name in responses.py
    DomainDispatcherApplication.get_backend_for_host = backend_for_host  # type: ignore[method-assign]
    flask_debughelpers.attach_enctype_error_multidict = leave_files_alone  # imported at call time
