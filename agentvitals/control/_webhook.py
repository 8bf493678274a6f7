"""The Alertmanager webhook receiver (payload version 4, as sent by Alertmanager 0.25 to 0.34).

``POST /alertmanager`` with ``Authorization: Bearer <shared secret>``. Answers:
200 applied (body lists what each alert did, duplicates included); 400 malformed JSON or payload;
401 missing or wrong secret; 404/405 other paths or methods; 413 body over 1 MiB; 415 not JSON;
422 a well-formed payload none of whose alerts requests a known action. Alertmanager does not
retry 4xx, which is right: resending a malformed payload cannot help. Fields added by newer
Alertmanagers (``notification_reason``, ``routeLabels``) are accepted and ignored.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agentvitals.control._controller import ACTIONS, AlertEvent, Controller

_logger = logging.getLogger("agentvitals.control")

__all__ = ["ControlServer", "PayloadError", "parse_notification"]

MAX_BODY = 1 << 20
PATH = "/alertmanager"


class PayloadError(ValueError):
    """The notification is not a valid Alertmanager v4 payload; the message says why."""


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{where} must be a non-empty string")
    return value


def parse_notification(payload: Any) -> tuple[list[AlertEvent], list[str]]:
    """Validated alert events, and descriptions of alerts that request no known action."""
    if not isinstance(payload, dict):
        raise PayloadError("payload must be a JSON object")
    if payload.get("version") != "4":
        raise PayloadError(f"unsupported payload version {payload.get('version')!r} (expected \"4\")")
    if payload.get("status") not in ("firing", "resolved"):
        raise PayloadError("status must be 'firing' or 'resolved'")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError("alerts must be a non-empty list")
    events, unknown = [], []
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
        starts_at = _text(alert.get("startsAt"), f"{where}.startsAt")
        action = labels.get("action")
        if action not in ACTIONS:
            unknown.append(f"{name} (action={action!r})")
            continue
        events.append(AlertEvent(status, name, action, fingerprint, starts_at, dict(labels)))
    return events, unknown


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        _logger.debug("control webhook: " + format, *args)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        if self.path == "/healthz":
            self._reply(200, {"status": "ok"})
        elif self.path == "/state":
            self._reply(200, self.server.controller.state())
        elif self.path == PATH:
            self._reply(405, {"error": "use POST"})
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        if self.path != PATH:
            self._reply(404, {"error": "not found"})
            return
        supplied = self.headers.get("Authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {self.server.secret}".encode()):
            self._reply(401, {"error": "missing or wrong bearer token"})
            return
        try:
            length = int(self.headers.get("Content-Length") or -1)
        except ValueError:
            length = -1
        if length < 0:
            self._reply(411, {"error": "Content-Length required"})
            return
        if length > MAX_BODY:
            self._reply(413, {"error": f"body over {MAX_BODY} bytes"})
            return
        content_type = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if content_type != "application/json":
            self._reply(415, {"error": "Content-Type must be application/json"})
            return
        body = self.rfile.read(length)
        try:
            events, unknown = parse_notification(json.loads(body))
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError and PayloadError are ValueErrors
            self._reply(400, {"error": f"malformed notification: {exc}"})
            return
        if not events:
            self._reply(422, {"error": "no alert requests a known action", "unknown": unknown,
                              "known_actions": list(ACTIONS)})
            return
        results = [{"alert": e.name, "action": e.action, "status": e.status,
                    "result": self.server.controller.handle(e)} for e in events]
        self._reply(200, {"results": results, "unknown": unknown})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], controller: Controller, secret: str) -> None:
        super().__init__(address, _Handler)
        self.controller = controller
        self.secret = secret


class ControlServer:
    """Serves the webhook on ``host:port`` in a background thread. ``start()``/``stop()``."""

    def __init__(self, controller: Controller, *, secret: str, host: str = "127.0.0.1", port: int = 9000) -> None:
        secret = secret.strip()
        if len(secret) < 16:
            raise ValueError("the control webhook secret must be at least 16 characters")
        self._server = _Server((host, port), controller, secret)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.2,), daemon=True,
                                        name="agentvitals-control")

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PATH}"

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
