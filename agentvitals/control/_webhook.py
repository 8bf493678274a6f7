"""The Alertmanager webhook receiver (payload version 4, as sent by Alertmanager 0.25 to 0.34).

HTTP contract
-------------
``POST /alertmanager/<action>`` (``scale_out``, ``degrade`` or ``page``: one Alertmanager receiver per
action, see ``alerts/alertmanager.yml``) applies that action to every alert of the notification. The
generic ``POST /alertmanager`` takes the actions from each alert's ``action`` label, which may list
several, comma-separated (``action="scale_out,degrade"``). Both need
``Authorization: Bearer <shared secret>``. Answers:
200 applied (body lists what each alert did: applied, duplicate, stale or ignored); 400 malformed
JSON, JSON nested deeper than ``MAX_DEPTH``, not UTF-8, or a malformed payload or HTTP request;
401 missing or wrong secret; 404 other paths; 405 other methods; 408 body not received within the
timeout; 411 no Content-Length; 413 body over ``max_body`` (1 MiB); 415 not JSON; 422 a well-formed
payload none of whose alerts requests a known action; 503 the controller did not answer in time
(Alertmanager retries 5xx; the retry is then a duplicate). Alertmanager does not retry 4xx, which is
right: resending a malformed payload cannot help. Fields added by newer Alertmanagers
(``notification_reason``, ``routeLabels``) are accepted and ignored.

``GET /state`` (the controller's counts) needs the secret too; ``GET /healthz`` is the only open endpoint.

The server: aiohttp
-------------------
Candidates were ``http.server`` (what this was: a thread per connection, no timeouts), uvicorn on
h11/httptools, hypercorn, waitress and aiohttp. aiohttp (>= 3.14.4, already the demo's server) is
the one that closes a connection whose request headers have not all arrived within
``keepalive_timeout`` of the connection opening or of the previous response, however slowly they
trickle in; uvicorn arms its keep-alive timer only after a first response and disarms it on any
byte, so a slowloris client is never closed; waitress and hypercorn time out inactivity, which a
byte every few seconds defeats. So:

* enforced by aiohttp: the header deadline and the idle keep-alive timeout (both ``timeout_s``),
  header line/field/count limits (400/431), malformed HTTP answered 400, body size
  (``client_max_size``, 413), one event loop instead of a thread per connection, listen backlog;
* added here: a deadline on the body (``timeout_s`` after the headers, else 408 and close: aiohttp
  waits as long as the client keeps the socket open), at most ``max_connections`` connections (an
  accept loop that stops accepting when all are in use, so further clients wait in the kernel's
  listen queue of ``backlog`` instead of being refused), at most ``workers`` threads running the
  controller (its router and scaler hooks may block) with ``handler_timeout_s`` for each call
  (else 503), the JSON nesting depth (checked before decoding, so no RecursionError), the secret
  and the status codes above.

The kernel caps ``backlog`` at ``net.core.somaxconn`` (4096 on current Linux, 128 before 5.4).
aiohttp is imported only when a :class:`ControlServer` is built: the controller, the payload parser
and ``agentvitals`` itself do not need it (``pip install 'agentvitals[control]'``).
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentvitals.control._controller import ACTIONS, AlertEvent, Controller, timestamp_ns

if TYPE_CHECKING:
    from agentvitals.control._serving import WebhookServer

__all__ = ["ACTION_PATHS", "MAX_DEPTH", "PATH", "ControlServer", "PayloadError", "ServerLimits",
           "decode_notification", "parse_notification", "requested_actions"]

MAX_BODY = 1 << 20
MAX_DEPTH = 32
"""Deepest JSON nesting accepted; an Alertmanager payload is 4 deep (object, alerts, alert, labels)."""
PATH = "/alertmanager"
ACTION_PATHS = {f"{PATH}/{action}": action for action in ACTIONS}
"""One path per action: the receiver an alert was routed to says what to do, whatever its labels."""
_ZERO_TIME = "0001-01-01T00:00:00Z"
_JSON_STRUCTURE = re.compile(r'[\[\]{}"\\]')


class PayloadError(ValueError):
    """The notification is not a valid Alertmanager v4 payload; the message says why."""


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{where} must be a non-empty string")
    return value


def _timestamp(value: Any, where: str) -> str:
    text = _text(value, where)
    try:
        timestamp_ns(text)
    except ValueError as exc:
        raise PayloadError(f"{where}: {exc}") from None
    return text


def requested_actions(label: str | None) -> list[str]:
    """The actions an ``action`` label lists (comma-separated, e.g. ``scale_out,degrade``), in order, once each."""
    if not label:
        return []
    return list(dict.fromkeys(part.strip() for part in label.split(",") if part.strip()))


def parse_notification(payload: Any, action: str | None = None) -> tuple[list[AlertEvent], list[str]]:
    """Validated alert events, and descriptions of alerts that request no known action.

    With ``action`` (a receiver's path), every alert is one event of that action; without, one event per
    known action its ``action`` label lists."""
    if action is not None and action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if not isinstance(payload, dict):
        raise PayloadError("payload must be a JSON object")
    if payload.get("version") != "4":
        raise PayloadError(f"unsupported payload version {payload.get('version')!r} (expected \"4\")")
    if payload.get("status") not in ("firing", "resolved"):
        raise PayloadError("status must be 'firing' or 'resolved'")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError("alerts must be a non-empty list")
    events: list[AlertEvent] = []
    unknown: list[str] = []
    for index, alert in enumerate(alerts):
        where = f"alerts[{index}]"
        if not isinstance(alert, dict):
            raise PayloadError(f"{where} must be an object")
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            raise PayloadError(f"{where}.status must be 'firing' or 'resolved'")
        labels = alert.get("labels")
        if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in labels.items()):
            raise PayloadError(f"{where}.labels must be an object of strings")
        name = _text(labels.get("alertname"), f"{where}.labels.alertname")
        fingerprint = _text(alert.get("fingerprint"), f"{where}.fingerprint")
        starts_at = _timestamp(alert.get("startsAt"), f"{where}.startsAt")
        # Tolerated when absent; Alertmanager always sends it (Go's zero time while firing).
        ends_at = _timestamp(alert.get("endsAt", _ZERO_TIME), f"{where}.endsAt")
        label = labels.get("action")
        actions = [action] if action is not None else [a for a in requested_actions(label) if a in ACTIONS]
        if not actions:
            unknown.append(f"{name} (action={label!r})")
            continue
        events.extend(AlertEvent(status, name, wanted, fingerprint, starts_at, dict(labels), ends_at)
                      for wanted in actions)
    return events, unknown


def _check_depth(text: str, limit: int) -> None:
    """Raise PayloadError when arrays/objects nest deeper than ``limit``: one linear pass, no recursion."""
    depth = 0
    in_string = False
    escaped_at = -1
    for match in _JSON_STRUCTURE.finditer(text):
        char, at = match.group(), match.start()
        if at == escaped_at:
            continue
        if char == "\\":
            escaped_at = at + 1
        elif char == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif char in "[{":
            depth += 1
            if depth > limit:
                raise PayloadError(f"JSON nested deeper than {limit} levels")
        else:
            depth -= 1


def decode_notification(body: bytes, *, max_depth: int = MAX_DEPTH, action: str | None = None
                        ) -> tuple[list[AlertEvent], list[str]]:
    """Parse a webhook body (UTF-8 JSON, RFC 8259) into events; PayloadError says what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    _check_depth(text, max_depth)
    try:
        payload = json.loads(text)
    except RecursionError:  # cannot happen below max_depth; kept so no input can reach the caller as one
        raise PayloadError("JSON nested too deeply") from None
    except ValueError as exc:
        raise PayloadError(f"malformed notification: {exc}") from None
    return parse_notification(payload, action)


def apply_notification(controller: Controller, body: bytes, *, max_depth: int = MAX_DEPTH,
                       action: str | None = None) -> tuple[int, dict[str, Any]]:
    """The status and JSON body answering one ``POST /alertmanager[/<action>]`` whose body was read in full."""
    try:
        events, unknown = decode_notification(body, max_depth=max_depth, action=action)
    except PayloadError as exc:
        message = str(exc)
        return 400, {"error": message if message.startswith("malformed") else f"malformed notification: {message}"}
    if not events:
        return 422, {"error": "no alert requests a known action", "unknown": unknown, "known_actions": list(ACTIONS)}
    results = [{"alert": e.name, "action": e.action, "status": e.status, "result": controller.handle(e)}
               for e in events]
    return 200, {"results": results, "unknown": unknown}


@dataclass(frozen=True)
class ServerLimits:
    """What bounds the webhook server; see the module docstring for who enforces what."""

    timeout_s: float = 10.0
    """Request headers within this of connecting (or of the previous response), the body within this of
    the headers, idle keep-alive connections closed after it."""
    max_connections: int = 512
    backlog: int = 1024
    max_body: int = MAX_BODY
    max_depth: int = MAX_DEPTH
    workers: int = 4
    handler_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if min(self.timeout_s, self.handler_timeout_s) <= 0 or min(
                self.max_connections, self.backlog, self.max_body, self.max_depth, self.workers) < 1:
            raise ValueError("server limits must be positive")


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    listener = socket.create_server((host, port), family=family, backlog=backlog)
    listener.setblocking(False)
    return listener


class ControlServer:
    """Serves the webhook on ``host:port`` in a background thread. ``start()``/``stop()``.

    The port is bound here, so ``url`` is known (``port=0`` picks a free one) and a taken port fails
    at once. Keyword arguments after ``port`` override :class:`ServerLimits`.
    """

    def __init__(self, controller: Controller, *, secret: str, host: str = "127.0.0.1", port: int = 9000,
                 **limits: Any) -> None:
        secret = secret.strip()
        if len(secret) < 16:
            raise ValueError("the control webhook secret must be at least 16 characters")
        settings = ServerLimits(**limits)
        try:
            from agentvitals.control._serving import WebhookServer
        except ImportError as exc:
            raise ImportError("the control webhook server needs aiohttp >= 3.14.4: "
                              "pip install 'agentvitals[control]'") from exc
        listener = _listen(host, port, settings.backlog)
        self._address: tuple[str, int] = listener.getsockname()[:2]
        self._server: WebhookServer = WebhookServer(listener, controller, secret, settings)

    @property
    def url(self) -> str:
        host, port = self._address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}{PATH}"

    def start(self) -> ControlServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
